/**
 * Scenario tests of Qss against real zdb server processes: 6 data backends in 3 groups of 2
 * (password-protected sequential-mode namespaces) and 3 metadata backends (user-mode
 * namespaces), each a child process of packages/zdb/bin/zdb.js with its own directories. A lost
 * backend is a SIGKILL; a backend coming back is the same process restarted on the same
 * directories and port. The tests share the servers and run in order; each one removes its
 * objects and leaves every server running.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash, type Hash, randomBytes, randomFillSync } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { spawnZdb, ZdbClient } from '@twin/zdb';
import { parseConfig, type QssConfig } from '../src/config.ts';
import { QssError } from '../src/errors.ts';
import { Qss } from '../src/qss.ts';

const ADMIN = 'scenario-admin';
const DATA_NS = 'qss';
const DATA_PASSWORD = 'data-pw';
const META_NS = 'qssmeta';
const META_PASSWORD = 'meta-pw';
const KEY = randomBytes(32).toString('hex');
const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 64 * KiB;

interface Server {
  name: string;
  root: string;
  kind: 'data' | 'meta';
  group: number;
  port: number;
  proc?: ChildProcess;
}

let dir: string;
const dataServers: Server[] = [];
const metaServers: Server[] = [];
const all = () => [...dataServers, ...metaServers];
const running = new Set<ChildProcess>();
// no server outlives this file, however it ends
const killAll = () => {
  for (const p of running) p.kill('SIGKILL');
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (s: Server) => !!s.proc && s.proc.exitCode === null && s.proc.signalCode === null;

/** How long a zdb process may take to start: the machines that run the tests are often loaded. */
const ZDB_START_MS = 120_000;

/** One zdb process on the server's directories; resolves with the port from its ready line. */
async function spawnOn(s: Server): Promise<ChildProcess> {
  const args = ['--listen', '127.0.0.1', '--data', join(s.root, 'data'), '--index', join(s.root, 'index')];
  const { proc, port } = await spawnZdb([...args, '--mode', 'mix', '--admin', ADMIN], {
    port: s.port,
    timeoutMs: ZDB_START_MS,
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  s.port = port;
  return proc;
}

/** Starts (or restarts, on the same port) a server and waits until it answers PING. */
async function start(s: Server): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      s.proc = await spawnOn(s);
      break;
    } catch (e) {
      if (attempt >= 20) throw e; // the port may take a moment to be free again
      await sleep(100);
    }
  }
  const client = new ZdbClient({ port: s.port, timeoutMs: 2000 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.ping();
        return;
      } catch (e) {
        if (attempt >= 50) throw e;
        await sleep(50);
      }
    }
  } finally {
    client.close();
  }
}

/** SIGKILL: the backend is lost without warning. */
async function kill(s: Server): Promise<void> {
  const proc = s.proc;
  if (!proc || !alive(s)) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

/** Restarts every server that is down (each test leaves all of them running). */
async function restoreAll(): Promise<void> {
  await Promise.all(
    all()
      .filter((s) => !alive(s))
      .map(start),
  );
}

async function admin<T>(s: Server, fn: (c: ZdbClient) => Promise<T>): Promise<T> {
  const c = new ZdbClient({ port: s.port, admin: ADMIN, timeoutMs: 2000 });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Live entries in the data namespace of each data server (undefined for a server that is down). */
async function dataEntries(): Promise<Array<number | undefined>> {
  return Promise.all(
    dataServers.map((s) =>
      alive(s) ? admin(s, async (c) => (await c.nsinfo(DATA_NS)).entries) : Promise.resolve(undefined),
    ),
  );
}

const total = (list: Array<number | undefined>) => list.reduce<number>((a, b) => a + (b ?? 0), 0);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qss-scenarios-'));
  for (let g = 0; g < 3; g++)
    for (let b = 0; b < 2; b++)
      dataServers.push({
        name: `data-${g}${b}`,
        root: join(dir, `data-${g}${b}`),
        kind: 'data',
        group: g,
        port: 0,
      });
  for (let i = 0; i < 3; i++)
    metaServers.push({ name: `meta-${i}`, root: join(dir, `meta-${i}`), kind: 'meta', group: -1, port: 0 });
  await Promise.all(all().map(start));
  await Promise.all(
    all().map((s) =>
      admin(s, async (c) => {
        const [ns, mode, password] =
          s.kind === 'data' ? [DATA_NS, 'seq', DATA_PASSWORD] : [META_NS, 'user', META_PASSWORD];
        await c.nsnew(ns);
        await c.nsset(ns, 'mode', mode);
        await c.nsset(ns, 'password', password);
        await c.nsset(ns, 'public', '0');
      }),
    ),
  );
});

