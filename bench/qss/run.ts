/**
 * bench/qss: Quantum Safe Storage end to end — one object of random bytes (default 1 GiB) stored
 * with the Qss class, 4+2 over 6 local zdb server processes (3 sites of 2, each a
 * password-protected sequential-mode namespace; 2 more zdb processes hold the sealed metadata
 * in user-mode namespaces), read back, and read back again after one whole site (2 of the 6 data
 * servers) was killed with SIGKILL. In the same run, two references on the same bytes:
 *
 *   - single zdb: one zdb server process, no coding: the object appended as block-size values
 *     (SET with an empty key on a sequential namespace) with ZdbClient, `parallelism` values in
 *     flight, then read back with GET, `parallelism` in flight;
 *   - coder alone: encodeStream / decodeStream (compression decision, AES-256-GCM, RS 4+2,
 *     SHA-256 per shard) on a worker pool of the same size, no I/O.
 *
 * Every read is checked: the SHA-256 of the bytes read back must equal that of the bytes stored,
 * or the bench exits non-zero and reports nothing. The hash is taken as the bytes arrive, so
 * retrieve figures include SHA-256 over the object on the consumer's side (see Sink, and --hold).
 * Servers are spawned as `node packages/zdb/bin/zdb.js` on free ports, data under a temp dir
 * (removed after each phase). Each round runs qss then single zdb; the coder rounds run after all
 * of them (they hold 1.5× the object in memory, and on a VM freshly freed pages are slow to touch
 * again for whatever runs next). Every phase logs its wall time and the CPU seconds of this
 * process (worker threads included) and of the servers to stderr: that is where the time goes.
 *
 *   npm run bench:qss -- [--size MiB] [--json] [--workers N] [--parallelism P] [--rounds R]
 *   node --import tsx bench/qss/run.ts --size 256      # quicker
 *
 * Columns (MB/s = 10^6 bytes of object per second; best / median of R rounds, default 3):
 *   store     qss: Qss.put of the whole object (metadata read, block encode on the worker pool,
 *             shards appended to the 6 servers, sealed metadata written to the 2 metadata
 *             servers); single zdb: the appends; coder: encodeStream
 *   retrieve  qss: Qss.get (metadata read and opened, k shards fetched per block, decoded);
 *             single zdb: the GETs; coder: decodeStream with every shard present
 *   degraded  qss: Qss.get with site 2 killed (2 shards of every block gone, parity shards
 *             fetched instead and the lost data shards rebuilt); coder: decodeStream with 2 data
 *             shards missing per block; single zdb: none
 *
 * Flags: --size MiB (default 1024), --json (result on stdout; progress always on stderr),
 * --workers N (block worker threads, default: available parallelism), --parallelism P (blocks in
 * flight, default 8), --rounds R (default 3), --block MiB (default 4),
 * --hedge-ms N (Qss: ask for parity shards when data shards are slower; default Qss's own),
 * --hold (keep what is read and hash it after the clock stops), --profile-servers DIR (zdb
 * servers run with --cpu-prof into DIR), --only qss|single|coder (one path only, the others
 * reported as 0: for profiling).
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildConfig,
  decodeStream,
  type EncodedBlock,
  encodeStream,
  Qss,
  type ShardDamage,
  WorkerPool,
} from '../../packages/qss/src/index.ts';
import { spawnZdb, ZdbClient } from '../../packages/zdb/src/index.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
};
const text = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const MiB = 1 << 20;
const sizeBytes = Math.round(flag('--size', 1024) * MiB);
const workers = flag('--workers', availableParallelism());
const parallelism = flag('--parallelism', 8);
const rounds = flag('--rounds', 3);
const blockSize = Math.round(flag('--block', 4) * MiB);
const profileDir = text('--profile-servers');
const hold = args.includes('--hold');
const hedgeMs = text('--hedge-ms') === undefined ? undefined : flag('--hedge-ms', 250);
const only = text('--only'); // qss | single | coder: run one path (for profiling); others report 0
const k = 4;
const m = 2;
const ADMIN = 'bench-admin';
const NS = 'qss';
const NS_PASSWORD = 'bench-ns-password';
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------- zdb server processes

interface ServerProc {
  port: number;
  proc: ChildProcess;
}

const running = new Set<ChildProcess>();

/** Spawns a zdb server on a free port (port 0; the port is read from its ready line). */
async function startZdb(root: string): Promise<ServerProc> {
  const { proc, port } = await spawnZdb(
    [
      '--listen',
      '127.0.0.1',
      '--data',
      join(root, 'data'),
      '--index',
      join(root, 'index'),
      '--mode',
      'mix',
      '--admin',
      ADMIN,
    ],
    { nodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [] },
  );
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  return { port, proc };
}

