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
import { spawnZdb, ZdbClient } from '@twin/zdb';
import { freePort, TWIN, twin } from './helpers.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'twin-qss-cli-'));
const zdbs = new Map<number, ChildProcess>();
after(() => {
  for (const c of zdbs.values()) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function startZdb(port: number, mode: 'seq' | 'user'): Promise<void> {
  const dir = join(root, `zdb-${port}`);
  const args = ['--mode', mode, '--data', join(dir, 'data'), '--index', join(dir, 'index')];
  zdbs.set(port, (await spawnZdb(args, { port })).proc);
}

let data: number[][];
let meta: number[];
const config = join(root, 'qss.json');

before(async () => {
  data = [];
  for (let g = 0; g < 3; g++) data.push([await freePort(), await freePort()]);
  meta = [await freePort(), await freePort(), await freePort()];
  await Promise.all([...data.flat().map((p) => startZdb(p, 'seq')), ...meta.map((p) => startZdb(p, 'user'))]);
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('twin qss: config, put, ls, get, check, status, a lost group, rm, and clear errors', async () => {
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

  const file = join(root, 'photo.bin');
  const bytes = randomBytes(3 * 256 * 1024 + 1234);
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

  const out = join(root, 'back.bin');
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

  // the group comes back (same data): repair has nothing to rebuild, the object is whole
  await Promise.all(data[1]!.map((p) => startZdb(p, 'seq')));
  const repair = await twin('qss', 'repair', '--config', config, '--json');
  assert.equal(repair.code, 0, repair.stderr);
  assert.deepEqual(
    (({ objects, degraded, failed }) => ({ objects, degraded, failed }))(JSON.parse(repair.stdout)),
    { objects: 1, degraded: 0, failed: 0 },
  );

  // errors a user meets: a clear line and a non-zero exit, nothing else changes
  const missing = await twin('qss', 'get', 'nope', '--config', config);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no object at nope \(ENOENT\)/);
  const badConfig = join(root, 'bad.json');
  writeFileSync(badConfig, '{"dataShards": 4}');
  const bad = await twin('qss', 'ls', '--config', badConfig);
  assert.match(bad.stderr, /bad\.json: .*parityShards/);
  const noFile = await twin('qss', 'put', join(root, 'absent.bin'), '--config', config);
  assert.equal(noFile.code, 1);

  // an orphan shard (a writer that died mid-put): gc spares it within the grace period, then deletes it
  const orphanAt = new ZdbClient({ port: data[0]![0]!, namespace: 'default' });
  await orphanAt.append(randomBytes(5000));
  orphanAt.close();
  const young = JSON.parse((await twin('qss', 'gc', '--config', config, '--json')).stdout);
  assert.equal(young.garbage, 0, 'younger than the grace period');
  const dry = JSON.parse(
    (await twin('qss', 'gc', '--grace', '0', '--dry-run', '--config', config, '--json')).stdout,
  );
  assert.deepEqual([dry.garbage, dry.garbageBytes, dry.referenced, dry.dryRun], [1, 5000, 24, true]);
  const gc = await twin('qss', 'gc', '--grace', '0', '--config', config);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /deleted 1 unreferenced shard/);
  const whole = await twin('qss', 'check', 'albums/2026/photo.bin', '--config', config, '--json');
  assert.equal(JSON.parse(whole.stdout).ok, true, 'gc touched no referenced shard');

  const rm = await twin('qss', 'rm', 'albums/2026/photo.bin', '--config', config);
  assert.equal(rm.code, 0, rm.stderr);
  const empty = await twin('qss', 'ls', '--config', config, '--json');
  assert.deepEqual(JSON.parse(empty.stdout), []);
  for (const p of data.flat()) {
    const c = new ZdbClient({ port: p, namespace: 'default' });
    const n = await c.dbsize();
    c.close();
    assert.equal(n, 0, `backend ${p} keeps no shard after rm`);
  }
});
