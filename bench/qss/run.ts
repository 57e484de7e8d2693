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
 * Columns (MB/s = 10^6 bytes of object per second; best / median / worst of R rounds, default 3):
 *   store     qss: Qss.put of the whole object (metadata read, block encode on the worker pool,
 *             shards appended to the 6 servers, sealed metadata written to the 2 metadata
 *             servers); single zdb: the appends; coder: encodeStream
 *   retrieve  qss: Qss.get (metadata read and opened, k shards fetched per block, decoded);
 *             single zdb: the GETs; coder: decodeStream with every shard present
 *   degraded  qss: Qss.get with site 2 killed (2 shards of every block gone, parity shards
 *             fetched instead and the lost data shards rebuilt); coder: decodeStream with 2 data
 *             shards missing per block; single zdb: none
 *   twin qss put / get: the same three steps through the command, timed from spawn to exit
 *             (`twin qss get` deciphers blocks that need no rebuild on its main thread, which has
 *             nothing else to do, instead of copying them to a worker: WorkerPoolOptions)
 *   qss, intact inline: the library opened that same way (Qss option decodeIntactInline), read
 *             right after the two reads above, for comparison
 *
 * Flags: --size MiB (default 1024), --json (result on stdout; progress always on stderr),
 * --workers N (block worker threads, default: available parallelism), --parallelism P (blocks in
 * flight, default 8), --rounds R (default 3), --block MiB (default 4),
 * --hedge-ms N (Qss: ask for parity shards when data shards are slower; default Qss's own),
 * --hold (keep what is read and hash it after the clock stops), --profile-servers DIR (zdb
 * servers run with --cpu-prof into DIR), --profile-cli DIR (the command runs with --cpu-prof into
 * DIR), --only qss|cli|single|coder[,…] (those paths only, the others reported as 0: for
 * profiling).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EncodedBlock } from '../../packages/qss/src/block.ts';
import { buildConfig, renderConfig } from '../../packages/qss/src/config.ts';
import type { ShardDamage } from '../../packages/qss/src/object.ts';
import { decodeStream, encodeStream } from '../../packages/qss/src/pipeline.ts';
import { Qss } from '../../packages/qss/src/qss.ts';
import { WorkerPool } from '../../packages/qss/src/runner.ts';
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
// qss | cli | single | coder, comma-separated: run those paths only (for profiling); others report 0
const only = text('--only')?.split(',');
const cliProfileDir = text('--profile-cli');
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
/** How long a server may take to start (a loaded machine starts node slowly). */
const ZDB_START_MS = 120_000;

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
    { nodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [], timeoutMs: ZDB_START_MS },
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

/** What a step that ran the twin command reports about it: its CPU seconds and a note. */
interface CommandCost {
  cpu: number;
  note?: string;
}
const isCommandCost = (v: unknown): v is CommandCost =>
  typeof v === 'object' && v !== null && typeof (v as CommandCost).cpu === 'number';

/**
 * Runs `fn`; returns MB/s of the object, and logs wall time and CPU time of this process, of the
 * twin command when `fn` ran one (it returns a CommandCost), and of the servers.
 */
async function timed(what: string, fn: () => Promise<unknown>): Promise<number> {
  const procs = [...running];
  const serversBefore = procs.map((p) => childCpu(p.pid));
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const result = await fn();
  const child = isCommandCost(result) ? result : undefined;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const servers = procs.reduce((sum, p, i) => sum + Math.max(0, childCpu(p.pid) - serversBefore[i]!), 0);
  log(
    `  ${what.padEnd(22)} ${seconds.toFixed(2)} s wall; cpu: client ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s ` +
      `(sys ${(cpu.system / 1e6).toFixed(2)}), ${child ? `twin ${child.cpu.toFixed(2)} s, ` : ''}servers ${servers.toFixed(2)} s` +
      (child?.note ? `; ${child.note}` : ''),
  );
  return sizeBytes / seconds / 1e6;
}

// ---------------------------------------------------------------- the twin command

const TWIN_BIN = fileURLToPath(new URL('../../packages/cli/bin/twin.js', import.meta.url));
const TWIN_DIST = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

