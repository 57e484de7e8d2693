import { BcdbError, type BcdbErrorCode, callBcdb } from '@twin/bcdb';
import { controlCall, rebuildStore } from '@twin/twin';
import { Command } from 'commander';
import {
  collect,
  commonOptions,
  homeOption,
  integer,
  jsonOption,
  pairs,
  print,
  type Common as Shared,
} from '../options.ts';
import { ephemeralBus } from './bus.ts';

interface Common extends Shared {
  twin?: string;
}

function common(cmd: Command, remote = false): Command {
  commonOptions(cmd);
  if (remote) cmd.option('--twin <name-or-id>', "another twin's BCDB (where its ACLs allow)");
  return cmd;
}

/** An object, ACL or request id argument. */
const idArg = integer(1);
/** One more twin id of a repeated argument. */
const twinId = (v: string, prev: number[] = []): number[] => [...prev, integer(1)(v)];

/** Runs one bcdb.* command against this twin's running daemon (or a peer with --twin), prints the result. */
async function run(o: Common, command: string, args: unknown, show: (r: unknown) => string): Promise<void> {
  let result: unknown;
  if (o.twin) {
    // another twin: over the bus, as this twin (its ACLs decide)
    const b = await ephemeralBus(o, false);
    try {
      result = await callBcdb<unknown>(b.bus, o.twin, command, args);
    } finally {
      await b.close();
    }
  } else {
    // this twin: through its running process's control socket, as the owner
    const reply = (await controlCall(o.home, command, args)) as {
      ok: boolean;
      result?: unknown;
      error?: { code: BcdbErrorCode; message: string };
    };
    if (!reply.ok) throw new BcdbError(reply.error!.code, reply.error!.message);
    result = reply.result;
  }
  print(o, result, () => show(result));
}

interface Meta {
  id: number;
  collection: string;
  version: number;
  tags: Record<string, string>;
  acl: number;
  updated: number;
}