/** A password-protected namespace on a fresh server. */
async function makeNamespace(port: number, mode: 'seq' | 'user'): Promise<void> {
  const admin = new ZdbClient({ port, admin: ADMIN });
  await admin.nsnew(NS);
  await admin.nsset(NS, 'mode', mode);
  await admin.nsset(NS, 'password', NS_PASSWORD);
  await admin.nsset(NS, 'public', '0');
  admin.close();
}

async function stopZdb(s: ServerProc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill(signal);
  await exited;
}

// ---------------------------------------------------------------- data and checks

log(`generating ${sizeBytes / MiB} MiB of random bytes ...`);
const data = Buffer.allocUnsafeSlow(sizeBytes);
for (let pos = 0; pos < sizeBytes; pos += 64 * MiB)
  randomFillSync(data, pos, Math.min(64 * MiB, sizeBytes - pos));
const expected = createHash('sha256').update(data).digest('hex');

/** The object as a stream of 1 MiB views (what a file reader would hand over). */
function* source(): Generator<Uint8Array> {
  for (let pos = 0; pos < sizeBytes; pos += MiB) yield data.subarray(pos, Math.min(pos + MiB, sizeBytes));
}

class WrongResult extends Error {}

/**
 * Takes the bytes read back, in order, and checks them against what was stored: their SHA-256 is
 * taken as they arrive (inside the timed window, as a consumer that checks a download would) and
 * each chunk dropped; or, with --hold, all are kept and hashed after the clock stops. Holding 1 GiB
 * grows the process by 1 GiB of fresh pages, which on a VM costs more than hashing (measured here:
 * ~4 s of system time per GiB on the first touch, vs ~0.5 s of SHA-256).
 */
class Sink {
  private readonly hash = createHash('sha256');
  private readonly held: Uint8Array[] = [];
  private bytes = 0;
  constructor(private readonly what: string) {}

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (hold) this.held.push(chunk);
    else this.hash.update(chunk);
  }

  check(): void {
    for (const c of this.held.splice(0)) this.hash.update(c);
    const got = this.hash.digest('hex');
    if (this.bytes !== sizeBytes || got !== expected)
      throw new WrongResult(
        `${this.what}: read back ${this.bytes} bytes with sha256 ${got}, stored ${sizeBytes} with ${expected}`,
      );
  }
}

