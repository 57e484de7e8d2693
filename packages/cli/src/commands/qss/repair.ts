/**
 * `twin qss repair`: one sweep over every object (exits 1 when an object could not be repaired),
 * or with --watch a sweep every interval until SIGINT/SIGTERM, one report per sweep.
 */
import type { RepairReport } from '@twin/qss';
import { Command } from 'commander';
import { print } from '../../options.ts';
import { count, type QssOptions, qssOptions, when, withQss } from './common.ts';

const repairText = (r: RepairReport) =>
  [
    `objects ${r.objects}  degraded ${r.degraded}  rebuilt ${r.rebuilt}  failed ${r.failed}  (shards written ${r.shards}, metadata copies ${r.metadataCopied})`,
    ...r.errors.map((e) => `  ${e.path}: ${e.error}`),
  ].join('\n');

export function repairCommand(): Command {
  return qssOptions(new Command('repair').description('sweep every object and rebuild what is damaged'))
    .option('--watch', 'keep sweeping (every repair.intervalSeconds of the config, or --interval)')
    .option('--interval <seconds>', 'seconds between sweeps with --watch', count)
    .option('--deep', 'fetch and verify every shard (default: the backends verify their own copies)')
    .action(async (o: QssOptions & { watch?: boolean; interval?: number; deep?: boolean }) => {
      await withQss(o, async (q) => {
        if (!o.watch) {
          const r = await q.repair({ deep: o.deep });
          print(o, r, () => repairText(r));
          if (r.failed > 0) process.exitCode = 1;
          return;
        }
        const show = (r: RepairReport) =>
          print(o, { time: Date.now(), ...r }, () => `${when(Date.now())}  ${repairText(r)}`);
        const stop = new AbortController();
        const quit = () => stop.abort();
        process.once('SIGINT', quit);
        process.once('SIGTERM', quit);
        const interval = (o.interval ?? q.config.repair.intervalSeconds) * 1000;
        await q.watch(interval, show, stop.signal, { deep: o.deep });
      });
    });
}
