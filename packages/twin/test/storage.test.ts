/**
 * GET /api/storage on a twin with QSS (six data backends in three groups, one metadata backend):
 * every backend with its address, namespace, group, role and state; a backend that goes away is
 * shown down with the reason, the storage still writable; the first repair sweep's report.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { buildConfig, renderConfig } from '@twin/qss';
import { ZdbServer } from '@twin/zdb';
import { type Daemon, startDaemon } from '../src/index.ts';
import { waitFor } from './api-helpers.ts';

let root: string;
let pb: RunningPhonebook;
let daemon: Daemon;
const servers: ZdbServer[] = [];

const start = (name: string, mode: 'seq' | 'user') =>
  ZdbServer.start({ port: 0, mode, data: join(root, name, 'data'), index: join(root, name, 'index') });

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-storage-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  for (let i = 0; i < 6; i++) servers.push(await start(`d${i}`, 'seq'));
  servers.push(await start('meta', 'user'));
  const home = join(root, 'alice');
  initIdentity({ home, name: 'alice' });
  const at = (s: ZdbServer) => `127.0.0.1:${s.port}/default`;
  const config = buildConfig({
    k: 4,
    m: 2,
    groups: [0, 2, 4].map((i) => [at(servers[i]!), at(servers[i + 1]!)]),
    meta: [at(servers[6]!)],
  });
  writeFileSync(join(home, 'qss.json'), renderConfig(config), { mode: 0o600 });
  daemon = await startDaemon({ home, phonebook: pb.url, yggdrasil: 'off', api: { port: 0 }, web: false });
});
after(async () => {
  await daemon?.stop();
  for (const s of servers) await s.close().catch(() => {});
  await pb?.close();
  rmSync(root, { recursive: true, force: true });
});

async function storage() {
  const token = readFileSync(join(root, 'alice', 'api-token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${daemon.api!.port}/api/storage`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the API's JSON
  return (await res.json()) as any;
}

test('every backend with its state; a lost backend is down with its reason; the last repair', async () => {
  await waitFor(() => daemon.lastRepair !== undefined, 30_000);
  const s = await storage();
  assert.equal(s.configured, true);
  assert.equal(s.k, 4);
  assert.equal(s.m, 2);
  assert.equal(s.readable, true);
  assert.equal(s.writable, true);
  assert.equal(s.backends.length, 7);
  assert.deepEqual(
    s.backends.map((b: { group: string; role: string }) => `${b.role}:${b.group}`),
    ['group-1', 'group-1', 'group-2', 'group-2', 'group-3', 'group-3']
      .map((g) => `data:${g}`)
      .concat('meta:meta'),
  );
  for (const [i, b] of s.backends.entries()) {
    assert.equal(b.address, `127.0.0.1:${servers[i]!.port}`);
    assert.equal(b.namespace, 'default');
    assert.equal(b.state, 'ok');
    assert.equal(typeof b.used, 'number');
  }
  assert.equal(typeof s.lastRepair.at, 'number');
  assert.equal(s.lastRepair.failed, 0);
  assert.equal(s.objects, 0);

  await servers[3]!.close();
  const later = await storage();
  const lost = later.backends[3];
  assert.equal(lost.state, 'down');
  assert.ok(lost.error, 'the reason it is down');
  assert.equal(later.backends.filter((b: { state: string }) => b.state === 'ok').length, 6);
  assert.equal(later.writable, true, 'k + margin = 5 data backends are still up');
});