after(async () => {
  await Promise.all(all().map(kill));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The configuration as a user would write it, over the servers' ports. */
function config(fields: Record<string, unknown> = {}): QssConfig {
  return parseConfig(
    JSON.stringify({
      dataShards: 4,
      parityShards: 2,
      margin: 1,
      blockSize: '64KiB',
      compression: 'auto',
      tolerate: { groups: 1 },
      key: KEY,
      password: DATA_PASSWORD,
      groups: [0, 1, 2].map((g) => ({
        name: `site-${g}`,
        backends: dataServers.filter((s) => s.group === g).map((s) => `127.0.0.1:${s.port}/${DATA_NS}`),
      })),
      meta: {
        backends: metaServers.map((s) => ({
          address: `127.0.0.1:${s.port}/${META_NS}`,
          password: META_PASSWORD,
        })),
      },
      ...fields,
    }),
  );
}

/**
 * A Qss for one test. When the test ends, pass or fail, every server is running again, the
 * objects under `prefix` are gone (so later repair sweeps see only their own) and it is closed.
 */
function open(
  t: { after: (fn: () => Promise<void>) => void },
  prefix: string,
  fields?: Record<string, unknown>,
): Qss {
  const qss = new Qss(config(fields), { timeoutMs: 2000 });
  t.after(async () => {
    try {
      await restoreAll();
      await qss.refresh(true);
      for (const o of await qss.list(prefix)) await qss.delete(o.path);
    } finally {
      await qss.close();
    }
  });
  return qss;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readBack(qss: Qss, path: string): Promise<{ sha: string; size: number }> {
  const { stream } = await qss.get(path);
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha: h.digest('hex'), size };
}

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof QssError, `expected a QssError ${c}, got ${String(e)}`);
  assert.equal(e.code, c, e.message);
  return true;
};

