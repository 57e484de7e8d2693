import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { MemoryShardStore } from '../src/memory-store.ts';
import { type MetaRecord, MetaStore } from '../src/meta-store.ts';
import type { ObjectMetadata } from '../src/metadata.ts';
import { putObject } from '../src/object.ts';
import type { ZdbBackendConfig } from '../src/zdb-store.ts';

let dir: string;
const servers: ZdbServer[] = [];
const backends: ZdbBackendConfig[] = [];
const key = randomBytes(32);

async function start(i: number, port = 0): Promise<ZdbServer> {
  return ZdbServer.start({ port, data: join(dir, `m${i}`, 'data'), index: join(dir, `m${i}`, 'index') });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qss-meta-'));
  for (let i = 0; i < 3; i++) {
    const s = await start(i);
    servers.push(s);
    backends.push({ host: '127.0.0.1', port: s.port, namespace: 'default' });
  }
});
after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const object = (): Promise<ObjectMetadata> =>
  putObject([randomBytes(3000)], new MemoryShardStore(6), { k: 4, m: 2, blockSize: 1000 });

function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((f) => {
    const p = join(path, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/*
 * One MetaStore over three zdb servers, through the life of a few records: the cases below run in
 * order and each starts where the one before left the servers and the records.
 */
let store: MetaStore;
let two: MetaRecord;
let third: number; // the port of the third server, which goes down and comes back

test('each write is the next generation on a quorum; a read sees the newest', async () => {
  store = new MetaStore(backends, key, { timeoutMs: 10_000 });
  assert.equal(store.quorum, 2);
  assert.equal(store.readQuorum, 2);
  assert.equal(await store.read('docs/a.txt'), undefined);
  const one = await store.write('docs/a.txt', await object());
  assert.equal(one.generation, 1);
  two = await store.write('docs/a.txt', await object(), one);
  assert.equal(two.generation, 2);
  const read = await store.read('docs/a.txt');
  assert.equal(read!.generation, 2);
  assert.ok(Buffer.from(read!.meta!.key).equals(two.meta!.key));
  await store.write('docs/b.txt', await object());
});

test('the backends hold neither paths nor plaintext metadata', () => {
  for (const f of filesUnder(dir)) {
    const bytes = readFileSync(f);
    assert.equal(bytes.includes('docs/a.txt'), false, `${f} names the path`);
    assert.equal(bytes.includes(Buffer.from(two.meta!.key)), false, `${f} holds an object key`);
  }
});

test('one backend down: writes reach the quorum, reads still see the newest', async () => {
  third = servers[2]!.port;
  await servers[2]!.close();
  const three = await store.write('docs/a.txt', await object(), await store.read('docs/a.txt'));
  assert.equal(three.generation, 3);
  assert.equal((await store.read('docs/a.txt'))!.generation, 3);
  assert.deepEqual(
    (await store.records()).map((r) => [r.path, r.generation]),
    [
      ['docs/a.txt', 3],
      ['docs/b.txt', 1],
    ],
  );
});

test('a backend back with a stale copy: the newest wins, and sync brings it up to date', async () => {
  servers[2] = await start(2, third);
  assert.equal((await store.read('docs/a.txt'))!.generation, 3, 'the newest wins over a stale copy');
  assert.deepEqual(await store.sync(), { copied: 1, purged: 0 });
  assert.deepEqual(await store.sync(), { copied: 0, purged: 0 });
});

test('two of three down: neither reads nor writes pretend, and a refused write is undone where it landed', async () => {
  await servers[1]!.close();
  await servers[2]!.close();
  await assert.rejects(store.read('docs/a.txt'), {
    code: 'no_metadata_quorum',
    message: /only 1 of 3 metadata backends answered, 2 needed/,
  });
  await assert.rejects(store.write('docs/c.txt', await object()), {
    code: 'no_metadata_quorum',
    message: /1 of 3 backends, 2 needed/,
  });
  servers[1] = await start(1, backends[1]!.port);
  servers[2] = await start(2, third);
  assert.equal(await store.read('docs/c.txt'), undefined, 'the refused write was undone where it landed');
});

test('delete: a tombstone, purged by sync once every backend holds it', async () => {
  const gone = await store.write('docs/b.txt', undefined, await store.read('docs/b.txt'));
  assert.equal(gone.deleted, true);
  assert.equal((await store.read('docs/b.txt'))!.deleted, true);
  assert.deepEqual(await store.sync(), { copied: 0, purged: 1 });
  assert.equal(await store.read('docs/b.txt'), undefined);
});

test("a copy moved under another path's key does not open, nor under another owner's key", async () => {
  const admin = new ZdbClient({ port: backends[0]!.port });
  const sealedA = await admin.get(store.keyOf('docs/a.txt'));
  await admin.set(store.keyOf('docs/evil.txt'), sealedA!);
  admin.close();
  assert.equal(await store.read('docs/evil.txt'), undefined);
  const stranger = new MetaStore(backends, randomBytes(32));
  assert.deepEqual(await stranger.records(), []);
  stranger.close();
});

test('an empty path, a NUL in a path and a path over 4 KiB are bad_path', async () => {
  await assert.rejects(store.read(''), { code: 'bad_path' });
  await assert.rejects(store.read('a\0b'), { code: 'bad_path' });
  await assert.rejects(store.read('x'.repeat(5000)), { code: 'bad_path' });
  store.close();
});
