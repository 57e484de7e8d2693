/**
 * bench/zdb memory: bytes of memory per key held by the engine for N user-mode keys (default
 * 1,000,000; keys `key:00000000`.., 8-byte values), measured in this process after a full GC:
 * the growth of the JS heap plus typed-array memory (heapUsed + external), and of RSS.
 *
 *   node --expose-gc --import tsx bench/zdb/memory.ts [--json] [--quick] [--keys N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEngine } from '../../packages/zdb/src/engine/engine.ts';

const argv = process.argv.slice(2);
const at = argv.indexOf('--keys');
const keys = at >= 0 ? Number(argv[at + 1]) : argv.includes('--quick') ? 200_000 : 1_000_000;
const COMMIT_EVERY = 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage();
}

const dir = mkdtempSync(join(tmpdir(), 'bench-zdb-memory-'));
try {
  const engine = openEngine({
    dataDir: join(dir, 'data'),
    indexDir: join(dir, 'index'),
    mode: 'user',
    datasize: 256 * 1024 * 1024,
    maxsize: 0,
  });
  const ns = engine.namespace('default')!;
  const value = Buffer.alloc(8, 1);
  const before = settle();
  const t0 = performance.now();
  for (let i = 0; i < keys; i++) {
    ns.set(Buffer.from(`key:${String(i).padStart(8, '0')}`, 'latin1'), value);
    if (i % COMMIT_EVERY === COMMIT_EVERY - 1) engine.commit();
  }
  engine.commit();
  const ms = performance.now() - t0;
  const after = settle();
  if (ns.stats().entries !== keys) throw new Error(`expected ${keys} keys, have ${ns.stats().entries}`);
  const held = after.heapUsed + after.external - (before.heapUsed + before.external);
  const rss = after.rss - before.rss;
  const result = {
    keys,
    keyBytes: 12,
    heapBytesPerKey: Math.round((after.heapUsed - before.heapUsed) / keys),
    externalBytesPerKey: Math.round((after.external - before.external) / keys),
    heldBytesPerKey: Math.round(held / keys),
    rssBytesPerKey: Math.round(rss / keys),
    setsPerSecond: Math.round(keys / (ms / 1000)),
  };
  engine.close();
  if (argv.includes('--json')) console.log(JSON.stringify(result));
  else
    console.log(
      `${keys} keys: heap +${result.heapBytesPerKey} B/key, typed arrays +${result.externalBytesPerKey} B/key (held ${result.heldBytesPerKey} B/key), RSS +${result.rssBytesPerKey} B/key; ${result.setsPerSecond} SET/s in process`,
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
