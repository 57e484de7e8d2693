import { Command } from 'commander';
import { collect, integer, pairs } from '../../options.ts';
import { type Common, common, type Meta, run } from './shared.ts';

/** `twin bcdb set DATA --collection C [--tag k=v ...] [--acl ID]`: creates an object, prints its id. */
export function setCommand(): Command {
  return common(new Command('set').description('create an object; prints its id').argument('<data>'))
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
}