/** CPU seconds (user + system) used so far by a child process, from /proc (0 where unavailable). */
function childCpu(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

/** Runs `fn`; returns MB/s of the object, and logs wall time and CPU time of this process and the servers. */
async function timed(what: string, fn: () => Promise<void>): Promise<number> {
  const procs = [...running];
  const serversBefore = procs.map((p) => childCpu(p.pid));
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const servers = procs.reduce((sum, p, i) => sum + Math.max(0, childCpu(p.pid) - serversBefore[i]!), 0);
  log(
    `  ${what.padEnd(22)} ${seconds.toFixed(2)} s wall; cpu: client ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s ` +
      `(sys ${(cpu.system / 1e6).toFixed(2)}), servers ${servers.toFixed(2)} s`,
  );
  return sizeBytes / seconds / 1e6;
}

// ---------------------------------------------------------------- one round

interface RoundFigures {
  qss: { store: number; retrieve: number; degraded: number };
  single: { store: number; retrieve: number };
  coder: { store: number; retrieve: number; degraded: number };
}

async function coderRound(pool: WorkerPool): Promise<RoundFigures['coder']> {
  const key = randomBytes(32);
  const blocks: EncodedBlock[] = [];
  const store = await timed('coder encode', async () => {
    for await (const b of encodeStream(source(), key, { k, m, blockSize, runner: pool, parallelism }))
      blocks.push(b);
  });
  const decode = async (lost: number) => {
    const sink = new Sink(`coder decode (${lost} lost)`);
    const sets = blocks.map((b) => ({
      layout: b,
      shards: b.shards.map((s, i) => (i < lost ? undefined : s)),
    }));
    const rate = await timed(`coder decode, ${lost} lost`, async () => {
      for await (const d of decodeStream(sets, key, { k, m, runner: pool, parallelism })) sink.push(d.plain);
    });
    sink.check();
    return rate;
  };
  const retrieve = await decode(0);
  const degraded = await decode(2);
  return { store, retrieve, degraded };
}

async function singleRound(dir: string): Promise<RoundFigures['single']> {
  const server = await startZdb(join(dir, 'single'));
  try {
    await makeNamespace(server.port, 'seq');
    const client = new ZdbClient({
      port: server.port,
      namespace: NS,
      password: NS_PASSWORD,
      timeoutMs: 30_000,
    });
    await client.ping();
    const count = Math.ceil(sizeBytes / blockSize);
    const keys: Buffer[] = new Array(count);
    const inFlight = async (fn: (i: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: parallelism }, async () => {
          while (next < count) await fn(next++);
        }),
      );
    };
    const store = await timed('single zdb SET', () =>
      inFlight(async (i) => {
        keys[i] = await client.append(data.subarray(i * blockSize, Math.min((i + 1) * blockSize, sizeBytes)));
      }),
    );
    const sink = new Sink('single zdb GET');
    // GETs complete out of order: values wait here until the ones before them have gone to the sink.
    const parts: Array<Uint8Array | undefined> = new Array(count);
    let flushed = 0;
    const retrieve = await timed('single zdb GET', () =>
      inFlight(async (i) => {
        const v = await client.get(keys[i]!);
        if (!v) throw new WrongResult(`single zdb: value ${i} missing`);
        parts[i] = v;
        while (flushed < count && parts[flushed]) {
          sink.push(parts[flushed]!);
          parts[flushed++] = undefined;
        }
      }),
    );
    sink.check();
    client.close();
    return { store, retrieve };
  } finally {
    await stopZdb(server);
    rmSync(join(dir, 'single'), { recursive: true, force: true });
  }
}

