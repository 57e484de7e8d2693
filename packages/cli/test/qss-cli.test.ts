/**
 * `twin qss` end to end, as a user runs it: 0-db server processes (6 data backends in 3 groups,
 * 3 metadata backends), a config written by `twin qss config`, then put/ls/get/check/status,
 * a lost group, rm, and the errors a user meets.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freePortRange } from '@twin/twin';
import { spawnZdb, ZdbClient } from '@twin/zdb';
import { TWIN, twin } from './helpers.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'twin-qss-cli-'));
const zdbs = new Map<number, ChildProcess>();
after(() => {
  for (const c of zdbs.values()) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** How long a zdb process may take to start: the machines that run the tests are often loaded. */
const ZDB_START_MS = 120_000;

/** Each start gets a folder of its own: a port freed by a killed server may be handed out again
 * before that server has let go of its folder's lock. */
const folders = new Map<number, string>();
let started = 0;

/** Starts a zdb on `port`: in a new folder, or with `keep` in the one it had (a restart with its data). */
async function startZdb(port: number, mode: 'seq' | 'user', keep = false): Promise<void> {
  const dir = (keep && folders.get(port)) || join(root, `zdb-${++started}`);
  folders.set(port, dir);
  const args = ['--mode', mode, '--data', join(dir, 'data'), '--index', join(dir, 'index')];
  zdbs.set(port, (await spawnZdb(args, { port, timeoutMs: ZDB_START_MS })).proc);
}

let data: number[][];
let meta: number[];
const config = join(root, 'qss.json');

before(async () => {
  data = [];
  for (let g = 0; g < 3; g++) data.push([await freePortRange(1), await freePortRange(1)]);
  meta = [await freePortRange(1), await freePortRange(1), await freePortRange(1)];
  await Promise.all([...data.flat().map((p) => startZdb(p, 'seq')), ...meta.map((p) => startZdb(p, 'user'))]);
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/*
 * The life of one object, as a user lives it: the cases run in order, each from where the one
 * before left the servers, the config and the object.
 */
const file = join(root, 'photo.bin');
const bytes = randomBytes(3 * 256 * 1024 + 1234);
const out = join(root, 'back.bin');

test('config writes a private file with a fresh key, and refuses to overwrite it', async () => {
  const groups = data.flatMap((ports) => ['--group', ports.map((p) => `127.0.0.1:${p}/default`).join(',')]);
  const code = ['qss', 'config', '--data-shards', '4', '--parity-shards', '2', ...groups];
  const written = await twin(
    ...code,
    '--meta',
    meta.map((p) => `127.0.0.1:${p}/default`).join(','),
    '--block-size',
    String(256 * 1024),
    '--out',
    config,
    '--json',
  );
  assert.equal(written.code, 0, written.stderr);
  assert.deepEqual(JSON.parse(written.stdout).tolerate, { groups: 1, backendsPerGroup: 0 });
  assert.equal(statSync(config).mode & 0o777, 0o600, 'the config holds a key: private');
  assert.match(JSON.parse(readFileSync(config, 'utf8')).key, /^[0-9a-f]{64}$/);
  const again = await twin(...code, '--meta', 'x:1/a', '--out', config);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /exists/);
  // the library's messages name the file's fields; the flags are named here, by the command
  const noGroup = await twin(
    ...['qss', 'config', '--data-shards', '1', '--parity-shards', '1'],
    ...['--meta', 'x:1/a', '--out', join(root, 'no-group.json')],
  );
  assert.equal(noGroup.code, 1);
  assert.match(noGroup.stderr, /^twin: give at least one --group/);
});

test('put stores a file; ls lists it as JSON and as text; a config others can read is warned about', async () => {
  writeFileSync(file, bytes);
  const put = await twin('qss', 'put', file, '--as', 'albums/2026/photo.bin', '--config', config, '--json');
  assert.equal(put.code, 0, put.stderr);
  const info = JSON.parse(put.stdout);
  assert.equal(info.size, bytes.length);
  assert.equal(info.blocks, 4);
  assert.equal(info.absentShards, 0);

  const ls = await twin('qss', 'ls', 'albums/', '--config', config, '--json');
  assert.deepEqual(
    JSON.parse(ls.stdout).map((o: { path: string; size: number }) => [o.path, o.size]),
    [['albums/2026/photo.bin', bytes.length]],
  );
  const human = await twin('qss', 'ls', '--config', config);
  assert.match(human.stdout, /albums\/2026\/photo\.bin/);
  assert.equal(human.stderr, '');
  chmodSync(config, 0o644);
  assert.match((await twin('qss', 'ls', '--config', config)).stderr, /others can read it \(chmod 600 it\)/);
  chmodSync(config, 0o600);
});

test('get gives the bytes back to a file (-o) and to stdout; check finds every shard intact', async () => {
  const get = await twin('qss', 'get', 'albums/2026/photo.bin', '-o', out, '--config', config);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(sha(readFileSync(out)), sha(bytes));
  const piped = await run(
    process.execPath,
    [TWIN, 'qss', 'get', 'albums/2026/photo.bin', '--config', config],
    {
      encoding: 'buffer',
      maxBuffer: 64 << 20,
    },
  );
  assert.equal(sha(piped.stdout), sha(bytes), 'to stdout without -o');

  const check = await twin('qss', 'check', 'albums/2026/photo.bin', '--config', config, '--json');
  assert.equal(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).ok, true);
});

