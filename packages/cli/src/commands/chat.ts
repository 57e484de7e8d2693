/** `twin chat ...`: one-to-one chats, through the running twin's API. */
import type { GroupState, Message } from '@twin/twin/client';
import { callApi } from '@twin/twin/client';
import { Command } from 'commander';
import { integer, type JsonOptions, print } from '../options.ts';
import { sub } from './contacts.ts';

type O = JsonOptions & { home: string };

const path = (s: string) => encodeURIComponent(s);

function line(m: Message): string {
  const flags = [m.replyTo ? `reply to ${m.replyTo}` : '', m.edited ? 'edited' : '', m.state]
    .filter(Boolean)
    .join(', ');
  const reactions = Object.entries(m.reactions)
    .map(([e, who]) => `${e}${who.length > 1 ? who.length : ''}`)
    .join(' ');
  const text = m.deleted ? '(deleted)' : m.text;
  return `${new Date(m.sent).toISOString()} ${m.id} twin ${m.author}: ${text} [${flags}]${reactions ? ` ${reactions}` : ''}`;
}

/** `history` of a chat or a group (`/api/<kind>/<id>/messages`): a page of messages, newest first. */
function historyCommand(description: string, argument: string, kind: 'chats' | 'groups'): Command {
  return sub('history', description)
    .argument(argument)
    .option('--limit <n>', 'messages per page', integer(1, 200), 50)
    .option('--before <seq>', 'the page before this position (from the previous page)', integer(1))
    .action(async (id: string, o: O & { limit: number; before?: number }) => {
      const q = new URLSearchParams({
        limit: String(o.limit),
        ...(o.before ? { before: String(o.before) } : {}),
      });
      const r = await callApi<{ messages: Message[]; before: number | null }>(
        o.home,
        'GET',
        `/api/${kind}/${path(id)}/messages?${q}`,
      );
      print(o, r, () =>
        [...r.messages.reverse().map(line), ...(r.before ? [`(more: --before ${r.before})`] : [])].join('\n'),
      );
    });
}

/** `read` of a chat or a group (`/api/<kind>/<id>/read`): marks its messages read. */
function readCommand(description: string, argument: string, kind: 'chats' | 'groups'): Command {
  return sub('read', description)
    .argument(argument)
    .action(async (id: string, o: O) => {
      const r = await callApi<{ read: number }>(o.home, 'POST', `/api/${kind}/${path(id)}/read`);
      print(o, r, () => `${r.read} marked read`);
    });
}

export function chatCommand(): Command {
  const cmd = new Command('chat').description('chats with contacts (talks to the running twin)');
  cmd.addCommand(
    sub('list', 'chats with their unread counts').action(async (o: O) => {
      const r = await callApi<{
        chats: { twin: number; name: string | null; unread: number; last: Message }[];
      }>(o.home, 'GET', '/api/chats');
      print(o, r, () =>
        r.chats.map((c) => `${c.name ?? c.twin}: ${c.unread} unread — ${line(c.last)}`).join('\n'),
      );
    }),
  );
  cmd.addCommand(
    sub('send', 'send a message to a contact')
      .argument('<contact>')
      .argument('<text>')
      .action(async (who: string, text: string, o: O) => {
        const m = await callApi<Message>(o.home, 'POST', `/api/chats/${path(who)}/messages`, { text });
        print(o, m, () => line(m));
      }),
  );
  cmd.addCommand(
    sub('reply', 'reply to a message')
      .argument('<contact>')
      .argument('<message-id>')
      .argument('<text>')
      .action(async (who: string, id: string, text: string, o: O) => {
        const m = await callApi<Message>(o.home, 'POST', `/api/chats/${path(who)}/messages`, {
          text,
          replyTo: id,
        });
        print(o, m, () => line(m));
      }),
  );
  cmd.addCommand(
    sub('edit', 'edit one of your messages')
      .argument('<contact>')
      .argument('<message-id>')
      .argument('<text>')
      .action(async (who: string, id: string, text: string, o: O) => {
        const m = await callApi<Message>(o.home, 'PATCH', `/api/chats/${path(who)}/messages/${path(id)}`, {
          text,
        });
        print(o, m, () => line(m));
      }),
  );
  cmd.addCommand(
    sub('delete', 'delete one of your messages for everyone')
      .argument('<contact>')
      .argument('<message-id>')
      .action(async (who: string, id: string, o: O) => {
        const r = await callApi(o.home, 'DELETE', `/api/chats/${path(who)}/messages/${path(id)}`);
        print(o, r, () => `${id}: deleted`);
      }),
  );
  cmd.addCommand(
    sub('react', 'react to a message with an emoji (--off takes it back)')
      .argument('<contact>')
      .argument('<message-id>')
      .argument('<emoji>')
      .option('--off', 'take the reaction back')
      .action(async (who: string, id: string, emoji: string, o: O & { off?: boolean }) => {
        const m = await callApi<Message>(
          o.home,
          'POST',
          `/api/chats/${path(who)}/messages/${path(id)}/reactions`,
          {
            emoji,
            on: !o.off,
          },
        );
        print(o, m, () => line(m));
      }),
  );
  cmd.addCommand(readCommand('mark a chat read (the contact gets read receipts)', '<contact>', 'chats'));
  cmd.addCommand(historyCommand('messages of a chat, newest first', '<contact>', 'chats'));
  cmd.addCommand(
    sub('search', 'full-text search over your messages')
      .argument('<query>')
      .action(async (query: string, o: O) => {
        const r = await callApi<{ messages: Message[] }>(
          o.home,
          'GET',
          `/api/search?${new URLSearchParams({ q: query })}`,
        );
        print(o, r, () => r.messages.map(line).join('\n'));
      }),
  );
  cmd.addCommand(groupCommand());
  return cmd;
}

