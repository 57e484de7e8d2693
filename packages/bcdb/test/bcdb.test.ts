import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { Bcdb, BcdbError, encodeRecord, type FindQuery, PRIVATE_ACL } from '../src/index.ts';

const OWNER = 1;
let dir: string;
let server: ZdbServer;
let nsCount = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bcdb-'));
  server = await ZdbServer.start({
    port: 0,
    data: join(dir, 'zdb-data'),
    index: join(dir, 'zdb-index'),
    mode: 'mix',
    admin: 'adm',
  });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh sequential-mode namespace and a client selected on it. */
async function namespace(): Promise<ZdbClient> {
  const name = `bcdb${++nsCount}`;
  const admin = new ZdbClient({ port: server.port, admin: 'adm' });
  await admin.nsnew(name);
  await admin.nsset(name, 'mode', 'seq');
  await admin.nsset(name, 'password', 'pw');
  admin.close();
  return new ZdbClient({ port: server.port, namespace: name, password: 'pw', pool: 2 });
}

async function open(zdb?: ZdbClient, index = join(dir, `index-${nsCount}-${Math.random()}.sqlite`)) {
  const client = zdb ?? (await namespace());
  return { db: await Bcdb.open({ indexPath: index, zdb: client, owner: OWNER }), zdb: client, index };
}

const code = (c: BcdbError['code']) => (e: unknown) => e instanceof BcdbError && e.code === c;

describe('bcdb objects', () => {
  test('set, get, update with expected version, delete', async () => {
    const { db, zdb } = await open();
    const a = await db.set('contacts', Buffer.from('alice'), { tags: { kind: 'friend', city: 'ghent' } });
    assert.equal(a.version, 1);
    const got = await db.get(a.id);
    assert.equal(got.data.toString(), 'alice');
    assert.deepEqual(got.tags, { kind: 'friend', city: 'ghent' });
    const b = await db.update(a.id, { data: Buffer.from('alice v2'), expectedVersion: 1 });
    assert.equal(b.version, 2);
    await assert.rejects(db.update(a.id, { tags: { kind: 'x' }, expectedVersion: 1 }), code('conflict'));
    const c = await db.update(a.id, { tags: { kind: 'family' } });
    assert.equal((await db.get(a.id)).data.toString(), 'alice v2', 'a tag update keeps the data');
    assert.equal(c.version, 3);
    await db.delete(a.id);
    await assert.rejects(db.get(a.id), code('not_found'));
    await assert.rejects(db.update(a.id, { tags: {} }), code('not_found'));
    await assert.rejects(db.set('', Buffer.alloc(0)), code('bad_request'));
    await assert.rejects(db.set('c', Buffer.alloc(0), { acl: 99 }), code('not_found'));
    db.close();
    zdb.close();
  });

  test('find: tag equality (AND), prefix, order by time, cursor pages, streaming', async () => {
    const { db, zdb } = await open();
    for (let i = 0; i < 250; i++) {
      await db.set('messages', Buffer.from(`m${i}`), {
        tags: {
          chat: `c${i % 5}`,
          from: i % 2 ? 'bob' : 'carol',
          day: `2026-11-${String(1 + (i % 30)).padStart(2, '0')}`,
        },
      });
    }
    await db.set('other', Buffer.from('x'), { tags: { chat: 'c0' } });
    const both = db.find({ collection: 'messages', tags: { chat: 'c1', from: 'bob' }, limit: 1000 });
    assert.equal(both.objects.length, 25, 'chat c1 and from bob: i ≡ 1 (mod 10)');
    assert.ok(both.objects.every((o) => o.tags.chat === 'c1' && o.tags.from === 'bob'));
    const prefix = db.find({
      collection: 'messages',
      prefix: { key: 'day', value: '2026-11-0' },
      limit: 1000,
    });
    assert.equal(
      prefix.objects.length,
      Array.from({ length: 250 }, (_, i) => i % 30).filter((d) => d < 9).length,
    );
    assert.ok(prefix.objects.every((o) => o.tags.day!.startsWith('2026-11-0')));
    const newest = db.find({ collection: 'messages', limit: 3 });
    assert.deepEqual(
      newest.objects.map((o) => o.id),
      [250, 249, 248],
    );
    const oldest = db.find({ collection: 'messages', limit: 2, order: 'asc' });
    assert.deepEqual(
      oldest.objects.map((o) => o.id),
      [1, 2],
    );
    const seen = new Set<number>();
    let cursor: string | undefined;
    do {
      const page = db.find({ collection: 'messages', tags: { chat: 'c3' }, limit: 7, cursor });
      for (const o of page.objects) seen.add(o.id);
      cursor = page.cursor ?? undefined;
    } while (cursor);
    assert.equal(seen.size, 50);
    let streamed = 0;
    for await (const _ of db.stream({ collection: 'messages', limit: 13 })) streamed++;
    assert.equal(streamed, 250);
    db.close();
    zdb.close();
  });

  test('ACLs: owner, granted, never granted, revoked, wrong permission', async () => {
    const { db, zdb } = await open();
    const acl = await db.createAcl({ 2: 'r', 3: 'rw' });
    const shared = await db.set('files', Buffer.from('shared'), { acl: acl.id, tags: { name: 'doc' } });
    const secret = await db.set('files', Buffer.from('secret'), { tags: { name: 'doc' } });
    assert.equal(secret.acl, PRIVATE_ACL);
    // owner
    assert.equal((await db.get(secret.id, OWNER)).data.toString(), 'secret');
    // granted read
    assert.equal((await db.get(shared.id, 2)).data.toString(), 'shared');
    assert.deepEqual(
      db.find({ collection: 'files', tags: { name: 'doc' } }, 2).objects.map((o) => o.id),
      [shared.id],
    );
    // wrong permission: read-only twin writes / deletes
    await assert.rejects(db.update(shared.id, { data: Buffer.from('x') }, 2), code('denied'));
    await assert.rejects(db.delete(shared.id, 2), code('denied'));
    // granted write
    await db.update(shared.id, { data: Buffer.from('edited by 3') }, 3);
    await assert.rejects(
      db.update(shared.id, { acl: PRIVATE_ACL }, 3),
      code('denied'),
      'only the owner changes ACLs',
    );
    // never granted
    await assert.rejects(db.get(shared.id, 4), code('denied'));
    await assert.rejects(db.get(secret.id, 2), code('denied'));
    assert.deepEqual(db.find({ collection: 'files' }, 4).objects, []);
    // revoked
    await db.revoke(acl.id, [2]);
    await assert.rejects(db.get(shared.id, 2), code('denied'));
    await db.grant(acl.id, [4], 'rd');
    await db.delete(shared.id, 4);
    await assert.rejects(db.get(shared.id), code('not_found'));
    assert.deepEqual(db.getAcl(acl.id).entries, { 3: 'rw', 4: 'dr'.split('').sort().join('') });
    await assert.rejects(db.setPermissions(acl.id, 5, 'rx'), code('bad_request'));
    await assert.rejects(db.set('files', Buffer.alloc(0), {}, 2), code('denied'));
    db.close();
    zdb.close();
  });
});

