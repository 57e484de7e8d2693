/**
 * bench/zdb profile: where the time of an unpipelined SET and GET goes in our server. Runs the
 * server under `node --cpu-prof`, drives it with redis-benchmark (50 clients, `-r 100000`, one
 * test at a time), and sorts every busy sample by the innermost phase on its stack:
 * read (socket → JS), parse, dispatch, engine, reply (encoding, batching), write (JS → socket),
 * gc, other. Idle samples (waiting in epoll) are left out. Prints µs of server CPU per request.
 *
 *   npm run bench:zdb -- ... is the side-by-side bench; this one is:
 *   node --import tsx bench/zdb/profile.ts [--json] [--requests N] [--size B] [--keep DIR] [--pipeline N]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnZdb } from '../../packages/zdb/src/index.ts';

const argv = process.argv.slice(2);
function value(flag: string, fallback: string): string {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}
const requests = Number(value('--requests', '100000'));
const size = Number(value('--size', '100'));
const keep = value('--keep', '');
const pipeline = value('--pipeline', '1');
const PORT = 19910;

if (spawnSync('redis-benchmark', ['--version']).status !== 0) {
  console.error('redis-benchmark is missing (apt-get install redis-tools): nothing to profile with');
  process.exit(2);
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** Innermost match wins: a function's own file or name decides its phase. */
function phaseOf(n: Node): string | null {
  const f = n.callFrame.functionName;
  const url = n.callFrame.url;
  if (f === '(garbage collector)') return 'gc';
  if (f === '(idle)') return 'idle';
  if (f === 'writeBuffer' || f === 'writev' || f === 'writeLatin1String' || f === 'writeUtf8String')
    return 'write';
  if (url.includes('/resp/parser')) return 'parse';
  if (url.includes('/resp/reply')) return 'reply';
  if (url.includes('/engine/')) return 'engine';
  if (url.includes('/server/commands')) return 'dispatch';
  if (url.includes('/server/server')) {
    if (/^(send|write|release|flush|defer|flushTick|finishBatch)$/.test(f)) return 'write';
    return 'dispatch';
  }
  if (url.includes('stream_base_commons') && f === 'onStreamRead') return 'read';
  if (url.includes('streams/writable') || (url.endsWith('node:net') && /write/i.test(f))) return 'write';
  if (url.includes('streams/readable')) return 'read';
  return null;
}

function summarise(p: Profile): Record<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const phase = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = phase.get(id);
    if (known) return known;
    let result = phaseOf(byId.get(id)!);
    if (result === null) {
      const up = parent.get(id);
      result = up === undefined ? 'other' : resolve(up);
    }
    phase.set(id, result);
    return result;
  };
  const totals: Record<string, number> = {};
  for (let i = 0; i < p.samples.length; i++) {
    const ph = resolve(p.samples[i]!);
    totals[ph] = (totals[ph] ?? 0) + (p.timeDeltas[i] ?? 0);
  }
  return totals;
}

/** Profiles one test (after a warm-up of the same test); µs per request by phase. */
async function profile(test: 'set' | 'get'): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-zdb-prof-'));
  const profDir = keep ? join(keep, test) : join(dir, 'prof');
  // --conditions=source: the server runs this tree's sources (through tsx), never a stale dist/.
  const { proc } = await spawnZdb(['--data', join(dir, 'd'), '--index', join(dir, 'i')], {
    port: PORT,
    nodeArgs: ['--conditions=source', '--cpu-prof', '--cpu-prof-dir', profDir],
  });
  const bench = (t: string, n: number) =>
    spawnSync(
      'redis-benchmark',
      [
        '-p',
        String(PORT),
        '-c',
        '50',
        '-n',
        String(n),
        '-d',
        String(size),
        '-P',
        pipeline,
        '-r',
        '100000',
        '-t',
        t,
        '-q',
      ],
      { stdio: 'ignore' },
    );
  bench('set', requests); // warm-up, and the values GET reads
  const exited = new Promise((r) => proc.once('exit', r));
  // Only the measured run counts: the warm-up is subtracted below.
  const before = Date.now();
  bench(test, requests);
  const ms = Date.now() - before;
  proc.kill('SIGTERM');
  await exited;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
  const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile;
  // Keep the samples of the measured run: the last `ms` of the profile before shutdown.
  let t = 0;
  let from = p.samples.length;
  while (from > 0 && t < ms * 1000) t += p.timeDeltas[--from] ?? 0;
  const tail: Profile = {
    nodes: p.nodes,
    samples: p.samples.slice(from),
    timeDeltas: p.timeDeltas.slice(from),
  };
  const totals = summarise(tail);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  const perRequest: Record<string, number> = { opsPerSec: Math.round(requests / (ms / 1000)) };
  let busy = 0;
  for (const [k, v] of Object.entries(totals)) {
    if (k === 'idle') continue;
    perRequest[k] = Number((v / requests).toFixed(2));
    busy += v;
  }
  perRequest.busy = Number((busy / requests).toFixed(2));
  perRequest.idle = Number(((totals.idle ?? 0) / requests).toFixed(2));
  return perRequest;
}

const result = {
  size,
  requests,
  pipeline: Number(pipeline),
  set: await profile('set'),
  get: await profile('get'),
};
if (argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
else {
  const phases = ['read', 'parse', 'dispatch', 'engine', 'reply', 'write', 'gc', 'other', 'busy', 'idle'];
  console.log(`µs of server time per request, ${size} B values, 50 clients, pipeline ${pipeline}`);
  console.log(`       ${phases.map((p) => p.padStart(8)).join('')}    ops/s`);
  for (const t of ['set', 'get'] as const) {
    const r = result[t];
    console.log(
      `  ${t.toUpperCase().padEnd(4)} ${phases.map((p) => String(r[p] ?? 0).padStart(8)).join('')}  ${r.opsPerSec}`,
    );
  }
}