const showGroup = (g: GroupState) =>
  `${g.id} "${g.name}" v${g.version}: ${g.members.map((m) => `${m.twin}${m.role === 'admin' ? ' (admin)' : ''}`).join(', ')}`;

/** `twin chat group ...`: group chats (membership held by every member, messages fanned out by their sender). */
function groupCommand(): Command {
  const cmd = new Command('group').description(
    'group chats: create, add, remove, leave, rename, send, history, list',
  );
  cmd.addCommand(
    sub('list', 'groups this twin is in').action(async (o: O) => {
      const r = await callApi<{ groups: GroupState[] }>(o.home, 'GET', '/api/groups');
      print(o, r, () => r.groups.map(showGroup).join('\n'));
    }),
  );
  cmd.addCommand(
    sub('create', 'create a group with contacts (you are its admin)')
      .argument('<name>')
      .argument('<members...>')
      .action(async (name: string, members: string[], o: O) => {
        const g = await callApi<GroupState>(o.home, 'POST', '/api/groups', { name, members });
        print(o, g, () => showGroup(g));
      }),
  );
  cmd.addCommand(
    sub('add', 'add a contact to a group (admins)')
      .argument('<group>')
      .argument('<contact>')
      .option('--admin', 'as an admin')
      .action(async (group: string, who: string, o: O & { admin?: boolean }) => {
        const g = await callApi<GroupState>(o.home, 'POST', `/api/groups/${path(group)}/members`, {
          name: who,
          role: o.admin ? 'admin' : 'member',
        });
        print(o, g, () => showGroup(g));
      }),
  );
  cmd.addCommand(
    sub('remove', 'remove a member (admins); it is sent nothing afterwards')
      .argument('<group>')
      .argument('<member>')
      .action(async (group: string, who: string, o: O) => {
        const g = await callApi<GroupState>(
          o.home,
          'DELETE',
          `/api/groups/${path(group)}/members/${path(who)}`,
        );
        print(o, g, () => showGroup(g));
      }),
  );
  cmd.addCommand(
    sub('rename', 'rename a group (admins)')
      .argument('<group>')
      .argument('<name>')
      .action(async (group: string, name: string, o: O) => {
        const g = await callApi<GroupState>(o.home, 'PATCH', `/api/groups/${path(group)}`, { name });
        print(o, g, () => showGroup(g));
      }),
  );
  cmd.addCommand(
    sub('leave', 'leave a group')
      .argument('<group>')
      .action(async (group: string, o: O) => {
        const r = await callApi(o.home, 'POST', `/api/groups/${path(group)}/leave`);
        print(o, r, () => `${group}: left`);
      }),
  );
  cmd.addCommand(
    sub('send', 'send a message to every member')
      .argument('<group>')
      .argument('<text>')
      .option('--reply-to <message-id>', 'quote another message')
      .action(async (group: string, text: string, o: O & { replyTo?: string }) => {
        const m = await callApi<Message>(o.home, 'POST', `/api/groups/${path(group)}/messages`, {
          text,
          replyTo: o.replyTo ?? null,
        });
        print(o, m, () => line(m));
      }),
  );
  cmd.addCommand(historyCommand("a group's messages, newest first", '<group>', 'groups'));
  cmd.addCommand(readCommand("mark a group's messages read", '<group>', 'groups'));
  return cmd;
}
