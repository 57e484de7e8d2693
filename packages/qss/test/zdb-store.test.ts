import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { QssError } from '../src/errors.ts';
import { getObject, putObject } from '../src/object.ts';
import { isAbsent } from '../src/store.ts';
import { type ZdbGroupConfig, ZdbShardStore } from '../src/zdb-store.ts';

let dir: string;
const servers: ZdbServer[] = [];
let groups: ZdbGroupConfig[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qss-zdb-'));
  groups = [];
  for (let g = 0; g < 3; g++) {
    const backends = [];
    for (let b = 0; b < 2; b++) {
      const root = join(dir, `g${g}b${b}`);
      const server = await ZdbServer.start({
        port: 0,
        data: join(root, 'data'),
        index: join(root, 'index'),
        mode: 'mix',
        admin: 'adm',
      });
      servers.push(server);
      const admin = new ZdbClient({ port: server.port, admin: 'adm' });
      await admin.nsnew('qss');
      await admin.nsset('qss', 'mode', 'seq');
      await admin.nsset('qss', 'password', 'pw');
      await admin.nsset('qss', 'public', '0');
      admin.close();
      backends.push({ host: '127.0.0.1', port: server.port, namespace: 'qss', password: 'pw' });
    }
    groups.push({ name: `site-${g}`, backends });
  }
});
after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const PATTERN = Buffer.from('RECOGNISABLE-PLAINTEXT-PATTERN-');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((f) => {
    const p = join(path, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test('placement asks NSINFO first and skips a backend without room; status names every backend', async () => {
  const store = new ZdbShardStore(groups, { timeoutMs: 10_000, ownerKey: randomBytes(32) });
  const admin = new ZdbClient({ port: servers[0]!.port, admin: 'adm' });
  await admin.nsset('qss', 'maxsize', '1000');
  try {
    const status = await store.refresh();
    assert.equal(status.length, 6);
    assert.ok(
      status.every((b) => (b.reachable && b.mode === 'sequential') || b.mode === 'seq'),
      JSON.stringify(status),
    );
    const full = status.find((b) => b.backend.includes(`:${servers[0]!.port}/`))!;
    assert.ok(full.freeBytes! <= 1000, 'the size limit caps the free space');
    assert.equal(store.groupOf(full.backend), 'site-0');
    const data = randomBytes(4 * 64 * 1024);
    const meta = await putObject([data], store, { k: 4, m: 2, blockSize: 64 * 1024 });
    for (const b of meta.blocks) {
      assert.equal(b.shards.filter((s) => s.location.backend === full.backend).length, 0);
      assert.equal(
        b.shards.filter((s) => isAbsent(s.location)).length,
        1,
        'its group has no other room: degraded',
      );
    }
    assert.equal(sha(await collect(getObject(meta, store))), sha(data));
    for (const b of meta.blocks)
      for (const s of b.shards)
        if (!isAbsent(s.location)) assert.equal(await store.deleteShard(s.location, s.checksum), true);
  } finally {
    await admin.nsset('qss', 'maxsize', '0');
    admin.close();
    store.close();
  }
});

test('4+2 over 6 zdb backends in 3 groups: placement, no plaintext on disk, a whole group lost, then one backend too many', async () => {
  const store = new ZdbShardStore(groups, { timeoutMs: 10_000, ownerKey: randomBytes(32) });
  assert.equal(store.perGroup(4, 2), 2, 'each site holds at most 2 of a block’s 6 shards');
  const data = Buffer.concat(
    Array.from({ length: 3000 }, (_, i) => Buffer.concat([PATTERN, Buffer.from(String(i))])),
  );
  const meta = await putObject([data], store, { k: 4, m: 2, blockSize: 16 * 1024 });
  assert.ok(meta.blocks.length > 3);
  for (const block of meta.blocks) {
    const backends = block.shards.map((s) => s.location.backend);
    assert.equal(new Set(backends).size, 6, 'every shard of a block on its own backend');
    for (const g of groups) {
      const inGroup = backends.filter((b) => g.backends.some((x) => b.endsWith(`:${x.port}/qss`))).length;
      assert.equal(inGroup, 2);
    }
  }
  assert.equal(sha(await collect(getObject(meta, store))), sha(data));
  // no plaintext anywhere the backends keep data
  for (const f of filesUnder(dir))
    assert.equal(readFileSync(f).includes(PATTERN), false, `${f} holds plaintext`);

  // lose a whole site: still readable
  await servers[0]!.close();
  await servers[1]!.close();
  assert.equal(sha(await collect(getObject(meta, store))), sha(data));
  // one more backend down: m + 1 shards of some blocks are gone → a clear error
  await servers[2]!.close();
  await assert.rejects(
    collect(getObject(meta, store)),
    (e: unknown) => e instanceof QssError && e.code === 'too_few_shards',
  );
  // writing needs every shard to land: a clean failure, not a half-stored object
  await assert.rejects(
    putObject([Buffer.from('x')], store, { k: 4, m: 2 }),
    (e: unknown) => e instanceof QssError && e.code === 'store_failed',
  );
  store.close();
});
