import { Command } from 'commander';
import { integer } from '../../options.ts';
import { type Common, common, run } from './shared.ts';

/** `twin bcdb request --twin T (--object ID | --collection C) [--perms rwd] [--reason TEXT]`. */
export function requestCommand(): Command {
  return common(
    new Command('request').description('ask another twin for access to an object or a collection'),
  )
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
}
