import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, type InboxMessage, Mailbox, TwinBus } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import {
  type AccessDecision,
  AccessRequests,
  Bcdb,
  BcdbApi,
  BcdbError,
  RemoteBcdb,
  serveBcdb,
} from '../src/index.ts';

let dir: string;
let pb: RunningPhonebook;
let zdb: ZdbServer;
const stops: (() => Promise<void>)[] = [];

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
});
after(async () => {
  for (const s of stops.reverse()) await s();
  await zdb.close();
  await pb.close();
  rmSync(dir, { recursive: true, force: true });
});

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
      decisions.push(JSON.parse(m.payload.toString()) as AccessDecision);
  });
  stops.push(async () => {
    await bus.stop();
    await host.stop();
    mailbox.close();
  });
  return { id: record.id, bus, decisions };
}

const code = (c: string) => (e: unknown) => e instanceof BcdbError && e.code === c;

test('peer access over the bus: ACL matrix and access requests', async () => {
  const alice = await twin('alice');
  const admin = new ZdbClient({ port: zdb.port, admin: 'adm' });
  await admin.nsnew('alice-bcdb');
  await admin.nsset('alice-bcdb', 'mode', 'seq');
  admin.close();
  const client = new ZdbClient({ port: zdb.port, admin: 'adm', namespace: 'alice-bcdb' });
  const db = await Bcdb.open({ indexPath: join(dir, 'alice', 'bcdb.sqlite'), zdb: client, owner: alice.id });
  const denied: number[] = [];
  serveBcdb(alice.bus, db, (_m, f) => denied.push(f.twin as number));
  const requests = new AccessRequests(db, alice.bus);
  stops.push(async () => {
    db.close();
    client.close();
  });

  const [bob, carol, dave, eve] = [
    await twin('bob'),
    await twin('carol'),
    await twin('dave'),
    await twin('eve'),
  ];
  const acl = await db.createAcl({ [bob.id]: 'rwd', [dave.id]: 'r', [eve.id]: 'r' });
  const doc = await db.set('docs', Buffer.from('plan'), { acl: acl.id, tags: { title: 'plan' } });
  const priv = await db.set('docs', Buffer.from('diary'), { tags: { title: 'diary' } });
  await db.revoke(acl.id, [dave.id]);

  const as = (t: { bus: TwinBus }) => new RemoteBcdb(t.bus, 'alice');
  // granted (bob: rwd)
  assert.equal((await as(bob).get(doc.id)).data.toString(), 'plan');
  assert.deepEqual(
    (await as(bob).find({ collection: 'docs', tags: { title: 'plan' } })).objects.map((o) => o.id),
    [doc.id],
  );
  await as(bob).update(doc.id, { data: Buffer.from('plan v2'), expectedVersion: 1 });
  assert.equal((await db.get(doc.id)).data.toString(), 'plan v2');
  // never granted (carol)
  await assert.rejects(as(carol).get(doc.id), code('denied'));
  assert.deepEqual((await as(carol).find({ collection: 'docs' })).objects, []);
  await assert.rejects(as(carol).update(doc.id, { data: Buffer.from('x') }), code('denied'));
  await assert.rejects(as(carol).delete(doc.id), code('denied'));
  // revoked (dave)
  await assert.rejects(as(dave).get(doc.id), code('denied'));
  // wrong permission (eve: read only)
  assert.equal((await as(eve).get(doc.id)).data.toString(), 'plan v2');
  await assert.rejects(as(eve).update(doc.id, { tags: { title: 'hacked' } }), code('denied'));
  await assert.rejects(as(eve).delete(doc.id), code('denied'));
  // nobody but the owner reads the private object, whatever the payload claims
  await assert.rejects(as(bob).get(priv.id), code('denied'));
  const spoof = JSON.parse(
    (
      await bob.bus.request(
        'alice',
        'bcdb.get',
        Buffer.from(JSON.stringify({ id: priv.id, from: alice.id, caller: alice.id })),
      )
    ).toString(),
  );
  assert.equal(spoof.ok, false);
  assert.equal(spoof.error.code, 'denied');
  assert.ok(denied.includes(carol.id) && denied.includes(bob.id), 'denied calls are logged with the caller');
  // the same API reads a peer's objects and one's own
  const bobApi = new BcdbApi(db, bob.bus);
  assert.equal((await bobApi.get(doc.id, { twin: 'alice' })).data.toString(), 'plan v2');
  assert.equal((await new BcdbApi(db, alice.bus).get(doc.id)).data.toString(), 'plan v2');
  // bob may delete
  await as(bob).delete(doc.id);
  await assert.rejects(db.get(doc.id), code('not_found'));

  // access requests: carol asks for the 'photos' collection (approved), dave for the diary (declined)
  const photo = await db.set('photos', Buffer.from('jpeg bytes'), { tags: { album: 'summer' } });
  const r1 = await as(carol).requestAccess({ collection: 'photos' }, 'r', 'we were on that trip');
  const r2 = await as(dave).requestAccess({ object: priv.id }, 'r', 'curious');
  await assert.rejects(as(dave).requestAccess({ object: 999_999 }, 'r', 'x'), code('not_found'));
  await assert.rejects(as(carol).find({ collection: '_access_requests' }), code('denied'));
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
