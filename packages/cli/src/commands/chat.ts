/** `twin chat ...`: one-to-one chats, through the running twin's API. */
import type { Message } from '@twin/twin/client';
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
  cmd.addCommand(
    sub('read', 'mark a chat read (the contact gets read receipts)')
      .argument('<contact>')
      .action(async (who: string, o: O) => {
        const r = await callApi<{ read: number }>(o.home, 'POST', `/api/chats/${path(who)}/read`);
        print(o, r, () => `${r.read} marked read`);
      }),
  );
  cmd.addCommand(
    sub('history', 'messages of a chat, newest first')
      .argument('<contact>')
      .option('--limit <n>', 'messages per page', integer(1, 200), 50)
      .option('--before <seq>', 'the page before this position (from the previous page)', integer(1))
      .action(async (who: string, o: O & { limit: number; before?: number }) => {
        const q = new URLSearchParams({
          limit: String(o.limit),
          ...(o.before ? { before: String(o.before) } : {}),
        });
        const r = await callApi<{ messages: Message[]; before: number | null }>(
          o.home,
          'GET',
          `/api/chats/${path(who)}/messages?${q}`,
        );
        print(o, r, () =>
          [...r.messages.reverse().map(line), ...(r.before ? [`(more: --before ${r.before})`] : [])].join(
            '\n',
          ),
        );
      }),
  );
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
  return cmd;
}
