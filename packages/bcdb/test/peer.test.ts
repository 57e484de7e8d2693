import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, type InboxMessage, Mailbox, TwinBus } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import {
  type AccessDecision,
  AccessRequests,
  accessDecisionSchema,
  Bcdb,
  BcdbApi,
  BcdbError,
  MAX_CACHED_STATEMENTS,
  MAX_PAGE_SIZE,
  MAX_QUERY_TAGS,
  RemoteBcdb,
  serveBcdb,
} from '../src/index.ts';

let dir: string;
let pb: RunningPhonebook;
let zdb: ZdbServer;
const stops: (() => Promise<void>)[] = [];

type Twin = Awaited<ReturnType<typeof twin>>;
let alice: Twin;
let bob: Twin;
let carol: Twin;
let dave: Twin;
let eve: Twin;
let db: Bcdb;
let requests: AccessRequests;
const logged: { msg: string; fields: Record<string, unknown> }[] = [];

async function twin(name: string) {
  const identity = TwinIdentity.fromMnemonic(name, newMnemonic());
  const host = await createTwinHost(identity);
  const phonebook = new PhonebookClient({ url: pb.url, cacheTtlMs: 60_000 });
  const record = await phonebook.publish(identity, host.getMultiaddrs().map(String));
  const mailbox = new Mailbox(join(dir, name, 'bus.sqlite'));
  const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
  await bus.start();
  const decisions: AccessDecision[] = [];
  bus.on('message', (m: InboxMessage) => {
    if (m.command === 'bcdb.access.decision')
      decisions.push(accessDecisionSchema.parse(JSON.parse(m.payload.toString())));
  });
  stops.push(async () => {
    await bus.stop();
    await host.stop();
    mailbox.close();
  });
  return { id: record.id, bus, decisions };
}

/** A new BCDB for `owner` on its own 0-db namespace. */
async function openBcdb(owner: Twin, namespace: string) {
  const admin = new ZdbClient({ port: zdb.port, admin: 'adm' });
  await admin.nsnew(namespace);
  await admin.nsset(namespace, 'mode', 'seq');
  admin.close();
  const client = new ZdbClient({ port: zdb.port, admin: 'adm', namespace });
  const opened = await Bcdb.open({
    indexPath: join(dir, namespace, 'bcdb.sqlite'),
    zdb: client,
    owner: owner.id,
  });
  return { db: opened, client };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bcdb-peer-'));
  pb = await startPhonebook({ dataDir: join(dir, 'pb'), port: 0 });
  zdb = await ZdbServer.start({
    port: 0,
    data: join(dir, 'zd'),
    index: join(dir, 'zi'),
    mode: 'mix',
    admin: 'adm',
  });
  alice = await twin('alice');
  const opened = await openBcdb(alice, 'alice-bcdb');
  db = opened.db;
  serveBcdb(alice.bus, db, (msg, fields) => logged.push({ msg, fields }));
  requests = new AccessRequests(db, alice.bus);
  stops.push(async () => {
    db.close();
    opened.client.close();
  });
  [bob, carol, dave, eve] = [await twin('bob'), await twin('carol'), await twin('dave'), await twin('eve')];
});
after(async () => {
  for (const s of stops.reverse()) await s();
  await zdb.close();
  await pb.close();
  rmSync(dir, { recursive: true, force: true });
});

const code = (c: string) => (e: unknown) => e instanceof BcdbError && e.code === c;
const as = (t: { bus: TwinBus }) => new RemoteBcdb(t.bus, 'alice');
/** Sends raw bytes as a bcdb.* request from `t` and returns the parsed reply. */
async function raw(t: Twin, command: string, payload: string) {
  return JSON.parse((await t.bus.request('alice', command, Buffer.from(payload))).toString()) as {
    ok: boolean;
    result?: unknown;
    error?: { code: string; message: string };
  };
}

/** A shared document (bob rwd, eve r; dave granted then revoked) and a private one. */
async function documents() {
  const acl = await db.createAcl({ [bob.id]: 'rwd', [dave.id]: 'r', [eve.id]: 'r' });
  const doc = await db.set('docs', Buffer.from('plan'), { acl: acl.id, tags: { title: 'plan' } });
  const priv = await db.set('docs', Buffer.from('diary'), { tags: { title: 'diary' } });
  await db.revoke(acl.id, [dave.id]);
  return { doc, priv };
}

