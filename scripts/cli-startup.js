#!/usr/bin/env node
// Measures how long the `twin` command takes to start: runs each command line RUNS times
// (after one warm-up run) and prints the median and the spread, hyperfine-style, as JSON lines.
// Usage: node scripts/cli-startup.js [runs] [path/to/twin.js]   (default 10, this checkout's binary)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.argv[2] ?? 10);
const TWIN = process.argv[3] ?? fileURLToPath(new URL('../packages/cli/bin/twin.js', import.meta.url));
const CASES = [['--help'], ['--version']];

function once(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [TWIN, ...args], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) console.error(`twin ${args.join(' ')} exited ${r.status}`);
  return ms;
}

for (const args of CASES) {
  once(args);
  const times = Array.from({ length: RUNS }, () => once(args)).sort((a, b) => a - b);
  const median = (times[(RUNS - 1) >> 1] + times[RUNS >> 1]) / 2;
  console.log(
    JSON.stringify({
      command: `twin ${args.join(' ')}`,
      runs: RUNS,
      medianMs: +median.toFixed(1),
      minMs: +times[0].toFixed(1),
      maxMs: +times[RUNS - 1].toFixed(1),
    }),
  );
}
