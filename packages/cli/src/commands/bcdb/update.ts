import { Command } from 'commander';
import { collect, integer, pairs } from '../../options.ts';
import { type Common, common, idArg, line, type Meta, run } from './shared.ts';

/** `twin bcdb update ID [--data D] [--tag k=v ...] [--expected-version N] [--twin T]`. */
export function updateCommand(): Command {
  return common(
    new Command('update').description("change an object's data and/or tags").argument('<id>', 'id', idArg),
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
}