describe('peer access over the bus', () => {
  test('a granted peer reads, finds and updates', async () => {
    const { doc } = await documents();
    assert.equal((await as(bob).get(doc.id)).data.toString(), 'plan');
    assert.ok(
      (await as(bob).find({ collection: 'docs', tags: { title: 'plan' } })).objects.some(
        (o) => o.id === doc.id,
      ),
    );
    await as(bob).update(doc.id, { data: Buffer.from('plan v2'), expectedVersion: 1 });
    assert.equal((await db.get(doc.id)).data.toString(), 'plan v2');
  });

  test('a peer never granted reads, finds, updates and deletes nothing', async () => {
    const { doc } = await documents();
    await assert.rejects(as(carol).get(doc.id), code('denied'));
    assert.deepEqual((await as(carol).find({ collection: 'docs' })).objects, []);
    await assert.rejects(as(carol).update(doc.id, { data: Buffer.from('x') }), code('denied'));
    await assert.rejects(as(carol).delete(doc.id), code('denied'));
  });

  test('a revoked peer is refused', async () => {
    const { doc } = await documents();
    await assert.rejects(as(dave).get(doc.id), code('denied'));
  });

  test('a read-only peer neither writes nor deletes', async () => {
    const { doc } = await documents();
    assert.equal((await as(eve).get(doc.id)).data.toString(), 'plan');
    await assert.rejects(as(eve).update(doc.id, { tags: { title: 'hacked' } }), code('denied'));
    await assert.rejects(as(eve).delete(doc.id), code('denied'));
  });

  test('nobody but the owner reads a private object, whatever the payload claims', async () => {
    const { priv } = await documents();
    await assert.rejects(as(bob).get(priv.id), code('denied'));
    const spoof = await raw(
      bob,
      'bcdb.get',
      JSON.stringify({ id: priv.id, from: alice.id, caller: alice.id }),
    );
    assert.equal(spoof.ok, false);
    assert.equal(spoof.error?.code, 'denied');
  });

  test('denied calls are logged with the caller', async () => {
    const { doc, priv } = await documents();
    await assert.rejects(as(carol).get(doc.id), code('denied'));
    await assert.rejects(as(bob).get(priv.id), code('denied'));
    const denied = logged.filter((l) => l.msg === 'bcdb access denied').map((l) => l.fields.twin);
    assert.ok(denied.includes(carol.id) && denied.includes(bob.id));
  });

  test("one API reads a peer's objects and one's own", async () => {
    const { doc } = await documents();
    assert.equal((await new BcdbApi(db, bob.bus).get(doc.id, { twin: 'alice' })).data.toString(), 'plan');
    assert.equal((await new BcdbApi(db, alice.bus).get(doc.id)).data.toString(), 'plan');
  });

  test('a peer with d deletes', async () => {
    const { doc } = await documents();
    await as(bob).delete(doc.id);
    await assert.rejects(db.get(doc.id), code('not_found'));
  });
});