/** CPU seconds (user + system) of this process's children that have ended (cutime + cstime). */
function reapedChildrenCpu(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Runs the compiled `twin` command as a user does (`node packages/cli/bin/twin.js ...`, from
 * dist/: the "source" condition is kept out of its environment), stdout into `sink` when given;
 * returns its stdout (when no sink) and the CPU seconds it used. Fails on a non-zero exit.
 */
async function twinCli(args: string[], sink?: Sink): Promise<{ stdout: string; cpu: number }> {
  const nodeOptions = (process.env.NODE_OPTIONS ?? '').replace(/--conditions[= ]source/g, '').trim();
  const nodeArgs = cliProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cliProfileDir] : [];
  const cpuBefore = reapedChildrenCpu();
  const proc = spawn(process.execPath, [...nodeArgs, TWIN_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // A plain 'data' listener, as a lean consumer (sha256sum, a socket) would read: no promise per
  // 64 KiB chunk on this side of the pipe (the machine has two cores, shared with the command).
  let stdout = '';
  proc.stdout.on('data', sink ? (chunk: Buffer) => sink.push(chunk) : (chunk: Buffer) => (stdout += chunk));
  const code = await exited;
  if (code !== 0)
    throw new WrongResult(`twin ${args.slice(0, 2).join(' ')} exited with ${code}: ${stderr.trim()}`);
  return { stdout, cpu: reapedChildrenCpu() - cpuBefore };
}

// ---------------------------------------------------------------- one round

interface RoundFigures {
  qss: { store: number; retrieve: number; degraded: number };
  /** The library opened as the command opens it for get: intact blocks deciphered inline. */
  inline: { retrieve: number; degraded: number };
  cli: { store: number; retrieve: number; degraded: number };
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

/**
 * The library (Qss in this process) and the `twin qss` command side by side on the same servers
 * and the same bytes: each step runs both, the library first in odd rounds and the command first
 * in even ones. The command stores `file` (the object on disk) and streams it back on stdout
 * into a Sink here, as `twin qss get PATH | consumer` does.
 */
async function qssRound(
  dir: string,
  file: string,
  round: number,
): Promise<Pick<RoundFigures, 'qss' | 'inline' | 'cli'>> {
  const started: ServerProc[] = [];
  const sites: ServerProc[][] = [];
  let qss: Qss | undefined;
  let qssInline: Qss | undefined;
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
    const configFile = join(dir, 'qss', 'qss.json');
    writeFileSync(configFile, renderConfig(config), { mode: 0o600 });
    const cliArgs = ['--config', configFile, '--workers', String(workers)];
    const skipLib = skip('qss');
    const skipCli = skip('cli');
    qss = Qss.open(config, { workers, parallelism, ...(hedgeMs !== undefined ? { hedgeMs } : {}) });
    // Warm up this instance's worker pool and connections on a small object.
    await qss.put('/warm-up', [randomBytes(Math.min(sizeBytes, 2 * blockSize))]);
    const q = qss;
    qssInline = Qss.open(config, {
      workers,
      parallelism,
      decodeIntactInline: true,
      ...(hedgeMs !== undefined ? { hedgeMs } : {}),
    });
    await qssInline.stat('/warm-up');
    const qi = qssInline;
    const both = async (
      lib: () => Promise<number>,
      cli: () => Promise<number>,
    ): Promise<[number, number]> => {
      const l = async () => (skipLib ? 0 : lib());
      const c = async () => (skipCli ? 0 : cli());
      if (round % 2 === 1) {
        const a = await l();
        return [a, await c()];
      }
      const b = await c();
      return [await l(), b];
    };
    const [store, cliStore] = await both(
      () =>
        timed('qss put', async () => {
          await q.put('/bench/object', source());
        }),
      () =>
        timed('twin qss put', async () => {
          const r = await twinCli(['qss', 'put', file, '--as', '/bench/cli-object', '--json', ...cliArgs]);
          const own = JSON.parse(r.stdout) as { size: number; seconds: number };
          if (own.size !== sizeBytes) throw new WrongResult(`twin qss put stored ${own.size} bytes`);
          return { cpu: r.cpu, note: `its own clock ${own.seconds.toFixed(2)} s` };
        }),
    );
    const read = async (what: string, damage: ShardDamage[], from = q) => {
      const sink = new Sink(what);
      const rate = await timed(what, async () => {
        const { stream } = await from.get('/bench/object', { onDamage: (d) => damage.push(d) });
        for await (const p of stream) sink.push(p);
      });
      sink.check();
      return rate;
    };
    const readCli = async (what: string) => {
      const sink = new Sink(what);
      const rate = await timed(what, async () => {
        const r = await twinCli(['qss', 'get', '/bench/cli-object', ...cliArgs], sink);
        return { cpu: r.cpu };
      });
      sink.check();
      return rate;
    };
    const intact: ShardDamage[] = [];
    const [retrieve, cliRetrieve] = await both(
      () => read('qss retrieve', intact),
      () => readCli('twin qss get'),
    );
    // Shards a loaded server was slow to send (past the hedge delay) are read around and reported
    // missing, though intact: noted, not failed (the bytes are checked either way).
    if (intact.length > 0) log(`  qss retrieve: ${intact.length} shards read around (slow servers)`);
    const inlineRetrieve = skipLib ? 0 : await read('qss retrieve, intact inline', [], qi);
    log('  killing site 2 (2 of the 6 data servers) ...');
    for (const s of sites[1]!) await stopZdb(s, 'SIGKILL');
    const lost: ShardDamage[] = [];
    const [degraded, cliDegraded] = await both(
      () => read('qss degraded retrieve', lost),
      () => readCli('twin qss get, degraded'),
    );
    if (!skipLib && lost.length === 0)
      throw new WrongResult('qss degraded retrieve: no shard reported missing');
    const inlineDegraded = skipLib ? 0 : await read('qss degraded, intact inline', [], qi);
    return {
      qss: { store, retrieve, degraded },
      inline: { retrieve: inlineRetrieve, degraded: inlineDegraded },
      cli: { store: cliStore, retrieve: cliRetrieve, degraded: cliDegraded },
    };
  } finally {
    await qss?.close();
    await qssInline?.close();
    for (const s of started) await stopZdb(s);
    // Gone before the next phase: its dirty pages are not written back on that phase's time.
    rmSync(join(dir, 'qss'), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

/** True when --only leaves this path out. */
const skip = (name: string) => only !== undefined && !only.includes(name);
if (!skip('cli') && !existsSync(TWIN_DIST)) {
  log('the twin command is not built: run `npm run build` first (the CLI row runs the compiled command)');
  process.exit(1);
}
const pool = new WorkerPool(workers);
const all: RoundFigures[] = [];
const fileDir = mkdtempSync(join(tmpdir(), 'bench-qss-file-'));
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
  // The object as a file, for `twin qss put` (written once: in the page cache, as a file just
  // saved would be).
  const file = join(fileDir, 'object.bin');
  writeFileSync(file, data, { mode: 0o600 });
  const io: Array<Pick<RoundFigures, 'qss' | 'inline' | 'cli' | 'single'>> = [];
  for (let r = 1; r <= rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-qss-'));
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    if (cliProfileDir) mkdirSync(cliProfileDir, { recursive: true });
    try {
      log(`round ${r}/${rounds}: qss over 6 zdb servers, library and twin command ...`);
      const none = { store: 0, retrieve: 0, degraded: 0 };
      const { qss, inline, cli } =
        skip('qss') && skip('cli')
          ? { qss: none, inline: { retrieve: 0, degraded: 0 }, cli: none }
          : await qssRound(dir, file, r);
      log(`round ${r}/${rounds}: single zdb ...`);
      const single = skip('single') ? { store: 0, retrieve: 0 } : await singleRound(dir);
      io.push({ qss, inline, cli, single });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  rmSync(fileDir, { recursive: true, force: true });
  // The coder rounds come last: each holds the whole encoded object (1.5× its size) in memory,
  // and on a VM the pages it frees are slow to touch again for whatever runs next (the servers'
  // page cache included), which would charge the I/O rows for the coder's memory.
  for (let r = 1; r <= rounds; r++) {
    log(`round ${r}/${rounds}: coder alone ...`);
    const coder = skip('coder') ? { store: 0, retrieve: 0, degraded: 0 } : await coderRound(pool);
    const { qss, inline, cli, single } = io[r - 1]!;
    const f = (x: number) => x.toFixed(0).padStart(5);
    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
    log(
      `  round ${r}: qss store ${f(qss.store)} retrieve ${f(qss.retrieve)} degraded ${f(qss.degraded)} | inline ${f(inline.retrieve)} ${f(inline.degraded)} | twin qss ${f(cli.store)} ${f(cli.retrieve)} ${f(cli.degraded)} (${ratio(cli.store, qss.store)}× ${ratio(cli.retrieve, qss.retrieve)}× ${ratio(cli.degraded, qss.degraded)}×) | single ${f(single.store)} ${f(single.retrieve)} | coder ${f(coder.store)} ${f(coder.retrieve)} ${f(coder.degraded)} MB/s`,
    );
    all.push({ qss, inline, cli, single, coder });
  }
} catch (e) {
  failed = true;
  log(`FAILED: ${(e as Error).message}`);
} finally {
  await pool.close();
  for (const p of running) p.kill('SIGKILL');
  rmSync(fileDir, { recursive: true, force: true });
}
if (failed) process.exit(1);

/** Best, median and worst of the rounds (the spread is best − worst). */
const summary = (pick: (r: RoundFigures) => number) => {
  const v = all.map(pick).sort((a, b) => a - b);
  return {
    best: Math.round(v[v.length - 1]!),
    median: Math.round(v[Math.floor((v.length - 1) / 2)]!),
    worst: Math.round(v[0]!),
  };
};
/** The command's figure over the library's, per round (same servers, same bytes, back to back). */
const ratios = (pick: (f: RoundFigures['qss']) => number) =>
  all.map((r) => (pick(r.qss) > 0 ? Number((pick(r.cli) / pick(r.qss)).toFixed(2)) : 0));
const rows = [
  {
    name: 'qss 4+2 over 6 zdb',
    store: summary((r) => r.qss.store),
    retrieve: summary((r) => r.qss.retrieve),
    degraded: summary((r) => r.qss.degraded),
  },
  {
    name: 'qss, intact inline',
    store: null,
    retrieve: summary((r) => r.inline.retrieve),
    degraded: summary((r) => r.inline.degraded),
  },
  {
    name: 'twin qss put / get',
    store: summary((r) => r.cli.store),
    retrieve: summary((r) => r.cli.retrieve),
    degraded: summary((r) => r.cli.degraded),
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
        cliOverLibrary: {
          store: ratios((f) => f.store),
          retrieve: ratios((f) => f.retrieve),
          degraded: ratios((f) => f.degraded),
        },
        raw: all,
      },
      null,
      2,
    ),
  );
} else {
  const cell = (s: { best: number; median: number; worst: number } | null) =>
    (s ? `${s.best} / ${s.median} / ${s.worst}` : '-').padStart(17);
  console.log(
    `\n ${sizeBytes / MiB} MiB random, ${k}+${m}, ${blockSize / MiB} MiB blocks, ${workers} workers, ${parallelism} blocks in flight; MB/s best / median / worst of ${rounds}`,
  );
  console.log(
    `\n ${'path'.padEnd(24)} ${'store'.padStart(17)} ${'retrieve'.padStart(17)} ${'degraded'.padStart(17)}`,
  );
  for (const r of rows)
    console.log(` ${r.name.padEnd(24)} ${cell(r.store)} ${cell(r.retrieve)} ${cell(r.degraded)}`);
  const list = (v: number[]) => v.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `\n twin qss / library, per round: store ${list(ratios((f) => f.store))}; retrieve ${list(ratios((f) => f.retrieve))}; degraded ${list(ratios((f) => f.degraded))}`,
  );
  const overInline = (pick: (f: RoundFigures['inline']) => number) =>
    all.map((r) => (pick(r.inline) > 0 ? pick(r.cli) / pick(r.inline) : 0));
  console.log(
    ` twin qss get / library with intact inline, per round: retrieve ${list(overInline((f) => f.retrieve))}; degraded ${list(overInline((f) => f.degraded))}`,
  );
  console.log(`\n targets: store ≥ ${targets.storeMBs}, retrieve ≥ ${targets.retrieveMBs} MB/s`);
}
