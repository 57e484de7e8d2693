/** `twin qss check PATH`: verifies every shard of an object; exits 1 when any is damaged. */
import type { CheckResult } from '@twin/qss';
import { Command } from 'commander';
import { print } from '../../options.ts';
import { type QssOptions, qssOptions, withQss } from './common.ts';

/** Damaged shards shown at most (the JSON lists them all). */
const SHOWN = 20;

function damageText(r: CheckResult): string {
  if (r.ok) return `${r.path}: ok, ${r.blocks} blocks, ${r.shards} shards intact`;
  const lines = [
    `${r.path}: ${r.damaged.length} of ${r.shards} shards damaged in ${r.blocks} blocks${r.lost.length ? `, ${r.lost.length} block(s) LOST` : ' (all blocks recoverable: run rebuild)'}`,
  ];
  for (const d of r.damaged.slice(0, SHOWN))
    lines.push(`  block ${d.block} shard ${d.shard}: ${d.state}  ${d.backend}`);
  if (r.damaged.length > SHOWN) lines.push(`  … ${r.damaged.length - SHOWN} more`);
  return lines.join('\n');
}

export function checkCommand(): Command {
  return qssOptions(
    new Command('check')
      .description('verify every shard of an object (exit 1 when damaged)')
      .argument('<path>'),
  )
    .option('--quick', 'ask the backends to verify their copies instead of fetching every shard')
    .action(async (path: string, o: QssOptions & { quick?: boolean }) => {
      const r = await withQss(o, (q) => q.check(path, { deep: !o.quick }));
      print(o, r, () => damageText(r));
      if (!r.ok) process.exitCode = 1;
    });
}
