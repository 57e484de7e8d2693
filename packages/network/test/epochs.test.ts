import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { BUS_PROTOCOL, type InboxMessage, Mailbox, openEnvelope, queueMessage } from '../src/index.ts';
import { testNetwork } from './helpers.ts';

const net = testNetwork('epochs');

type Twin = Awaited<ReturnType<typeof boot>>;

/** A twin whose whole bus state is the SQLite file at `state`. */
const boot = (identity: TwinIdentity, state: string) => net.withMailbox(identity, { mailbox: state });

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends `payloads` in order and waits until the sender's outbox has every one delivered. */
async function sendAll(from: Twin, to: string, payloads: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const p of payloads) ids.push(await from.bus.send(to, 'note', Buffer.from(p)));
  await until('deliveries', () => ids.every((id) => from.mailbox.status(id) === 'delivered'));
  return ids;
}

const texts = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix} ${from + i}`);

test('a sender restored from its mnemonic (whole state lost) has every message stored exactly once', async () => {
  const mnemonic = newMnemonic();
  let alice = await boot(
    TwinIdentity.fromMnemonic('alice', mnemonic),
    join(net.dir, 'alice-1', 'bus.sqlite'),
  );
  let bob = await boot(TwinIdentity.fromMnemonic('bob', newMnemonic()), join(net.dir, 'bob', 'bus.sqlite'));
  await sendAll(alice, 'bob', texts('before', 1, 30));
  const oldFrames = alice.mailbox.db.prepare('SELECT frame FROM outbox ORDER BY rowid').all() as {
    frame: Buffer;
  }[];

  // Alice loses her home; she is restored from her mnemonic onto a fresh one: a new, empty outbox.
  await alice.stop();
  alice = await boot(TwinIdentity.fromMnemonic('alice', mnemonic), join(net.dir, 'alice-2', 'bus.sqlite'));
  await sendAll(alice, 'bob', texts('after', 1, 40));

  let inbox = bob.mailbox.inbox(alice.id, 0, 1000);
  assert.equal(inbox.length, 70, 'all 30 + 40 stored');
  const epochs = [...new Set(inbox.map((m) => m.epoch))];
  assert.equal(epochs.length, 2, 'the restored outbox is a new sender epoch');
  assert.deepEqual(
    inbox.map((m) => m.payload.toString()),
    [...texts('before', 1, 30), ...texts('after', 1, 40)],
    'each once, in per-sender order within each epoch',
  );
  assert.deepEqual(
    inbox.map((m) => m.seq),
    [...Array.from({ length: 30 }, (_, i) => i + 1), ...Array.from({ length: 40 }, (_, i) => i + 1)],
  );

  // Alice's old frames (epoch 1) replayed byte for byte: acknowledged as the duplicates they are.
  const stream = await alice.host.dialProtocol(
    multiaddr(bob.host.getMultiaddrs()[0]!.toString()),
    BUS_PROTOCOL,
  );
  const lp = lpStream(stream);
  const eventsBefore = bob.received.length;
  for (const { frame } of oldFrames) {
    await lp.write(frame);
    const reply = openEnvelope((await lp.read()).subarray()).header;
    assert.equal(reply.error, undefined, 'a true duplicate is acknowledged');
  }
  await stream.close();
  assert.equal(bob.received.length, eventsBefore, 'and not handed to the application again');
  assert.equal(bob.mailbox.inbox(alice.id, 0, 1000).length, 70);

  // Restarting either side (same state) keeps exactly-once: alice continues her second epoch.
  await bob.stop();
  bob = await boot(bob.identity, join(net.dir, 'bob', 'bus.sqlite'));
  await alice.stop();
  alice = await boot(alice.identity, join(net.dir, 'alice-2', 'bus.sqlite'));
  await sendAll(alice, 'bob', texts('later', 1, 10));
  inbox = bob.mailbox.inbox(alice.id, 0, 1000);
  assert.deepEqual(
    inbox.map((m) => m.payload.toString()),
    [...texts('before', 1, 30), ...texts('after', 1, 40), ...texts('later', 1, 10)],
  );
  assert.deepEqual(
    inbox.slice(70).map((m) => [m.epoch, m.seq]),
    Array.from({ length: 10 }, (_, i) => [epochs[1], 41 + i]),
  );
  await alice.stop();
  await bob.stop();
});

test('message k refused transiently after k+1 was stored is delivered on retry, not taken for a duplicate', async () => {
  const carol = await boot(
    TwinIdentity.fromMnemonic('carol', newMnemonic()),
    join(net.dir, 'carol', 'bus.sqlite'),
  );
  const dave = await boot(
    TwinIdentity.fromMnemonic('dave', newMnemonic()),
    join(net.dir, 'dave', 'bus.sqlite'),
  );
  let refused = 0;
  dave.bus.onMessage('note', (m) => {
    if (m.payload.toString() === 'k' && refused++ === 0) throw new Error('disk full for a moment');
  });
  // Queued together, so that one batch carries k-1, k, k+1 down the same stream.
  const ids = ['k-1', 'k', 'k+1'].map(
    (p) => queueMessage(carol.mailbox, carol.identity, carol.id, dave.id, 'note', Buffer.from(p)).id,
  );
  carol.bus.flushOutbox();
  await until('deliveries', () => ids.every((id) => carol.mailbox.status(id) === 'delivered'));
  assert.equal(refused, 2, 'k was refused once, then stored on its retry');
  assert.deepEqual(
    dave.received.map((m) => m.payload.toString()),
    ['k-1', 'k+1', 'k'],
    'k+1 was stored before k came back',
  );
  assert.deepEqual(
    dave.mailbox.inbox(carol.id).map((m) => [m.seq, m.payload.toString()]),
    [
      [1, 'k-1'],
      [2, 'k'],
      [3, 'k+1'],
    ],
  );
  await carol.stop();
  await dave.stop();
});

test('a sender whose outbox was rolled back (restored from a backup) reuses slots: refused, moved to a new epoch, delivered', async () => {
  const erinState = join(net.dir, 'erin', 'bus.sqlite');
  const backup = join(net.dir, 'erin-backup', 'bus.sqlite');
  let erin = await boot(TwinIdentity.fromMnemonic('erin', newMnemonic()), erinState);
  const frank = await boot(
    TwinIdentity.fromMnemonic('frank', newMnemonic()),
    join(net.dir, 'frank', 'bus.sqlite'),
  );
  await sendAll(erin, 'frank', texts('one', 1, 5));
  new Mailbox(backup).close();
  await erin.mailbox.db.backup(backup);
  await sendAll(erin, 'frank', texts('two', 1, 5));
  await erin.stop();
  // Erin comes back with the backup: her outbox would number the next messages 6, 7, 8 again.
  erin = await boot(erin.identity, backup);
  await sendAll(erin, 'frank', texts('three', 1, 3));
  const inbox = frank.mailbox.inbox(erin.id, 0, 100);
  assert.deepEqual(
    inbox.slice(0, 10).map((m) => m.payload.toString()),
    [...texts('one', 1, 5), ...texts('two', 1, 5)],
  );
  // Each conflicting message moves to a fresh epoch when its refusal comes back: one or more.
  assert.deepEqual(
    inbox
      .slice(10)
      .map((m) => m.payload.toString())
      .sort(),
    texts('three', 1, 3),
    'every message stored once: none acknowledged as a duplicate of another',
  );
  assert.ok(inbox.slice(10).every((m) => m.epoch !== inbox[0]!.epoch));
  await erin.stop();
  await frank.stop();
});

test('a mailbox written before sender epochs keeps its inbox as the legacy epoch and its outbox queue', async () => {
  const path = join(net.dir, 'legacy', 'bus.sqlite');
  mkdirSync(join(net.dir, 'legacy'));
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(path);
  db.exec(`
    CREATE TABLE outbox (
      id TEXT PRIMARY KEY, dest INTEGER NOT NULL, seq INTEGER NOT NULL, command TEXT NOT NULL,
      frame BLOB NOT NULL, created INTEGER NOT NULL, ttl INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'queued', updated INTEGER NOT NULL
    );
    CREATE INDEX outbox_queue ON outbox (status, dest, seq);
    CREATE TABLE sequences (dest INTEGER PRIMARY KEY, next INTEGER NOT NULL);
    CREATE TABLE inbox (
      sender INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, command TEXT NOT NULL,
      payload BLOB NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (sender, seq)
    );
    CREATE TABLE senders (sender INTEGER PRIMARY KEY, last INTEGER NOT NULL);
    INSERT INTO outbox (id, dest, seq, command, frame, created, ttl, updated) VALUES ('q1', 9, 4, 'note', x'00', 1, 1, 1);
    INSERT INTO sequences VALUES (9, 5);
    INSERT INTO inbox VALUES (7, 1, 'old-1', 'note', x'61', 1);
    INSERT INTO senders VALUES (7, 1);
  `);
  db.close();
  const box = new Mailbox(path);
  assert.deepEqual(
    box.inbox(7).map((m) => [m.epoch, m.seq, m.id]),
    [['', 1, 'old-1']],
  );
  assert.deepEqual(
    box.queued(9, 10).map((m) => [m.id, m.epoch, m.seq]),
    [['q1', '', 4]],
  );
  const legacy = (id: string): InboxMessage => ({
    from: 7,
    epoch: '',
    seq: 1,
    id,
    command: 'note',
    payload: Buffer.from('a'),
    received: 2,
  });
  assert.equal(box.receive(legacy('old-1'), Buffer.from('retry')), 'duplicate');
  assert.equal(box.receive(legacy('other'), Buffer.from('other')), 'conflict');
  assert.equal(box.receive({ ...legacy('new'), epoch: '00112233aabbccdd' }, Buffer.from('new')), 'stored');
  const next = box.enqueue(9, (epoch, seq) => ({
    id: `m-${epoch}-${seq}`,
    command: 'note',
    frame: Buffer.alloc(1),
    created: 1,
    ttl: 1,
  }));
  assert.match(next.epoch, /^[0-9a-f]{16}$/, 'new messages start an epoch of their own');
  assert.equal(next.seq, 1);
  box.close();
});
