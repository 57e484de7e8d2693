/**
 * bench/zdb: redis-benchmark against our zdb and, in the same run, against redis-server with
 * AOF (appendfsync everysec). 50 clients; SET and GET; 100-byte and 4 KiB values; pipeline 1
 * and 16. Also reports RSS per stored key for 1,000,000 user-mode keys.
 *
 *   node --import tsx bench/zdb/run.ts [--json] [--quick]
 *
 * Needs Debian's redis-tools (redis-benchmark) and redis-server.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZdbClient } from '../../packages/zdb/src/index.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(`${s}\n`);

for (const tool of ['redis-benchmark', 'redis-server']) {
  if (spawnSync(tool, ['--version']).status !== 0) {
    console.error(`${tool} is missing: apt-get install redis-tools redis-server`);
    process.exit(2);
  }
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
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
  throw new Error(`port ${port} never opened`);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface Server {
  name: string;
  port: number;
  proc: ChildProcess;
  dir: string;
}

async function startZdb(port: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-zdb-'));
  const bin = new URL('../../packages/zdb/bin/zdb.js', import.meta.url).pathname;
  const proc = spawn(
    process.execPath,
    [bin, '--port', String(port), '--data', join(dir, 'data'), '--index', join(dir, 'index')],
    {
      stdio: 'ignore',
    },
  );
  await waitPort(port);
  return { name: 'twin zdb', port, proc, dir };
}

async function startRedis(port: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const proc = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  await waitPort(port);
  return { name: 'redis AOF', port, proc, dir };
}

async function stop(s: Server): Promise<void> {
  s.proc.kill('SIGTERM');
  await new Promise((r) => s.proc.once('exit', r));
  rmSync(s.dir, { recursive: true, force: true });
}

interface Row {
  server: string;
  test: string;
  size: number;
  pipeline: number;
  opsPerSec: number;
  p50ms: number;
}

function runBenchmark(
  port: number,
  size: number,
  pipeline: number,
): { test: string; rps: number; p50: number }[] {
  const n = quick ? 50_000 : pipeline > 1 ? 1_000_000 : 200_000;
  const out = execFileSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      '50',
      '-n',
      String(n),
      '-d',
      String(size),
      '-P',
      String(pipeline),
      '-r',
      '100000',
      '-t',
      'set,get',
      '--csv',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const rows: { test: string; rps: number; p50: number }[] = [];
  for (const line of out.split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    if (cells[0] === 'SET' || cells[0] === 'GET')
      rows.push({ test: cells[0], rps: Number(cells[1]), p50: Number(cells[5] ?? 0) });
  }
  return rows;
}

async function memoryPerKey(
  port: number,
): Promise<{ keys: number; rssGrowthBytes: number; bytesPerKey: number }> {
  const s = await startZdb(port);
  const keys = quick ? 200_000 : 1_000_000;
  const c = new ZdbClient({ port, timeoutMs: 0 });
  await c.ping();
  const before = rssBytes(s.proc.pid!);
  let next = 0;
  const value = Buffer.alloc(8, 1);
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < keys) {
        const i = next++;
        await c.set(`key:${String(i).padStart(8, '0')}`, value);
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  const after = rssBytes(s.proc.pid!);
  c.close();
  await stop(s);
  return { keys, rssGrowthBytes: after - before, bytesPerKey: Math.round((after - before) / keys) };
}

const rows: Row[] = [];
const configs: [number, number][] = [
  [100, 1],
  [100, 16],
  [4096, 1],
  [4096, 16],
];
for (const [name, start] of [
  ['twin zdb', startZdb],
  ['redis AOF', startRedis],
] as const) {
  const s = await start(name === 'twin zdb' ? 19900 : 19901);
  for (const [size, pipeline] of configs) {
    log(`${name}: SET/GET ${size} B, pipeline ${pipeline} ...`);
    for (const r of runBenchmark(s.port, size, pipeline)) {
      rows.push({ server: name, test: r.test, size, pipeline, opsPerSec: Math.round(r.rps), p50ms: r.p50 });
    }
  }
  await stop(s);
}
log('memory per key ...');
const memory = await memoryPerKey(19902);

const result = {
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  rows,
  memory,
};
if (json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log('\n test  size  pipeline   twin zdb ops/s   redis AOF ops/s   ratio');
  for (const r of rows.filter((x) => x.server === 'twin zdb')) {
    const ref = rows.find(
      (x) => x.server === 'redis AOF' && x.test === r.test && x.size === r.size && x.pipeline === r.pipeline,
    );
    const ratio = ref ? (r.opsPerSec / ref.opsPerSec).toFixed(2) : '-';
    console.log(
      ` ${r.test.padEnd(4)} ${String(r.size).padStart(5)} ${String(r.pipeline).padStart(9)} ${String(r.opsPerSec).padStart(16)} ${String(ref?.opsPerSec ?? '-').padStart(17)} ${ratio.padStart(7)}`,
    );
  }
  console.log(
    `\n memory: ${memory.keys} keys, RSS +${(memory.rssGrowthBytes / 1048576).toFixed(1)} MiB, ${memory.bytesPerKey} bytes/key`,
  );
}
