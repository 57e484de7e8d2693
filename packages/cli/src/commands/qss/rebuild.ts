/** `twin qss rebuild PATH`: re-codes an object's damaged shards; exits 1 when some remain. */
import { Command } from 'commander';
import { print } from '../../options.ts';
import { type QssOptions, qssOptions, withQss } from './common.ts';

export function rebuildCommand(): Command {
  return qssOptions(
    new Command('rebuild')
      .description('re-code damaged or absent shards onto healthy backends')
      .argument('<path>'),
  )
    .option('--quick', 'find damage by asking the backends instead of fetching every shard')
    .action(async (path: string, o: QssOptions & { quick?: boolean }) => {
      const r = await withQss(o, (q) => q.rebuild(path, { deep: !o.quick }));
      print(o, r, () =>
        r.damaged === 0
          ? `${path}: nothing to rebuild`
          : `${path}: ${r.rebuilt} of ${r.damaged} damaged shards rebuilt${r.remaining ? `, ${r.remaining} still damaged (not enough healthy backends)` : ''}${r.lost.length ? `; ${r.lost.length} block(s) lost` : ''}`,
      );
      if (r.remaining > 0 || r.lost.length > 0) process.exitCode = 1;
    });
}
