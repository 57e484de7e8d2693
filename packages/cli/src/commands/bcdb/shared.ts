/** What the `twin bcdb` subcommands share: their options, id parsers, how a call runs, how an object prints. */
import { BcdbError, type BcdbErrorCode, callBcdb } from '@twin/bcdb';
import { controlCall } from '@twin/twin/client';
import type { Command } from 'commander';
import { commonOptions, integer, print, type Common as Shared } from '../../options.ts';

export interface Common extends Shared {
  twin?: string;
}

/** The shared options, and `--twin` for subcommands that can reach another twin's BCDB. */
export function common(cmd: Command, remote = false): Command {
  commonOptions(cmd);
  if (remote) cmd.option('--twin <name-or-id>', "another twin's BCDB (where its ACLs allow)");
  return cmd;
}

/** An object, ACL or request id argument. */
export const idArg = integer(1);
/** One more twin id of a repeated argument. */
export const twinId = (v: string, prev: number[] = []): number[] => [...prev, integer(1)(v)];

/** Runs one bcdb.* command against this twin's running daemon (or a peer with --twin), prints the result. */
export async function run(
  o: Common,
  command: string,
  args: unknown,
  show: (r: unknown) => string,
): Promise<void> {
  let result: unknown;
  if (o.twin) {
    // another twin: over the bus, as this twin (its ACLs decide)
    const { ephemeralBus } = await import('../bus.ts'); // libp2p only when another twin is asked
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

/** An object's metadata as the commands print it. */
export interface Meta {
  id: number;
  collection: string;
  version: number;
  tags: Record<string, string>;
  acl: number;
  updated: number;
}

/** One object on one line: id, collection, version, ACL, tags. */
export const line = (m: Meta) =>
  `${String(m.id).padStart(6)}  ${m.collection}  v${m.version}  acl ${m.acl}  ${Object.entries(m.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