describe('bcdb index: 0-db is the truth', () => {
  test('records written to 0-db but not to the index (a crash in between) are applied on open', async () => {
    const { db, zdb, index } = await open();
    const a = await db.set('notes', Buffer.from('before'), { tags: { t: '1' } });
    db.close();
    // what a crash leaves behind: two records in 0-db that the index never saw
    const now = Date.now();
    await zdb.append(
      encodeRecord(
        {
          kind: 'object',
          id: a.id + 1,
          collection: 'notes',
          tags: { t: '2' },
          acl: 0,
          version: 1,
          created: now,
          updated: now,
        },
        Buffer.from('lost?'),
      ),
    );
    await zdb.append(
      encodeRecord(
        {
          kind: 'object',
          id: a.id,
          collection: 'notes',
          tags: { t: '1b' },
          acl: 0,
          version: 2,
          created: now,
          updated: now + 1,
        },
        Buffer.from('after'),
      ),
    );
    const reopened = await Bcdb.open({ indexPath: index, zdb, owner: OWNER });
    assert.equal((await reopened.get(a.id + 1)).data.toString(), 'lost?');
    assert.equal((await reopened.get(a.id)).data.toString(), 'after');
    assert.equal((await reopened.get(a.id)).version, 2);
    const next = await reopened.set('notes', Buffer.from('new'));
    assert.equal(next.id, a.id + 2, 'ids continue after the replayed records');
    reopened.close();
    zdb.close();
  });

  test('deleting the SQLite file and rebuilding gives identical query results over 100,000 objects', async () => {
    const { db, zdb, index } = await open();
    const acl = await db.createAcl({ 7: 'r' });
    const n = 100_000;
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = w; i < n; i += 64) {
          await db.set(i % 3 ? 'posts' : 'files', Buffer.from(`object ${i}`), {
            tags: { author: `t${i % 7}`, topic: `topic-${i % 11}`, word: `w${i % 100}` },
            acl: i % 2 ? acl.id : 0,
          });
        }
      }),
    );
    for (let id = 1; id <= n; id += 10)
      await db.update(id, { tags: { author: 'edited', topic: 'x', word: `w${id}` } });
    for (let id = 5; id <= n; id += 5000) await db.delete(id);
    const queries: FindQuery[] = [
      { collection: 'posts', tags: { author: 't3', topic: 'topic-5' }, limit: 1000 },
      { collection: 'posts', prefix: { key: 'word', value: 'w1' }, limit: 1000 },
      { collection: 'files', limit: 1000, order: 'asc' },
      { collection: 'posts', tags: { author: 'edited' }, limit: 1000 },
    ];
    const snapshot = () => queries.map((q) => db.find(q).objects);
    const before = snapshot();
    const asSeven = db.find({ collection: 'posts', limit: 1000 }, 7).objects.map((o) => o.id);
    assert.ok(before.every((r) => r.length > 0));
    const replayed = await db.rebuild();
    assert.ok(replayed >= n);
    assert.deepEqual(snapshot(), before);
    // delete the SQLite file itself: opening rebuilds the index from 0-db alone
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${index}${suffix}`, { force: true });
    const fresh = await Bcdb.open({ indexPath: index, zdb, owner: OWNER });
    assert.deepEqual(
      queries.map((q) => fresh.find(q).objects),
      before,
    );
    assert.deepEqual(
      fresh.find({ collection: 'posts', limit: 1000 }, 7).objects.map((o) => o.id),
      asSeven,
    );
    assert.deepEqual(fresh.getAcl(acl.id).entries, { 7: 'r' });
    fresh.close();
    zdb.close();
  });
});
