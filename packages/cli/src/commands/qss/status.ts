/** `twin qss status`: the health of every backend; exits 1 when objects cannot be read. */
import { type QssStatus, worstLoss } from '@twin/qss';
import { Command } from 'commander';
import { print } from '../../options.ts';
import { formatBytes } from '../../progress.ts';
import { type QssOptions, qssOptions, withQss } from './common.ts';

function statusText(s: QssStatus, loss: number): string {
  const row = (b: QssStatus['data'][number]) =>
    `  ${b.reachable ? 'up  ' : 'DOWN'}  ${b.group.padEnd(10)} ${b.backend.padEnd(36)} ${
      b.reachable
        ? `${String(b.entries).padStart(8)} entries  ${formatBytes(b.usedBytes ?? 0).padStart(10)} used  ${formatBytes(b.freeBytes ?? 0).padStart(10)} free  ${(b.latencyMs ?? 0).toFixed(1)} ms`
        : (b.error ?? '')
    }`;
  return [
    `code ${s.k}+${s.m}; survives losing ${s.tolerate.groups} group(s) and ${s.tolerate.backendsPerGroup} backend(s) per other group (up to ${loss} shards of a block)`,
    `writable: ${s.writable ? 'yes' : 'NO'}   readable: ${s.readable ? 'yes' : 'NO'}`,
    'data backends:',
    ...s.data.map(row),
    `metadata backends (quorum ${s.metaQuorum}):`,
    ...s.meta.map(row),
  ].join('\n');
}

export function statusCommand(): Command {
  return qssOptions(new Command('status').description('health of every backend')).action(
    async (o: QssOptions) => {
      await withQss(o, async (q) => {
        const s = await q.status();
        const loss = worstLoss(q.config.k, q.config.m, q.config.groups, q.config.tolerate);
        print(o, s, () => statusText(s, loss));
        if (!s.readable) process.exitCode = 1;
      });
    },
  );
}
