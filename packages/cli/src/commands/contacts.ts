/** `twin contacts ...`: contacts and contact requests, through the running twin's API. */
import type { Contact, ContactRequestRow } from '@twin/twin/client';
import { callApi } from '@twin/twin/client';
import { Command } from 'commander';
import { homeOption, type JsonOptions, jsonOption, print } from '../options.ts';

type O = JsonOptions & { home: string };

/** A subcommand with --home and --json. */
export function sub(name: string, description: string): Command {
  return jsonOption(homeOption(new Command(name).description(description)));
}

const path = (s: string) => encodeURIComponent(s);

export function contactsCommand(): Command {
  const cmd = new Command('contacts').description(
    'contacts and contact requests (talks to the running twin)',
  );
  cmd.addCommand(
    sub('list', 'contacts, with presence').action(async (o: O) => {
      const r = await callApi<{ contacts: Contact[] }>(o.home, 'GET', '/api/contacts');
      print(o, r, () =>
        r.contacts
          .map(
            (c) =>
              `${c.name} (twin ${c.twin}) ${c.online ? 'online' : `offline${c.lastSeen ? `, last seen ${new Date(c.lastSeen).toISOString()}` : ''}`}`,
          )
          .join('\n'),
      );
    }),
  );
  cmd.addCommand(
    sub('requests', 'pending contact requests: received (in) and sent (out)').action(async (o: O) => {
      const r = await callApi<{ requests: ContactRequestRow[] }>(o.home, 'GET', '/api/contacts/requests');
      print(o, r, () =>
        r.requests.map((q) => `${q.direction} ${q.name} (twin ${q.twin}): ${q.message}`).join('\n'),
      );
    }),
  );
  cmd.addCommand(
    sub('add', 'ask a twin (found by name in the phonebook, verified) to become a contact')
      .argument('<name>')
      .option('--message <text>', 'a short message with the request', '')
      .action(async (name: string, o: O & { message: string }) => {
        const r = await callApi<{ name: string; status: string }>(o.home, 'POST', '/api/contacts', {
          name,
          message: o.message,
        });
        print(o, r, () => `${r.name}: ${r.status}`);
      }),
  );
  for (const action of ['accept', 'decline', 'ignore'] as const)
    cmd.addCommand(
      sub(action, `${action} a contact request`)
        .argument('<name-or-id>')
        .action(async (who: string, o: O) => {
          const r = await callApi<{ status: string }>(
            o.home,
            'POST',
            `/api/contacts/requests/${path(who)}/${action}`,
          );
          print(o, r, () => `${who}: ${r.status}`);
        }),
    );
  cmd.addCommand(
    sub('remove', 'remove a contact (it is told)')
      .argument('<name-or-id>')
      .action(async (who: string, o: O) => {
        const r = await callApi<{ status: string }>(o.home, 'DELETE', `/api/contacts/${path(who)}`);
        print(o, r, () => `${who}: ${r.status}`);
      }),
  );
  cmd.addCommand(
    sub('block', 'block a twin: its requests and messages are dropped (it is not told)')
      .argument('<name-or-id>')
      .action(async (who: string, o: O) => {
        const r = await callApi<{ status: string }>(o.home, 'POST', `/api/blocked/${path(who)}`);
        print(o, r, () => `${who}: ${r.status}`);
      }),
  );
  cmd.addCommand(
    sub('unblock', 'unblock a twin')
      .argument('<name-or-id>')
      .action(async (who: string, o: O) => {
        const r = await callApi<{ status: string }>(o.home, 'DELETE', `/api/blocked/${path(who)}`);
        print(o, r, () => `${who}: ${r.status}`);
      }),
  );
  cmd.addCommand(
    sub('blocked', 'blocked twins').action(async (o: O) => {
      const r = await callApi<{ blocked: { twin: number; name: string }[] }>(o.home, 'GET', '/api/blocked');
      print(o, r, () => r.blocked.map((b) => `${b.name} (twin ${b.twin})`).join('\n'));
    }),
  );
  return cmd;
}