describe('access requests', () => {
  test('a collection request approved, an object request declined; both requesters told', async () => {
    const { priv } = await documents();
    const photo = await db.set('photos', Buffer.from('jpeg bytes'), { tags: { album: 'summer' } });
    const r1 = await as(carol).requestAccess({ collection: 'photos' }, 'r', 'we were on that trip');
    const r2 = await as(dave).requestAccess({ object: priv.id }, 'r', 'curious');
    const pending = await requests.list();
    assert.deepEqual(
      pending.map((r) => [r.id, r.requester]),
      [
        [r1.request, carol.id],
        [r2.request, dave.id],
      ],
    );
    await requests.approve(r1.request);
    await requests.decline(r2.request);
    await assert.rejects(requests.approve(r2.request), code('conflict'));
    assert.deepEqual(await requests.list(), []);
    const until = Date.now() + 10_000;
    while ((carol.decisions.length === 0 || dave.decisions.length === 0) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(carol.decisions[0]?.status, 'approved');
    assert.equal(dave.decisions[0]?.status, 'declined');
    assert.equal((await as(carol).get(photo.id)).data.toString(), 'jpeg bytes');
    assert.deepEqual(
      (await as(carol).list('photos')).objects.map((o) => o.id),
      [photo.id],
    );
    const later = await db.set('photos', Buffer.from('new'), { tags: { album: 'winter' } });
    assert.equal(
      (await as(carol).get(later.id)).data.toString(),
      'new',
      'a collection grant covers later objects',
    );
    await assert.rejects(
      as(carol).update(photo.id, { tags: {} }),
      code('denied'),
      'only the permissions asked for',
    );
    await assert.rejects(as(dave).get(priv.id), code('denied'));
    // the grants survive an index rebuild
    await db.rebuild();
    assert.equal((await as(carol).get(photo.id)).data.toString(), 'jpeg bytes');
  });

  test('a request for a missing object is not_found', async () => {
    await assert.rejects(as(dave).requestAccess({ object: 999_999 }, 'r', 'x'), code('not_found'));
  });

  test('the access requests themselves are private', async () => {
    await assert.rejects(as(carol).find({ collection: '_access_requests' }), code('denied'));
    await assert.rejects(as(carol).list('_access_requests'), code('denied'));
  });
});

describe('what a peer sends is parsed at the boundary', () => {
  test('malformed payloads are refused with bad_request naming the field', async () => {
    const { doc } = await documents();
    // a string id used to reach SQLite, which matched it to the object
    const stringId = await raw(bob, 'bcdb.get', JSON.stringify({ id: String(doc.id) }));
    assert.equal(stringId.ok, false);
    assert.equal(stringId.error?.code, 'bad_request');
    assert.match(stringId.error!.message, /^id: /);
    for (const [command, payload] of [
      ['bcdb.get', 'not json'],
      ['bcdb.get', '{"id": 1.5}'],
      ['bcdb.find', '{"collection": "docs", "tags": {"title": 5}}'],
      ['bcdb.find', '{"collection": "docs", "order": "sideways"}'],
      ['bcdb.set', `{"id": ${doc.id}, "data": "%%% not base64"}`],
      ['bcdb.access.request', '{"collection": "docs", "perms": "r", "reason": {"long": "object"}}'],
      ['bcdb.access.request', '{"collection": "docs", "perms": "rwx"}'],
    ] as const) {
      const reply = await raw(bob, command, payload);
      assert.equal(reply.error?.code, 'bad_request', `${command} ${payload}`);
    }
    assert.equal((await db.get(doc.id)).version, 1, 'nothing was written');
  });

  test('a huge limit is refused, and varying it does not grow the statement cache', async () => {
    await documents();
    const huge = await raw(bob, 'bcdb.find', JSON.stringify({ collection: 'docs', limit: 1e9 }));
    assert.equal(huge.error?.code, 'bad_request');
    assert.match(huge.error!.message, /^limit: /);
    await as(bob).find({ collection: 'docs', limit: 1 });
    const cached = db.catalog.cachedStatements;
    for (let limit = 2; limit <= 200; limit++) await as(bob).find({ collection: 'docs', limit });
    assert.equal(db.catalog.cachedStatements, cached, 'one statement serves every limit');
    assert.equal((await as(bob).find({ collection: 'docs', limit: MAX_PAGE_SIZE })).cursor, null);
  });

  test('too many tags in a query are refused; query shapes cannot grow the cache past its bound', async () => {
    const tags = Object.fromEntries(Array.from({ length: MAX_QUERY_TAGS + 1 }, (_, i) => [`k${i}`, 'v']));
    const many = await raw(bob, 'bcdb.find', JSON.stringify({ collection: 'docs', tags }));
    assert.equal(many.error?.code, 'bad_request');
    assert.throws(() => db.find({ collection: 'docs', tags }), code('bad_request'));
    for (let n = 0; n <= MAX_QUERY_TAGS; n++)
      for (const order of ['asc', 'desc'] as const)
        for (const cursor of [undefined, '1:1'])
          for (const prefix of [undefined, { key: 'title', value: 'p' }]) {
            const t = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
            await as(bob).find({ collection: 'docs', tags: t, order, cursor, prefix });
          }
    assert.ok(db.catalog.cachedStatements <= MAX_CACHED_STATEMENTS);
  });

  test('an unexpected failure answers internal, and its detail stays in the owner log', async () => {
    const other = await openBcdb(alice, 'alice-broken');
    const broken = await other.db.set('docs', Buffer.from('x'));
    const acl = await other.db.createAcl({ [bob.id]: 'r' });
    await other.db.update(broken.id, { acl: acl.id });
    serveBcdb(alice.bus, other.db, (msg, fields) => logged.push({ msg, fields }));
    other.client.close(); // 0-db unreachable: not the peer's fault
    try {
      const reply = await raw(bob, 'bcdb.get', JSON.stringify({ id: broken.id }));
      assert.equal(reply.error?.code, 'internal');
      assert.equal(reply.error?.message, 'bcdb.get failed');
      assert.ok(logged.some((l) => l.msg === 'bcdb internal error' && l.fields.command === 'bcdb.get'));
    } finally {
      serveBcdb(alice.bus, db, (msg, fields) => logged.push({ msg, fields }));
      other.db.close();
    }
  });

  test('a malformed reply from a peer is bad_reply', async () => {
    bob.bus.handle('bcdb.get', async () => Buffer.from(JSON.stringify({ ok: true, result: { id: 'x' } })));
    await assert.rejects(new RemoteBcdb(alice.bus, 'bob').get(1), code('bad_reply'));
    bob.bus.handle('bcdb.get', async () => Buffer.from('{"ok": false, "error": {"code": "EVIL"}}'));
    await assert.rejects(new RemoteBcdb(alice.bus, 'bob').get(1), code('bad_reply'));
  });
});