async function qssRound(dir: string): Promise<RoundFigures['qss']> {
  const started: ServerProc[] = [];
  const sites: ServerProc[][] = [];
  let qss: Qss | undefined;
  try {
    for (let g = 0; g < 3; g++) {
      const site: ServerProc[] = [];
      for (let b = 0; b < 2; b++) site.push(await startZdb(join(dir, 'qss', `site${g}-${b}`)));
      started.push(...site);
      sites.push(site);
      for (const s of site) await makeNamespace(s.port, 'seq');
    }
    const metas: ServerProc[] = [];
    for (let i = 0; i < 2; i++) metas.push(await startZdb(join(dir, 'qss', `meta${i}`)));
    started.push(...metas);
    for (const s of metas) await makeNamespace(s.port, 'user');
    const address = (s: ServerProc) => `127.0.0.1:${s.port}/${NS}`;
    const config = buildConfig({
      k,
      m,
      groups: sites.map((site) => site.map(address)),
      meta: metas.map(address),
      password: NS_PASSWORD,
      blockSize,
    });
    qss = Qss.open(config, { workers, parallelism, ...(hedgeMs !== undefined ? { hedgeMs } : {}) });
    // Warm up this instance's worker pool and connections on a small object.
    await qss.put('/warm-up', [randomBytes(Math.min(sizeBytes, 2 * blockSize))]);
    const q = qss;
    const store = await timed('qss put', async () => {
      await q.put('/bench/object', source());
    });
    const read = async (what: string, damage: ShardDamage[]) => {
      const sink = new Sink(what);
      const rate = await timed(what, async () => {
        const { stream } = await q.get('/bench/object', { onDamage: (d) => damage.push(d) });
        for await (const p of stream) sink.push(p);
      });
      sink.check();
      return rate;
    };
    const intact: ShardDamage[] = [];
    const retrieve = await read('qss retrieve', intact);
    if (intact.length > 0) throw new WrongResult(`qss retrieve: ${intact.length} shards reported damaged`);
    log('  killing site 2 (2 of the 6 data servers) ...');
    for (const s of sites[1]!) await stopZdb(s, 'SIGKILL');
    const lost: ShardDamage[] = [];
    const degraded = await read('qss degraded retrieve', lost);
    if (lost.length === 0) throw new WrongResult('qss degraded retrieve: no shard reported missing');
    return { store, retrieve, degraded };
  } finally {
    await qss?.close();
    for (const s of started) await stopZdb(s);
    // Gone before the next phase: its dirty pages are not written back on that phase's time.
    rmSync(join(dir, 'qss'), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

const pool = new WorkerPool(workers);
const all: RoundFigures[] = [];
let failed = false;
try {
  {
    // Warm up the pool (thread start, JIT) on a few blocks.
    const warm = randomBytes(Math.min(sizeBytes, 4 * blockSize));
    for await (const _ of encodeStream([warm], randomBytes(32), {
      k,
      m,
      blockSize,
      runner: pool,
      parallelism,
    }));
  }
  const skip = (name: string) => only !== undefined && only !== name;
  const io: Array<Pick<RoundFigures, 'qss' | 'single'>> = [];
  for (let r = 1; r <= rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-qss-'));
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    try {
      log(`round ${r}/${rounds}: qss over 6 zdb servers ...`);
      const qss = skip('qss') ? { store: 0, retrieve: 0, degraded: 0 } : await qssRound(dir);
      log(`round ${r}/${rounds}: single zdb ...`);
      const single = skip('single') ? { store: 0, retrieve: 0 } : await singleRound(dir);
      io.push({ qss, single });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // The coder rounds come last: each holds the whole encoded object (1.5× its size) in memory,
  // and on a VM the pages it frees are slow to touch again for whatever runs next (the servers'
  // page cache included), which would charge the I/O rows for the coder's memory.
  for (let r = 1; r <= rounds; r++) {
    log(`round ${r}/${rounds}: coder alone ...`);
    const coder = skip('coder') ? { store: 0, retrieve: 0, degraded: 0 } : await coderRound(pool);
    const { qss, single } = io[r - 1]!;
    const f = (x: number) => x.toFixed(0).padStart(5);
    log(
      `  round ${r}: qss store ${f(qss.store)} retrieve ${f(qss.retrieve)} degraded ${f(qss.degraded)} | single ${f(single.store)} ${f(single.retrieve)} | coder ${f(coder.store)} ${f(coder.retrieve)} ${f(coder.degraded)} MB/s`,
    );
    all.push({ qss, single, coder });
  }
} catch (e) {
  failed = true;
  log(`FAILED: ${(e as Error).message}`);
} finally {
  await pool.close();
  for (const p of running) p.kill('SIGKILL');
}
if (failed) process.exit(1);

const summary = (pick: (r: RoundFigures) => number) => {
  const v = all.map(pick).sort((a, b) => a - b);
  return { best: Math.round(v[v.length - 1]!), median: Math.round(v[Math.floor((v.length - 1) / 2)]!) };
};
const rows = [
  {
    name: 'qss 4+2 over 6 zdb',
    store: summary((r) => r.qss.store),
    retrieve: summary((r) => r.qss.retrieve),
    degraded: summary((r) => r.qss.degraded),
  },
  {
    name: 'single zdb, no coding',
    store: summary((r) => r.single.store),
    retrieve: summary((r) => r.single.retrieve),
    degraded: null,
  },
  {
    name: 'coder alone, no I/O',
    store: summary((r) => r.coder.store),
    retrieve: summary((r) => r.coder.retrieve),
    degraded: summary((r) => r.coder.degraded),
  },
];
const targets = { storeMBs: 300, retrieveMBs: 500 };
if (json) {
  console.log(
    JSON.stringify(
      {
        bench: 'qss',
        machine: { cpus: cpus().length, node: process.version },
        sizeBytes,
        blockSize,
        k,
        m,
        workers,
        parallelism,
        rounds,
        targets,
        rows,
        raw: all,
      },
      null,
      2,
    ),
  );
} else {
  const cell = (s: { best: number; median: number } | null) =>
    (s ? `${s.best} / ${s.median}` : '-').padStart(13);
  console.log(
    `\n ${sizeBytes / MiB} MiB random, ${k}+${m}, ${blockSize / MiB} MiB blocks, ${workers} workers, ${parallelism} blocks in flight; MB/s best / median of ${rounds}`,
  );
  console.log(
    `\n ${'path'.padEnd(24)} ${'store'.padStart(13)} ${'retrieve'.padStart(13)} ${'degraded'.padStart(13)}`,
  );
  for (const r of rows)
    console.log(` ${r.name.padEnd(24)} ${cell(r.store)} ${cell(r.retrieve)} ${cell(r.degraded)}`);
  console.log(`\n targets: store ≥ ${targets.storeMBs}, retrieve ≥ ${targets.retrieveMBs} MB/s`);
}
