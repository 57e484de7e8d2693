/** `twin qss gc`: deletes shards no object references; exits 1 when a backend could not be swept. */
import { Command } from 'commander';
import { print } from '../../options.ts';
import { formatBytes } from '../../progress.ts';
import { count, type QssOptions, qssOptions, withQss } from './common.ts';

/** Entries younger than this are kept by default: writes in progress (seconds). */
const DEFAULT_GRACE_SECONDS = 3600;

export function gcCommand(): Command {
  return qssOptions(
    new Command('gc').description('delete shards no object references (older than the grace period)'),
  )
    .option(
      '--grace <seconds>',
      'keep entries younger than this (writes in progress)',
      count,
      DEFAULT_GRACE_SECONDS,
    )
    .option('--dry-run', 'count, delete nothing')
    .action(async (o: QssOptions & { grace: number; dryRun?: boolean }) => {
      const r = await withQss(o, (q) => q.collectGarbage({ graceSeconds: o.grace, dryRun: o.dryRun }));
      print(o, r, () =>
        [
          `${r.dryRun ? 'would delete' : 'deleted'} ${r.garbage} unreferenced shard(s), ${formatBytes(r.garbageBytes)}; ` +
            `${r.scanned} entries scanned, ${r.referenced} referenced by ${r.objects} object(s)`,
          ...r.unreachable.map((b) => `  not swept (unreachable): ${b}`),
        ].join('\n'),
      );
      if (r.unreachable.length > 0) process.exitCode = 1;
    });
}
