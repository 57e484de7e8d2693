import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { createTwinHost, type DeliveryEvent, Mailbox, TwinBus } from '../src/index.ts';

let dir: string;
let pb: RunningPhonebook;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reliable-'));
  pb = await startPhonebook({ dataDir: join(dir, 'pb'), port: 0 });
});
after(async () => {
  await pb.close();
  rmSync(dir, { recursive: true, force: true });
});

async function boot(identity: TwinIdentity, listen?: string[]) {
  const host = await createTwinHost(identity, { listen });
  const phonebook = new PhonebookClient({ url: pb.url, cacheTtlMs: 0 });
  const record = await phonebook.publish(identity, host.getMultiaddrs().map(String));
  const mailbox = new Mailbox(join(dir, identity.name, 'bus.sqlite'));
  const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
  await bus.start();
  return {
    id: record.id,
    host,
    bus,
    mailbox,
    async stop() {
      await bus.stop();
      await host.stop();
      mailbox.close();
    },
  };
}

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
