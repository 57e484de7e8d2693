import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import type { DeliveryEvent } from '../src/index.ts';
import { testNetwork } from './helpers.ts';

const net = testNetwork('reliable');
const boot = (identity: TwinIdentity, listen?: string[]) => net.withMailbox(identity, { listen });

test('1,000 reliable sends survive the receiver going away: each stored once, in order', async () => {
  const aliceId = TwinIdentity.fromMnemonic('alice', newMnemonic());
  const bobId = TwinIdentity.fromMnemonic('bob', newMnemonic());
  const alice = await boot(aliceId);
  let bob = await boot(bobId, ['/ip4/127.0.0.1/tcp/0']);
  const events: DeliveryEvent[] = [];
  alice.bus.on('delivery', (e) => events.push(e));
  let stored = 0;
  bob.bus.on('message', () => {
    stored++;
  });

  const ids: string[] = [];
  for (let i = 1; i <= 1000; i++) ids.push(await alice.bus.send('bob', 'note', Buffer.from(`message ${i}`)));
  // Take bob down while deliveries are in flight, then bring him back on a new port.
  while (stored < 200) await new Promise((r) => setTimeout(r, 5));
  await bob.stop();
  await new Promise((r) => setTimeout(r, 500));
  bob = await boot(bobId);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && events.filter((e) => e.status === 'delivered').length < 1000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const inbox = bob.mailbox.inbox(alice.id, 0, 5000);
  assert.equal(inbox.length, 1000, 'every message stored exactly once');
  inbox.forEach((m, i) => {
    assert.equal(m.seq, i + 1);
    assert.equal(m.payload.toString(), `message ${i + 1}`);
  });
  const delivered = new Set(events.filter((e) => e.status === 'delivered').map((e) => e.id));
  assert.equal(delivered.size, 1000);
  for (const id of ids) assert.equal(alice.mailbox.status(id), 'delivered');
  assert.equal(events.filter((e) => e.status === 'queued').length, 1000);
  await alice.stop();
  await bob.stop();
});

test('messages past their ttl expire instead of being delivered late', async () => {
  const sender = await boot(TwinIdentity.fromMnemonic('carol', newMnemonic()));
  const gone = await boot(TwinIdentity.fromMnemonic('dave', newMnemonic()));
  await gone.stop(); // dave is offline
  const events: DeliveryEvent[] = [];
  sender.bus.on('delivery', (e) => events.push(e));
  const id = await sender.bus.send('dave', 'note', Buffer.from('short-lived'), { ttlMs: 300 });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && sender.mailbox.status(id) === 'queued')
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(sender.mailbox.status(id), 'expired');
  assert.deepEqual(
    events.map((e) => e.status),
    ['queued', 'expired'],
  );
  await sender.stop();
});

test('messages stored together: a handler that throws rolls back its own message only, retried until it succeeds', async () => {
  const alice = await boot(TwinIdentity.fromMnemonic('erin', newMnemonic()));
  const bob = await boot(TwinIdentity.fromMnemonic('frank', newMnemonic()));
  let failures = 0;
  bob.bus.onMessage('note', (m) => {
    // writes through the mailbox database: commits with the message, or not at all
    bob.mailbox.db.prepare('CREATE TABLE IF NOT EXISTS seen (payload TEXT)').run();
    bob.mailbox.db.prepare('INSERT INTO seen VALUES (?)').run(m.payload.toString());
    if (m.payload.toString() === 'message 7' && failures < 2) {
      failures++;
      throw new Error('not yet');
    }
  });
  const events: string[] = [];
  bob.bus.on('message', (m) => events.push(m.payload.toString()));
  // sent in one turn: committed together on the sender, arriving together at the receiver
  const ids = await Promise.all(
    Array.from({ length: 20 }, (_, i) => alice.bus.send('frank', 'note', Buffer.from(`message ${i + 1}`))),
  );
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && ids.some((id) => alice.mailbox.status(id) !== 'delivered'))
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(failures, 2);
  const inbox = bob.mailbox.inbox(alice.id, 0, 100).map((m) => m.payload.toString());
  assert.deepEqual(inbox.sort(), Array.from({ length: 20 }, (_, i) => `message ${i + 1}`).sort());
  const seen = bob.mailbox.db.prepare('SELECT payload FROM seen').all() as { payload: string }[];
  assert.equal(seen.length, 20, 'the handler writes of the failed attempts were rolled back');
  assert.deepEqual(events.slice().sort(), inbox.slice().sort(), 'one event per stored message');
  await alice.stop();
  await bob.stop();
});