const line = (m: Meta) =>
  `${String(m.id).padStart(6)}  ${m.collection}  v${m.version}  acl ${m.acl}  ${Object.entries(m.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

export function bcdbCommand(): Command {
  const cmd = new Command('bcdb').description(
    "the twin's own database: objects with tags and ACLs (talks to the running twin)",
  );
  common(cmd.command('set').description('create an object; prints its id').argument('<data>'))
    .requiredOption('--collection <name>', 'collection')
    .option('--tag <key=value>', 'a tag (repeatable)', collect, [])
    .option('--acl <id>', 'ACL id (default: private)', integer(0))
    .action((data: string, o: Common & { collection: string; tag: string[]; acl?: number }) =>
      run(
        o,
        'bcdb.create',
        {
          collection: o.collection,
          data: Buffer.from(data).toString('base64'),
          tags: pairs(o.tag),
          acl: o.acl,
        },
        (r) => String((r as Meta).id),
      ),
    );
  common(cmd.command('get').description('an object and its data').argument('<id>', 'id', idArg), true).action(
    (id: number, o: Common) =>
      run(o, 'bcdb.get', { id }, (r) => {
        const m = r as Meta & { data: string };
        return `${line(m)}\n${Buffer.from(m.data, 'base64').toString()}`;
      }),
  );
  common(cmd.command('find').description('objects of a collection by tags (AND), newest first'), true)
    .requiredOption('--collection <name>', 'collection')
    .option('--tag <key=value>', 'tag equality (repeatable)', collect, [])
    .option('--prefix <key=value>', 'tag value prefix')
    .option('--limit <n>', 'page size', integer(1, 1000), 100)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(
      (
        o: Common & { collection: string; tag: string[]; prefix?: string; limit: number; cursor?: string },
      ) => {
        const prefix = o.prefix
          ? Object.entries(pairs([o.prefix])).map(([key, value]) => ({ key, value }))[0]
          : undefined;
        return run(
          o,
          'bcdb.find',
          { collection: o.collection, tags: pairs(o.tag), prefix, limit: o.limit, cursor: o.cursor },
          (r) => {
            const page = r as { objects: Meta[]; cursor: string | null };
            return [...page.objects.map(line), page.cursor ? `(more: --cursor ${page.cursor})` : '']
              .filter(Boolean)
              .join('\n');
          },
        );
      },
    );
  common(
    cmd.command('update').description("change an object's data and/or tags").argument('<id>', 'id', idArg),
    true,
  )
    .option('--data <data>', 'new data')
    .option('--tag <key=value>', 'replace the tags (repeatable)', collect, [])
    .option('--expected-version <n>', 'refuse unless the object is at this version', integer(1))
    .action((id: number, o: Common & { data?: string; tag: string[]; expectedVersion?: number }) =>
      run(
        o,
        'bcdb.set',
        {
          id,
          data: o.data === undefined ? undefined : Buffer.from(o.data).toString('base64'),
          tags: o.tag.length ? pairs(o.tag) : undefined,
          expectedVersion: o.expectedVersion,
        },
        (r) => line(r as Meta),
      ),
    );
  common(cmd.command('delete').argument('<id>', 'id', idArg), true).action((id: number, o: Common) =>
    run(o, 'bcdb.delete', { id }, () => 'deleted'),
  );
  const acl = cmd.command('acl').description('access control lists');
  common(acl.command('create').description('a new ACL; prints its id'))
    .option('--grant <twin=perms>', 'e.g. 12=rw (repeatable)', collect, [])
    .action((o: Common & { grant: string[] }) =>
      run(o, 'bcdb.acl.create', { entries: pairs(o.grant) }, (r) => String((r as { id: number }).id)),
    );
  common(acl.command('get').argument('<id>', 'id', idArg)).action((id: number, o: Common) =>
    run(o, 'bcdb.acl.get', { id }, (r) => JSON.stringify(r)),
  );
  common(acl.command('list')).action((o: Common) =>
    run(o, 'bcdb.acl.list', {}, (r) => (r as unknown[]).map((x) => JSON.stringify(x)).join('\n')),
  );
  common(acl.command('grant').argument('<id>', 'id', idArg).argument('<twins...>', 'twin ids', twinId))
    .requiredOption('--perms <rwd>', 'permissions to add')
    .action((id: number, twins: number[], o: Common & { perms: string }) =>
      run(o, 'bcdb.acl.grant', { id, twins, perms: o.perms }, (r) => JSON.stringify(r)),
    );
  common(
    acl.command('revoke').argument('<id>', 'id', idArg).argument('<twins...>', 'twin ids', twinId),
  ).action((id: number, twins: number[], o: Common) =>
    run(o, 'bcdb.acl.revoke', { id, twins }, (r) => JSON.stringify(r)),
  );
  common(cmd.command('request').description('ask another twin for access to an object or a collection'))
    .requiredOption('--twin <name-or-id>', 'the owner')
    .option('--object <id>', 'an object id', integer(1))
    .option('--collection <name>', 'a whole collection')
    .option('--perms <rwd>', 'permissions asked for', 'r')
    .option('--reason <text>', 'why', '')
    .action((o: Common & { object?: number; collection?: string; perms: string; reason: string }) =>
      run(
        o,
        'bcdb.access.request',
        { object: o.object, collection: o.collection, perms: o.perms, reason: o.reason },
        (r) => `request ${(r as { request: number }).request} pending`,
      ),
    );
  common(cmd.command('requests').description('access requests to this twin'))
    .option('--status <status>', 'pending, approved or declined', 'pending')
    .action((o: Common & { status: string }) =>
      run(o, 'bcdb.requests.list', { status: o.status }, (r) =>
        (r as unknown[]).map((x) => JSON.stringify(x)).join('\n'),
      ),
    );
  common(cmd.command('approve').argument('<request>', 'request id', idArg)).action((id: number, o: Common) =>
    run(o, 'bcdb.requests.approve', { id }, () => 'approved'),
  );
  common(cmd.command('decline').argument('<request>', 'request id', idArg)).action((id: number, o: Common) =>
    run(o, 'bcdb.requests.decline', { id }, () => 'declined'),
  );
  const rebuild = cmd
    .command('rebuild')
    .description('recreate the SQLite index from 0-db alone (refused while the twin runs)');
  homeOption(rebuild);
  jsonOption(rebuild).action(async (o: { home: string; json?: boolean }) => {
    const r = await rebuildStore(o.home);
    print(o, r, () => `rebuilt the index from ${r.records} 0-db records in ${r.ms} ms`);
  });
  return cmd;
}
