/**
 * bench/zdb: redis-benchmark against our zdb and, in the same run, against redis-server with AOF
 * (appendfsync everysec). Both servers run for the whole bench; each test runs on one and then
 * the other, in several interleaved rounds (the first server alternates per round), so load from
 * elsewhere on the machine hits both alike. Reports every figure, the spread, and the ratio
 * ours / Redis per round and of the medians, against the targets of issue 11.
 *
 *   npm run bench:zdb -- [--json] [--quick] [--rounds N] [--requests N] [--cpu-prof DIR] [--memory]
 *     [--ours-only] [--tests 100:1,4096:1,100:16,4096:16]
 *
 * 50 clients, `-r 100000`; SET/GET 100 B and 4 KiB unpipelined, SET/GET 100 B and 4 KiB at
 * pipeline 16. `--cpu-prof DIR` runs our server under `node --cpu-prof` (profile written to DIR
 * at the end). `--memory` also runs bench/zdb/memory.ts (bytes per key for 1,000,000 keys).
 * Needs Debian's redis-tools (redis-benchmark); without redis-server ours runs alone, no ratios.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnZdb } from '../../packages/zdb/src/index.ts';

const argv = process.argv.slice(2);
const has = (flag: string) => argv.includes(flag);
function value(flag: string, fallback: string): string {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}
const json = has('--json');
const quick = has('--quick');
const rounds = Number(value('--rounds', quick ? '1' : '3'));
const requests = Number(value('--requests', quick ? '20000' : '100000'));
const cpuProf = value('--cpu-prof', '');
const log = (s: string) => process.stderr.write(`${s}\n`);

const PORT_OURS = 19900;
const PORT_REDIS = 19901;
const CLIENTS = 50;
const KEYSPACE = 100_000;
/** Pipelined tests run this many times more requests (they are that much faster). */
const PIPELINED_FACTOR = 5;
/** Kernel clock ticks per second (USER_HZ), the unit of CPU times in /proc/PID/stat. */
const CLOCK_TICKS = 100;

/** Issue 11's targets: ratio ours / Redis AOF in the same run. */
const TARGETS: Record<string, number> = {
  'SET 100 P1': 1.0,
  'GET 100 P1': 1.0,
  'SET 4096 P1': 1.0,
  'GET 4096 P1': 1.0,
  'SET 100 P16': 0.8,
  'GET 100 P16': 0.6,
};

function installed(tool: string): boolean {
  return spawnSync(tool, ['--version']).status === 0;
}

if (!installed('redis-benchmark')) {
  console.error('redis-benchmark is missing (apt-get install redis-tools): nothing to measure with');
  process.exit(2);
}
const withRedis = !has('--ours-only') && installed('redis-server');
if (!withRedis && !has('--ours-only'))
  log('redis-server is missing (apt-get install redis-server): ours alone, no ratios');

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.error(`port ${port} never opened`);
  process.exit(1);
}

interface Server {
  name: 'ours' | 'redis';
  port: number;
  proc: ChildProcess;
  dir: string;
}

async function startOurs(port: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-zdb-'));
  const prof = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  // --conditions=source: the server runs this tree's sources (through tsx), never a stale dist/.
  const { proc } = await spawnZdb(['--data', join(dir, 'data'), '--index', join(dir, 'index')], {
    port,
    nodeArgs: ['--conditions=source', ...prof],
  });
  return { name: 'ours', port, proc, dir };
}

