/** `twin qss rm PATH`: deletes an object and its shards. */
import { Command } from 'commander';
import { print } from '../../options.ts';
import { type QssOptions, qssOptions, withQss } from './common.ts';

export function rmCommand(): Command {
  return qssOptions(
    new Command('rm').description('delete an object and its shards').argument('<path>'),
  ).action(async (path: string, o: QssOptions) => {
    await withQss(o, (q) => q.delete(path));
    print(o, { path, deleted: true }, () => `deleted ${path}`);
  });
}