test('a whole group lost: status says which backends, get still reads, check reports the damage', async () => {
  // a whole group goes away: status says so, reads still work, check reports the damage
  for (const p of data[1]!) zdbs.get(p)!.kill('SIGKILL');
  const status = await twin('qss', 'status', '--config', config, '--json');
  const s = JSON.parse(status.stdout);
  assert.equal(s.data.filter((b: { reachable: boolean }) => !b.reachable).length, 2);
  assert.equal(s.readable, true);
  const statusText = await twin('qss', 'status', '--config', config);
  assert.match(statusText.stdout, /DOWN/);
  const get2 = await twin('qss', 'get', 'albums/2026/photo.bin', '-o', out, '--config', config);
  assert.equal(get2.code, 0, get2.stderr);
  assert.equal(sha(readFileSync(out)), sha(bytes));
  const damaged = await twin('qss', 'check', 'albums/2026/photo.bin', '--config', config);
  assert.equal(damaged.code, 1);
  assert.match(damaged.stdout, /8 of 24 shards damaged/);
});

test('the group back with its data: repair has nothing to rebuild', async () => {
  // the group comes back (same data): repair has nothing to rebuild, the object is whole
  await Promise.all(data[1]!.map((p) => startZdb(p, 'seq', true)));
  const repair = await twin('qss', 'repair', '--config', config, '--json');
  assert.equal(repair.code, 0, repair.stderr);
  assert.deepEqual(
    (({ objects, degraded, failed }) => ({ objects, degraded, failed }))(JSON.parse(repair.stdout)),
    { objects: 1, degraded: 0, failed: 0 },
  );
});

test('errors a user meets: a clear line and a non-zero exit, nothing else changes', async () => {
  // errors a user meets: a clear line and a non-zero exit, nothing else changes
  const missing = await twin('qss', 'get', 'nope', '--config', config);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no object at nope \(not_found\)/);
  const badConfig = join(root, 'bad.json');
  writeFileSync(badConfig, '{"dataShards": 4}');
  const bad = await twin('qss', 'ls', '--config', badConfig);
  assert.match(bad.stderr, /bad\.json: .*parityShards/);
  const noFile = await twin('qss', 'put', join(root, 'absent.bin'), '--config', config);
  assert.equal(noFile.code, 1);
});