async function startRedis(port: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  const proc = spawn(
    'redis-server',
    [...args, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
    { stdio: 'ignore' },
  );
  await waitPort(port);
  return { name: 'redis', port, proc, dir };
}

async function stop(s: Server): Promise<void> {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await exited;
  rmSync(s.dir, { recursive: true, force: true });
}

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** One redis-benchmark run of one test: ops/s, and the server's CPU µs per request. */
function benchmark(
  s: Server,
  test: 'SET' | 'GET',
  size: number,
  pipeline: number,
): { rps: number; cpuUs: number } {
  const n = pipeline > 1 ? requests * PIPELINED_FACTOR : requests;
  const args = ['-h', '127.0.0.1', '-p', String(s.port), '-c', String(CLIENTS), '-n', String(n)];
  args.push('-d', String(size), '-P', String(pipeline), '-r', String(KEYSPACE), '-t', test, '--csv');
  const cpu0 = cpuSeconds(s.proc.pid!);
  const out = execFileSync('redis-benchmark', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const cpuUs = ((cpuSeconds(s.proc.pid!) - cpu0) * 1e6) / n;
  for (const line of out.split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    if (cells[0] === test) return { rps: Math.round(Number(cells[1])), cpuUs: Number(cpuUs.toFixed(2)) };
  }
  console.error(`redis-benchmark printed no ${test} figure`);
  process.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : Number(((s[m - 1]! + s[m]!) / 2).toFixed(2));
};

const configs = value('--tests', '100:1,4096:1,100:16,4096:16')
  .split(',')
  .map((t) => t.split(':').map(Number) as [number, number]);
/** test name ("SET 100 P1") → server → ops/s and CPU µs per request, per round. */
interface Figures {
  ours: number[];
  redis: number[];
  oursCpu: number[];
  redisCpu: number[];
}
const figures = new Map<string, Figures>();
const servers = [await startOurs(PORT_OURS), ...(withRedis ? [await startRedis(PORT_REDIS)] : [])];
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? servers : [...servers].reverse();
  for (const [size, pipeline] of configs) {
    // SET first on both: GET then reads what SET wrote.
    for (const test of ['SET', 'GET'] as const) {
      for (const s of order) {
        const load = loadavg()[0]!.toFixed(1);
        log(`round ${round + 1}/${rounds}: ${s.name} ${test} ${size} B, pipeline ${pipeline} (load ${load})`);
        const r = benchmark(s, test, size, pipeline);
        const name = `${test} ${size} P${pipeline}`;
        const f = figures.get(name) ?? { ours: [], redis: [], oursCpu: [], redisCpu: [] };
        f[s.name].push(r.rps);
        f[s.name === 'ours' ? 'oursCpu' : 'redisCpu'].push(r.cpuUs);
        figures.set(name, f);
      }
    }
  }
}
for (const s of servers) await stop(s);

const tests = [...figures.entries()].map(([test, f]) => {
  const ratios = f.redis.length ? f.ours.map((x, i) => Number((x / f.redis[i]!).toFixed(2))) : [];
  const ours = median(f.ours);
  const redis = f.redis.length ? median(f.redis) : null;
  const ratio = redis ? Number((ours / redis).toFixed(2)) : null;
  const target = TARGETS[test] ?? null;
  return {
    test,
    ours: f.ours,
    redis: f.redis,
    ratios,
    median: { ours, redis, ratio },
    spread: {
      ours: [Math.min(...f.ours), Math.max(...f.ours)],
      redis: f.redis.length ? [Math.min(...f.redis), Math.max(...f.redis)] : null,
      ratio: ratios.length ? [Math.min(...ratios), Math.max(...ratios)] : null,
    },
    target,
    met: target !== null && ratio !== null ? ratio >= target : null,
    /** Server CPU µs per request (user + system): steadier than ops/s on a loaded machine. */
    cpuUsPerRequest: {
      ours: f.oursCpu,
      redis: f.redisCpu,
      medianOurs: median(f.oursCpu),
      medianRedis: f.redisCpu.length ? median(f.redisCpu) : null,
    },
  };
});

let memory: unknown = null;
if (has('--memory')) {
  log('memory per key ...');
  const script = new URL('./memory.ts', import.meta.url).pathname;
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, '--json', ...(quick ? ['--quick'] : [])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  memory = JSON.parse(out);
}

const result = {
  machine: { cpus: cpus().length, node: process.version, load: loadavg()[0] },
  clients: CLIENTS,
  keyspace: KEYSPACE,
  rounds,
  requests,
  redis: withRedis ? 'redis-server --appendonly yes --appendfsync everysec' : null,
  tests,
  memory,
};
if (json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const pad = (s: unknown, n: number) => String(s).padStart(n);
  console.log(
    `\n ${'test'.padEnd(12)} ${pad('ours (median)', 14)} ${pad('redis AOF', 10)} ${pad('ratio', 6)} ${pad('target', 7)}   per round: ours / redis = ratio`,
  );
  for (const t of tests) {
    const rows = t.ours.map((x, i) => `${x}/${t.redis[i] ?? '-'}=${t.ratios[i] ?? '-'}`).join('  ');
    const target =
      t.target === null || t.met === null ? '' : `${t.target.toFixed(1)}${t.met ? ' ok' : ' NO'}`;
    console.log(
      ` ${t.test.padEnd(12)} ${pad(t.median.ours, 14)} ${pad(t.median.redis ?? '-', 10)} ${pad(t.median.ratio ?? '-', 6)} ${pad(target, 7)}   ${rows}`,
    );
  }
  if (memory) console.log('\n memory:', JSON.stringify(memory));
}
