/**
 * The twin with a QSS configuration: its repair sweep completes a degraded write on its own
 * once the missing backend is back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { buildConfig, renderConfig } from '@twin/qss';
import { ZdbServer } from '@twin/zdb';
import { startDaemon } from '../src/index.ts';

let root: string;
let pb: RunningPhonebook;
const servers: ZdbServer[] = [];

const start = (name: string, mode: 'seq' | 'user', port = 0) =>
  ZdbServer.start({ port, mode, data: join(root, name, 'data'), index: join(root, name, 'index') });

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-qss-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  for (let i = 0; i < 6; i++) servers.push(await start(`d${i}`, 'seq'));
  servers.push(await start('meta', 'user'));
});
after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

test("the twin's repair sweep completes a degraded write when the backend returns", async () => {
  const home = join(root, 'alice');
  initIdentity({ home, name: 'alice' });
  const at = (s: ZdbServer) => `127.0.0.1:${s.port}/default`;
  const config = buildConfig({
    k: 4,
    m: 2,
    groups: [0, 2, 4].map((i) => [at(servers[i]!), at(servers[i + 1]!)]),
    meta: [at(servers[6]!)],
    blockSize: 64 * 1024,
  });
  writeFileSync(join(home, 'qss.json'), renderConfig(config), { mode: 0o600 });
  const logs: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const daemon = await startDaemon({
    home,
    phonebook: pb.url,
    yggdrasil: 'off',
    qssRepairIntervalMs: 300,
    log: (msg, fields) => logs.push({ msg, fields }),
  });
  try {
    assert.ok(daemon.qss, 'home/qss.json is picked up');
    const port = servers[3]!.port;
    await servers[3]!.close();
    const info = await daemon.qss.put('notes/today.txt', [Buffer.alloc(300_000, 'today ')]);
    assert.equal(info.absentShards, info.blocks, 'one shard of every block could not be stored');
    servers[3] = await start('d3', 'seq', port);
    let report = daemon.lastRepair;
    for (let i = 0; i < 100 && !(report && report.rebuilt > 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      report = daemon.lastRepair;
    }
    assert.ok(report && report.rebuilt === 1 && report.failed === 0, JSON.stringify(report));
    assert.equal((await daemon.qss.stat('notes/today.txt')).absentShards, 0);
    assert.equal((await daemon.qss.check('notes/today.txt')).ok, true);
    assert.ok(logs.some((l) => l.msg === 'qss repair sweep' && l.fields?.rebuilt === 1));
  } finally {
    await daemon.stop();
  }
});

test('with a QSS configuration, uploaded files go into QSS (one object per chunk) and read back whole and by range', async () => {
  const home = join(root, 'bob');
  initIdentity({ home, name: 'bob' });
  const at = (s: ZdbServer) => `127.0.0.1:${s.port}/default`;
  const config = buildConfig({
    k: 4,
    m: 2,
    groups: [0, 2, 4].map((i) => [at(servers[i]!), at(servers[i + 1]!)]),
    meta: [at(servers[6]!)],
    blockSize: 256 * 1024,
  });
  writeFileSync(join(home, 'qss.json'), renderConfig(config), { mode: 0o600 });
  const daemon = await startDaemon({ home, phonebook: pb.url, yggdrasil: 'off', api: { port: 0 } });
  try {
    const base = `http://127.0.0.1:${daemon.api!.port}`;
    const auth = { authorization: `Bearer ${readFileSync(join(home, 'api-token'), 'utf8').trim()}` };
    const bytes = randomBytes(2 * 1024 * 1024 + 77);
    const up = await fetch(`${base}/api/files/content?path=/in-qss.bin`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(up.status, 200);
    const { entry } = (await up.json()) as { entry: { id: string; size: number } };
    assert.equal(entry.size, bytes.length);
    const objects = await daemon.qss!.list('files/');
    assert.equal(objects.length, 3, 'three 1 MiB chunks, three QSS objects');
    const whole = await fetch(`${base}/api/files/${entry.id}/content`, { headers: auth });
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes));
    const part = await fetch(`${base}/api/files/${entry.id}/content`, {
      headers: { ...auth, range: 'bytes=1048000-1049000' },
    });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1048000, 1049001)));
    const del = await fetch(`${base}/api/files/${entry.id}`, { method: 'DELETE', headers: auth });
    assert.equal(del.status, 204);
    assert.equal((await daemon.qss!.list('files/')).length, 0, 'deleting the file deletes its QSS objects');
  } finally {
    await daemon.stop();
  }
});