const filesUnder = (path: string): string[] =>
  readdirSync(path).flatMap((f) => {
    const p = join(path, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });

const serverOf = (backend: string) => {
  const s = all().find((x) => backend === `zdb://127.0.0.1:${x.port}/${DATA_NS}`);
  assert.ok(s, `no server for ${backend}`);
  return s;
};

/** Pseudo-random bytes as a stream of 1 MiB chunks, hashed on the way out. */
async function* pseudoRandom(size: number, hash: Hash): AsyncGenerator<Uint8Array> {
  const chunk = Buffer.allocUnsafe(MiB);
  for (let pos = 0; pos < size; pos += MiB) {
    const part = chunk.subarray(0, Math.min(MiB, size - pos));
    randomFillSync(part);
    hash.update(part);
    yield part; // the pipeline copies it into its block before asking for the next
  }
}

// ---------------------------------------------------------------- 1. round trips

test('round trip of edge sizes: list, stat, overwrite drops the old shards, delete', async (t) => {
  const qss = open(t, 's1/');
  await qss.refresh(true); // every namespace holds its epoch marker from here on
  const baseline = total(await dataEntries());
  const sizes: Record<string, number> = {
    empty: 0,
    tiny: 1,
    'one-block': BLOCK,
    'block-plus-one': BLOCK + 1,
    'three-blocks': 3 * BLOCK,
  };
  const sums = new Map<string, string>();
  for (const [name, size] of Object.entries(sizes)) {
    const data = randomBytes(size);
    const path = `s1/${name}`;
    const info = await qss.put(path, [data]);
    assert.equal(info.size, size, path);
    assert.equal(info.blocks, Math.ceil(size / BLOCK), path);
    assert.equal(info.absentShards, 0, path);
    assert.equal(info.generation, 1);
    assert.deepEqual(await readBack(qss, path), { sha: sha(data), size }, path);
    sums.set(path, sha(data));
  }
  const shardCount = Object.values(sizes).reduce((a, s) => a + Math.ceil(s / BLOCK) * 6, 0);
  assert.equal(total(await dataEntries()), baseline + shardCount, 'k+m shards per block on the backends');

  const listed = await qss.list('s1/');
  assert.deepEqual(
    listed.map((i) => [i.path, i.size]),
    Object.entries(sizes)
      .map(([name, size]) => [`s1/${name}`, size])
      .sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
  );
  const stat = await qss.stat('s1/block-plus-one');
  assert.equal(stat.size, BLOCK + 1);
  assert.equal(stat.blocks, 2);
  assert.equal(stat.k, 4);
  assert.equal(stat.m, 2);
  assert.ok(stat.storedBytes >= (BLOCK + 1) * 1.5, 'random bytes do not compress: 1.5× stored');
  await assert.rejects(qss.stat('s1/none-such'), code('not_found'));

  // overwrite: the new version replaces the old one and the old shards go
  const path = 's1/three-blocks';
  const old = (await qss.metadata.read(path))!.meta!;
  const oldShards = old.blocks.flatMap((b) => b.shards.map((s) => s.location));
  const before = total(await dataEntries());
  const replacement = randomBytes(2 * BLOCK + 5);
  const info = await qss.put(path, [replacement]);
  assert.equal(info.generation, 2);
  assert.equal(info.size, replacement.length);
  assert.deepEqual(await readBack(qss, path), { sha: sha(replacement), size: replacement.length });
  assert.equal(total(await dataEntries()), before - oldShards.length + 3 * 6, 'old shards deleted');
  for (const l of oldShards) assert.equal(await qss.store.getShard(l), undefined);
  assert.equal((await qss.stat(path)).size, replacement.length);

  // delete: gone from list, stat and get, and its shards from the backends
  for (const p of sums.keys()) {
    await qss.delete(p);
    await assert.rejects(qss.get(p), code('not_found'));
    await assert.rejects(qss.stat(p), code('not_found'));
  }
  await assert.rejects(qss.delete(path), code('not_found'));
  assert.deepEqual(await qss.list('s1/'), []);
  assert.equal(total(await dataEntries()), baseline, 'every shard deleted');
});

test('round trip of 256 MiB with the default 4 MiB blocks, hashed on the fly both ways', async (t) => {
  const qss = open(t, 's1/', { blockSize: undefined });
  assert.equal(qss.config.blockSize, 4 * MiB);
  const size = 256 * MiB + 12345; // not a block multiple: the last block is short
  const hash = createHash('sha256');
  let started = performance.now();
  const info = await qss.put('s1/large', pseudoRandom(size, hash));
  const putSeconds = (performance.now() - started) / 1000;
  const expected = hash.digest('hex');
  assert.equal(info.size, size);
  assert.equal(info.blocks, Math.ceil(size / (4 * MiB)));
  assert.equal(info.absentShards, 0);
  started = performance.now();
  const back = await readBack(qss, 's1/large');
  const getSeconds = (performance.now() - started) / 1000;
  assert.deepEqual(back, { sha: expected, size });
  const listed = await qss.list('s1/large');
  assert.deepEqual(
    listed.map((i) => [i.path, i.size]),
    [['s1/large', size]],
  );
  t.diagnostic(
    `256 MiB: put ${(size / 1e6 / putSeconds).toFixed(0)} MB/s (${putSeconds.toFixed(1)} s), ` +
      `get ${(size / 1e6 / getSeconds).toFixed(0)} MB/s (${getSeconds.toFixed(1)} s)`,
  );
  await qss.delete('s1/large');
  await assert.rejects(qss.get('s1/large'), code('not_found'));
});

// ---------------------------------------------------------------- 2. any m backends lost

test('reads back with any 2 of the 6 data backends killed; 3 killed is a clear too_few_shards', async (t) => {
  const qss = open(t, 's2/');
  const data = randomBytes(12 * BLOCK + 777);
  const path = 's2/object';
  await qss.put(path, [data]);
  let pairs = 0;
  const started = performance.now();
  for (let a = 0; a < dataServers.length; a++)
    for (let b = a + 1; b < dataServers.length; b++) {
      const down = [dataServers[a]!, dataServers[b]!];
      await Promise.all(down.map(kill));
      const damaged = new Set<string>();
      const { stream } = await qss.get(path, { onDamage: (d) => damaged.add(d.location.backend) });
      const h = createHash('sha256');
      for await (const chunk of stream) h.update(chunk);
      assert.equal(h.digest('hex'), sha(data), `${down.map((s) => s.name)} down`);
      for (const s of down) assert.ok(damaged.has(`zdb://127.0.0.1:${s.port}/${DATA_NS}`));
      await Promise.all(down.map(start));
      await qss.refresh(true); // the store skips a failed backend for a while; tell it they are back
      pairs++;
    }
  assert.equal(pairs, 15);
  t.diagnostic(
    `15 pairs killed, read and restarted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  // one backend of each group: 3 shards of every block gone, one more than m
  await Promise.all([dataServers[0]!, dataServers[2]!, dataServers[4]!].map(kill));
  await assert.rejects(readBack(qss, path), code('too_few_shards'));
  const check = await qss.check(path);
  assert.equal(check.ok, false);
  assert.equal(check.lost.length, check.blocks, 'every block has fewer than k shards');
  await restoreAll();
  await qss.refresh(true);
  assert.equal((await readBack(qss, path)).sha, sha(data), 'readable again once they are back');
  await qss.delete(path);
});

// ---------------------------------------------------------------- 3. a flipped byte on disk

/** Flips one byte in the middle of the shard's payload in the backend's data file. */
function flipOnDisk(server: Server, shard: Uint8Array): void {
  const needle = Buffer.from(shard);
  const hits: { file: string; at: number }[] = [];
  for (const file of filesUnder(join(server.root, 'data'))) {
    const bytes = readFileSync(file);
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) hits.push({ file, at });
  }
  assert.equal(hits.length, 1, 'the shard is stored once, in the clear of zdb’s own framing');
  const { file, at } = hits[0]!;
  const position = at + (needle.length >> 1);
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.from([needle[needle.length >> 1]! ^ 0x5a]), 0, 1, position);
  } finally {
    closeSync(fd);
  }
}

test('a byte flipped in a stored shard: check finds exactly that shard, rebuild heals it', async (t) => {
  const qss = open(t, 's3/');
  const data = randomBytes(6 * BLOCK + 99);
  const path = 's3/object';
  await qss.put(path, [data]);
  const record = (await qss.metadata.read(path))!;
  const [block, shard] = [2, 3];
  const target = record.meta!.blocks[block]!.shards[shard]!.location;
  const bytes = await qss.store.getShard(target);
  assert.ok(bytes);
  flipOnDisk(serverOf(target.backend), bytes);

  const expected = [{ block, shard, state: 'corrupt', backend: target.backend }];
  const deep = await qss.check(path, { deep: true });
  assert.equal(deep.ok, false);
  assert.deepEqual(deep.damaged, expected);
  assert.deepEqual(deep.lost, []);
  const cheap = await qss.check(path, { deep: false });
  assert.deepEqual(cheap.damaged, expected, 'the backend’s own CRC tells too');
  // still readable meanwhile, and the read notices the damage
  const seen: string[] = [];
  const { stream } = await qss.get(path, { onDamage: (d) => seen.push(`${d.block}/${d.shard}`) });
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk);
  assert.equal(h.digest('hex'), sha(data));

  const rebuilt = await qss.rebuild(path);
  assert.equal(rebuilt.damaged, 1);
  assert.equal(rebuilt.rebuilt, 1);
  assert.equal(rebuilt.remaining, 0);
  assert.deepEqual(rebuilt.lost, []);
  assert.equal(rebuilt.generation, record.generation + 1);
  const after = await qss.check(path, { deep: true });
  assert.equal(after.ok, true, JSON.stringify(after.damaged));
  const fresh = (await qss.metadata.read(path))!.meta!.blocks[block]!.shards[shard]!.location;
  assert.notDeepEqual(fresh, target, 'the shard was written anew');
  assert.deepEqual(await readBack(qss, path), { sha: sha(data), size: data.length });
  await qss.delete(path);
});

// ---------------------------------------------------------------- 4. a backend lost during a put

test('a backend killed during a put: a degraded write that repair completes; 2 down before: store_failed', async (t) => {
  const qss = open(t, 's4/');
  const victim = dataServers[3]!;
  const path = 's4/object';
  const blocks = 48;
  const hash = createHash('sha256');
  let killing: Promise<void> | undefined;
  let progressAtKill = 0;
  const onProgress = (bytes: number) => {
    if (!killing && bytes >= 8 * BLOCK) {
      progressAtKill = bytes;
      killing = kill(victim);
    }
  };
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < blocks; i++) {
      if (killing) await killing; // the rest goes in while the backend is gone
      const chunk = randomBytes(BLOCK);
      hash.update(chunk);
      yield chunk;
    }
  }
  const entriesBefore = await dataEntries();
  let info: Awaited<ReturnType<Qss['put']>> | undefined;
  let failure: unknown;
  try {
    info = await qss.put(path, source(), { onProgress });
  } catch (e) {
    failure = e;
  }
  assert.ok(killing, 'the backend was killed during the put');
  assert.ok(progressAtKill < blocks * BLOCK);
  const expected = hash.digest('hex');
  if (!info) {
    // the other acceptable outcome: a clean failure that leaves nothing behind
    assert.ok(failure instanceof QssError, String(failure));
    await assert.rejects(qss.stat(path), code('not_found'));
    await restoreAll();
    assert.deepEqual(await dataEntries(), entriesBefore, 'no leftover shards');
    t.diagnostic(`put failed cleanly: ${(failure as Error).message}`);
  } else {
    assert.equal(info.size, blocks * BLOCK);
    assert.ok(info.absentShards > 0, 'shards of the later blocks recorded absent');
    t.diagnostic(`degraded write: ${info.absentShards} absent shards of ${blocks * 6}`);
    assert.equal((await readBack(qss, path)).sha, expected);
    await start(victim);
    const report = await qss.repair();
    assert.ok(report.degraded >= 1, JSON.stringify(report));
    assert.ok(report.rebuilt >= 1, JSON.stringify(report));
    assert.equal(report.failed, 0, JSON.stringify(report.errors));
    assert.equal(report.shards, info.absentShards);
    const check = await qss.check(path, { deep: true });
    assert.equal(check.ok, true, JSON.stringify(check.damaged));
    const stat = await qss.stat(path);
    assert.equal(stat.absentShards, 0);
    assert.equal(stat.generation, info.generation + 1);
    assert.equal((await readBack(qss, path)).sha, expected);
    const clean = await qss.repair();
    assert.equal(clean.degraded, 0, 'nothing left to repair');
  }
  await qss.delete(path).catch(() => {});

  // two backends of different groups down before the put: 4 left, k + margin = 5 needed
  const down = [dataServers[0]!, dataServers[2]!];
  await Promise.all(down.map(kill));
  const before = await dataEntries();
  await assert.rejects(qss.put('s4/refused', [randomBytes(5 * BLOCK)]), code('store_failed'));
  assert.deepEqual(await dataEntries(), before, 'nothing stored on the backends that are up');
  await assert.rejects(qss.stat('s4/refused'), code('not_found'));
  const status = await qss.status();
  assert.equal(status.writable, false);
  assert.equal(status.readable, true);
  await restoreAll();
  await qss.refresh(true);
  await assert.rejects(qss.stat('s4/refused'), code('not_found'));

  // a source that fails half way (a file read error): nothing of it stays, blocks in flight included
  const clean = await dataEntries();
  async function* broken(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 6; i++) yield randomBytes(BLOCK);
    throw new Error('read error');
  }
  await assert.rejects(qss.put('s4/broken', broken()), /read error/);
  assert.deepEqual(await dataEntries(), clean);
  await assert.rejects(qss.stat('s4/broken'), code('not_found'));
});

// ---------------------------------------------------------------- 5. a whole group lost

test('a whole group killed: still reads back; status says which are unreachable, readable', async (t) => {
  const qss = open(t, 's5/');
  const data = randomBytes(10 * BLOCK + 1);
  const path = 's5/object';
  await qss.put(path, [data]);
  const group = dataServers.filter((s) => s.group === 1);
  await Promise.all(group.map(kill));
  assert.deepEqual(await readBack(qss, path), { sha: sha(data), size: data.length });
  const status = await qss.status();
  const downIds = group.map((s) => `zdb://127.0.0.1:${s.port}/${DATA_NS}`);
  for (const b of status.data) {
    assert.equal(b.reachable, !downIds.includes(b.backend), b.backend);
    if (downIds.includes(b.backend)) assert.equal(b.group, 'site-1');
  }
  assert.equal(status.data.filter((b) => !b.reachable).length, 2);
  assert.ok(status.meta.every((b) => b.reachable));
  assert.equal(status.readable, true);
  assert.equal(status.writable, false, '4 backends left, k + margin = 5 needed');
  await restoreAll();
  const back = await qss.status();
  assert.ok(back.data.every((b) => b.reachable));
  assert.equal(back.writable, true);
  await qss.delete(path);
});

// ---------------------------------------------------------------- 6. no plaintext at rest

test('no plaintext on any backend: neither the bytes (compression none or auto) nor the path', async (t) => {
  const pattern = Buffer.from('QSS-SCENARIO-PLAINTEXT-PATTERN/');
  const data = Buffer.concat(Array.from({ length: 8000 }, () => pattern));
  const needles = [pattern];
  const paths: string[] = [];
  const probes: Buffer[] = [];
  for (const compression of ['none', 'auto']) {
    const qss = open(t, 'secret-folder/', { compression });
    const path = `secret-folder/recognisable-object-name-${compression}.txt`;
    paths.push(path);
    needles.push(Buffer.from(path), Buffer.from('recognisable-object-name'));
    const info = await qss.put(path, [data]);
    if (compression === 'none') assert.ok(info.storedBytes >= data.length * 1.5);
    else assert.ok(info.storedBytes < data.length / 10, 'the pattern compresses');
    assert.deepEqual(await readBack(qss, path), { sha: sha(data), size: data.length });
    const loc = (await qss.metadata.read(path))!.meta!.blocks[0]!.shards[0]!.location;
    probes.push(Buffer.from((await qss.store.getShard(loc))!.subarray(0, 64)));
  }
  const files = all().flatMap((s) => [
    ...filesUnder(join(s.root, 'data')),
    ...filesUnder(join(s.root, 'index')),
  ]);
  let scanned = 0;
  const found = new Set<number>();
  for (const file of files) {
    const bytes = readFileSync(file);
    scanned += bytes.length;
    for (const n of needles) assert.equal(bytes.includes(n), false, `${file} holds "${n}"`);
    probes.forEach((p, i) => {
      if (bytes.includes(p)) found.add(i);
    });
  }
  assert.equal(found.size, probes.length, 'the scan does see the stored shards');
  t.diagnostic(`scanned ${files.length} files, ${(scanned / MiB).toFixed(0)} MiB`);
  const qss = open(t, 'secret-folder/');
  for (const p of paths) await qss.delete(p);
  assert.deepEqual(await qss.list('secret-folder/'), []);
});

// ---------------------------------------------------------------- 7. metadata backends

test('metadata: 1 of 3 down is fine and repair catches it up; 2 of 3 down fails and leaves nothing', async (t) => {
  const qss = open(t, 's7/');
  const [m0, m1] = [metaServers[0]!, metaServers[1]!];
  const data = randomBytes(3 * BLOCK + 5);
  await kill(m0);
  const info = await qss.put('s7/with-one-down', [data]);
  assert.equal(info.generation, 1);
  assert.equal((await readBack(qss, 's7/with-one-down')).sha, sha(data));
  assert.ok((await qss.list('s7/')).some((i) => i.path === 's7/with-one-down'));
  await start(m0);
  const key = qss.metadata.keyOf('s7/with-one-down');
  const onM0 = () =>
    admin(m0, async (c) => {
      await c.select(META_NS, META_PASSWORD);
      return c.get(key);
    });
  assert.equal(await onM0(), null, 'the restarted backend missed the write');
  const report = await qss.repair();
  assert.ok(report.metadataCopied >= 1, JSON.stringify(report));
  assert.ok(await onM0(), 'repair copied the record');
  assert.equal((await qss.repair()).metadataCopied, 0, 'nothing left to copy');

  // 2 of 3 down: no quorum for reads or writes
  const entries = await dataEntries();
  await Promise.all([m0, m1].map(kill));
  await assert.rejects(qss.put('s7/refused', [data]), code('no_metadata_quorum'));
  await assert.rejects(qss.get('s7/with-one-down'), code('no_metadata_quorum'));
  await assert.rejects(qss.stat('s7/with-one-down'), code('no_metadata_quorum'));
  await assert.rejects(qss.list('s7/'), code('no_metadata_quorum'));
  assert.deepEqual(await dataEntries(), entries, 'no shards were written');
  await Promise.all([m0, m1].map(start));
  await assert.rejects(qss.stat('s7/refused'), code('not_found'));

  // 2 of 3 lost after the shards went in, before the metadata: undone
  let killed: Promise<unknown> | undefined;
  async function* source(): AsyncGenerator<Uint8Array> {
    yield randomBytes(4 * BLOCK);
    killed = Promise.all([m0, m1].map(kill));
    await killed;
    yield randomBytes(BLOCK);
  }
  await assert.rejects(qss.put('s7/half', source()), code('no_metadata_quorum'));
  assert.ok(killed);
  assert.deepEqual(await dataEntries(), entries, 'the shards were deleted again');
  await Promise.all([m0, m1].map(start));
  await assert.rejects(qss.stat('s7/half'), code('not_found'));
  assert.deepEqual(
    (await qss.list('s7/')).map((i) => i.path),
    ['s7/with-one-down'],
  );
  await qss.repair();
  await assert.rejects(qss.stat('s7/half'), code('not_found'));
  await qss.delete('s7/with-one-down');
});

test('a backend back from a blip is read from at once, before the store would try it again', async (t) => {
  const qss = open(t, 's2b/');
  const data = randomBytes(4 * BLOCK + 3);
  await qss.put('s2b/object', [data]);
  await kill(dataServers[0]!);
  assert.equal((await readBack(qss, 's2b/object')).sha, sha(data)); // the store now skips it for a while
  await start(dataServers[0]!);
  await Promise.all([dataServers[2]!, dataServers[4]!].map(kill));
  // 4 of 6 up: enough, though one of them failed moments ago
  assert.equal((await readBack(qss, 's2b/object')).sha, sha(data));
  assert.equal(qss.store.isUp(`zdb://127.0.0.1:${dataServers[0]!.port}/${DATA_NS}`), true);
});