test("gc spares orphan shards within the grace period, then deletes ours and not a stranger's", async () => {
  // orphan shards (a writer that died before its metadata was written): gc spares them within
  // the grace period, then deletes them; a stranger's entry on the same namespace stays
  const stranger = new ZdbClient({ port: data[0]![0]!, namespace: 'default' });
  await stranger.append(randomBytes(5000));
  stranger.close();
  const metaKeys = async () => {
    const out: { port: number; key: Buffer }[] = [];
    for (const port of meta) {
      const c = new ZdbClient({ port, namespace: 'default' });
      for await (const e of c.keys()) out.push({ port, key: e.key });
      c.close();
    }
    return out;
  };
  const known = new Set((await metaKeys()).map((e) => `${e.port} ${e.key.toString('hex')}`));
  const orphanFile = join(root, 'orphan.bin');
  writeFileSync(orphanFile, randomBytes(1000));
  assert.equal((await twin('qss', 'put', orphanFile, '--config', config)).code, 0);
  for (const e of await metaKeys()) {
    if (known.has(`${e.port} ${e.key.toString('hex')}`)) continue;
    const c = new ZdbClient({ port: e.port, namespace: 'default' });
    await c.del(e.key);
    c.close();
  }
  const young = JSON.parse((await twin('qss', 'gc', '--config', config, '--json')).stdout);
  assert.equal(young.garbage, 0, 'younger than the grace period');
  const dry = JSON.parse(
    (await twin('qss', 'gc', '--grace', '0', '--dry-run', '--config', config, '--json')).stdout,
  );
  assert.deepEqual(
    [dry.garbage, dry.foreign, dry.referenced, dry.dryRun],
    [6, 1, 24, true],
    'the orphan’s 6 shards are ours; the stranger’s entry is not',
  );
  const gc = await twin('qss', 'gc', '--grace', '0', '--config', config);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /deleted 6 unreferenced shard/);
  const whole = await twin('qss', 'check', 'albums/2026/photo.bin', '--config', config, '--json');
  assert.equal(JSON.parse(whole.stdout).ok, true, 'gc touched no referenced shard');
});

test('rm deletes the object and every shard of it', async () => {
  const rm = await twin('qss', 'rm', 'albums/2026/photo.bin', '--config', config);
  assert.equal(rm.code, 0, rm.stderr);
  const empty = await twin('qss', 'ls', '--config', config, '--json');
  assert.deepEqual(JSON.parse(empty.stdout), []);
  for (const p of data.flat()) {
    const c = new ZdbClient({ port: p, namespace: 'default' });
    const n = await c.dbsize();
    c.close();
    // the namespace's epoch marker stays, and the stranger's entry on the first backend
    assert.equal(n, p === data[0]![0] ? 2 : 1, `backend ${p} keeps no shard after rm`);
  }
});

/** Stops the zdb process on `port` and waits until it has exited. */
async function stopZdb(port: number): Promise<void> {
  const proc = zdbs.get(port)!;
  zdbs.delete(port);
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

async function entries(port: number): Promise<number> {
  const c = new ZdbClient({ port, namespace: 'default' });
  try {
    return await c.dbsize();
  } finally {
    c.close();
  }
}

/** 6 sequential backends in 3 groups and 3 metadata backends, fresh; configs `names` over them, each with its own key. */
async function grid(...names: string[]): Promise<{ groups: number[][]; configs: string[] }> {
  const groups: number[][] = [];
  for (let g = 0; g < 3; g++) groups.push([await freePortRange(1), await freePortRange(1)]);
  const metas = [await freePortRange(1), await freePortRange(1), await freePortRange(1)];
  await Promise.all([
    ...groups.flat().map((p) => startZdb(p, 'seq')),
    ...metas.map((p) => startZdb(p, 'user')),
  ]);
  const configs = names.map((n) => join(root, n));
  for (const out of configs) {
    const made = await twin(
      'qss',
      'config',
      '--data-shards',
      '4',
      '--parity-shards',
      '2',
      ...groups.flatMap((ports) => ['--group', ports.map((p) => `127.0.0.1:${p}/default`).join(',')]),
      '--meta',
      metas.map((p) => `127.0.0.1:${p}/default`).join(','),
      '--out',
      out,
    );
    assert.equal(made.code, 0, made.stderr);
  }
  return { groups, configs };
}

test('two backends of a group wiped and restarted empty on the same ports: rebuild puts their shards back, check is clean, the object survives losing another group', async () => {
  const {
    groups,
    configs: [a],
  } = await grid('wiped.json');
  const big = join(root, 'big.bin');
  const bytes = randomBytes(20 << 20);
  writeFileSync(big, bytes);
  assert.equal((await twin('qss', 'put', big, '--config', a!)).code, 0);

  // one group's two backends lose their disks and come back empty on the same ports
  const wiped = groups[1]!;
  await wipe(wiped);
  const damaged = await twin('qss', 'check', 'big.bin', '--config', a!, '--json');
  assert.equal(damaged.code, 1);
  const report = JSON.parse(damaged.stdout);
  assert.equal(report.damaged.length, 10);
  assert.ok(report.damaged.every((d: { state: string }) => d.state === 'missing'));

  const rebuilt = await twin('qss', 'rebuild', 'big.bin', '--config', a!);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /10 of 10 damaged shards rebuilt/);
  // each of the 5 blocks has one shard on each wiped backend again (beside the epoch marker)
  for (const p of wiped) assert.ok((await entries(p)) >= 5, `backend ${p} holds its shards again`);
  const clean = await twin('qss', 'check', 'big.bin', '--config', a!, '--json');
  assert.equal(clean.code, 0, clean.stdout);
  assert.equal(JSON.parse(clean.stdout).ok, true);

  // and the object survives losing another whole group
  for (const p of groups[0]!) zdbs.get(p)!.kill('SIGKILL');
  const out = join(root, 'big.back');
  const got = await twin('qss', 'get', 'big.bin', '-o', out, '--config', a!);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(sha(readFileSync(out)), sha(bytes));
});

/** Stops the backends on `ports`, deletes their data and index, starts them again empty on the same ports. */
async function wipe(ports: number[]): Promise<void> {
  for (const p of ports) {
    await stopZdb(p);
    rmSync(folders.get(p)!, { recursive: true, force: true });
  }
  await Promise.all(ports.map((p) => startZdb(p, 'seq')));
}

test('a second owner on the same backends (another key): its repair, gc and rm leave the first owner’s object whole', async () => {
  const {
    groups,
    configs: [a, b],
  } = await grid('a.json', 'b.json');
  const second = join(root, 'second.bin');
  writeFileSync(second, randomBytes(300_000));
  assert.equal((await twin('qss', 'put', second, '--config', b!)).code, 0);
  const first = join(root, 'first.bin');
  const bytes = randomBytes(5 * 256 * 1024);
  writeFileSync(first, bytes);
  assert.equal((await twin('qss', 'put', first, '--config', a!)).code, 0);
  const total = async () => (await Promise.all(groups.flat().map(entries))).reduce((x, y) => x + y);

  const before = await total();
  const gc = await twin('qss', 'gc', '--grace', '0', '--config', b!, '--json');
  assert.equal(gc.code, 0, gc.stderr);
  assert.equal(
    JSON.parse(gc.stdout).garbage,
    0,
    'none of the first owner’s shards is the second owner’s garbage',
  );
  assert.equal(await total(), before);

  // a group is wiped; the first owner rebuilds first, so its new shards take the ids the
  // second owner's lost shards had: the second owner's repair must not take them for its own
  await wipe(groups[1]!);
  const rebuilt = await twin('qss', 'rebuild', 'first.bin', '--config', a!);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  const repaired = JSON.parse((await twin('qss', 'repair', '--config', b!, '--json')).stdout);
  assert.deepEqual([repaired.objects, repaired.rebuilt, repaired.failed], [1, 1, 0]);
  const ok = async () =>
    JSON.parse((await twin('qss', 'check', 'first.bin', '--config', a!, '--json')).stdout).ok;
  assert.equal(await ok(), true, 'the second owner’s repair left the first owner’s shards alone');

  assert.equal((await twin('qss', 'rm', 'second.bin', '--config', b!)).code, 0);
  assert.equal((await twin('qss', 'gc', '--grace', '0', '--config', b!)).code, 0);
  assert.equal(await total(), before - 6, 'only the second owner’s 6 shards went');
  assert.equal(await ok(), true);
  const out = join(root, 'first.back');
  assert.equal((await twin('qss', 'get', 'first.bin', '-o', out, '--config', a!)).code, 0);
  assert.equal(sha(readFileSync(out)), sha(bytes));
});
