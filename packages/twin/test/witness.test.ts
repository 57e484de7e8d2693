/**
 * Twins comparing phonebook checkpoints over the bus (witness.ts): a server that shows two twins
 * two histories under one key is caught by the twin that asks; twins on one history agree; a
 * peer answering a checkpoint of another key, or garbage, is no evidence of anything.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, TwinBus, type TwinHost } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { CHECKPOINT_COMMAND, compareWithPeer, serveCheckpoint } from '../src/witness.ts';

const dirs: string[] = [];
const stops: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'twin-witness-'));
  dirs.push(d);
  return d;
};
async function phonebook(dataDir = tmp()): Promise<RunningPhonebook> {
  const pb = await startPhonebook({ dataDir, port: 0 });
  stops.push(() => pb.close());
  return pb;
}
async function twinOn(pb: RunningPhonebook, name: string) {
  const identity = TwinIdentity.fromMnemonic(name, newMnemonic());
  const host: TwinHost = await createTwinHost(identity);
  const lookups = new PhonebookClient({ url: pb.url });
  const record = await lookups.publish(identity, host.getMultiaddrs().map(String));
  const bus = new TwinBus({ identity, twinId: record.id, host, phonebook: lookups });
  return { identity, host, bus, id: record.id };
}

test('a twin shown another history than its contact finds out by asking it', async () => {
  const honest = await phonebook();
  const alice = await twinOn(honest, 'alice');
  const bob = await twinOn(honest, 'bob');
  // the same key, the same first entries, then a second history
  const liarDir = tmp();
  cpSync(join(honest.service.dataDir, 'server-key'), join(liarDir, 'server-key'), { recursive: true });
  const liar = await phonebook(liarDir);
  const replay = new PhonebookClient({ url: liar.url });
  for (const e of honest.service.ledger(1, 10)) await replay.submit({ tx: e.tx, signature: e.signature });
  await new PhonebookClient({ url: honest.url }).publish(TwinIdentity.fromMnemonic('carl', newMnemonic()));
  await replay.publish(TwinIdentity.fromMnemonic('dora', newMnemonic()));

  // what each twin's phonebook client has seen: alice the honest history, bob the liar's
  const aliceView = new PhonebookClient({ url: honest.url, serverKey: honest.service.serverKey });
  const bobView = new PhonebookClient({ url: liar.url, serverKey: honest.service.serverKey });
  await aliceView.checkpoint();
  await bobView.checkpoint();
  serveCheckpoint(bob.bus, bobView);
  serveCheckpoint(alice.bus, aliceView);
  for (const t of [alice, bob]) {
    await t.bus.start();
    stops.push(async () => {
      await t.bus.stop();
      await t.host.stop();
    });
  }
  const r = await compareWithPeer(alice.bus, aliceView, bob.id);
  assert.equal(r.result, 'two_histories');
  assert.match((r as { message: string }).message, /different history|does not extend/);
  // and the other way round
  assert.equal((await compareWithPeer(bob.bus, bobView, alice.id)).result, 'two_histories');
  // a twin that saw the honest history agrees with alice
  const carolView = new PhonebookClient({ url: honest.url, serverKey: honest.service.serverKey });
  await carolView.checkpoint();
  assert.equal((await compareWithPeer(bob.bus, carolView, alice.id)).result, 'agree');
});

test('a checkpoint of another server key, or garbage, proves nothing', async () => {
  const pb = await phonebook();
  const other = await phonebook();
  const alice = await twinOn(pb, 'ann');
  const mallory = await twinOn(pb, 'mal');
  const view = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
  await view.checkpoint();
  let answer: unknown = other.service.checkpoint();
  mallory.bus.handle(CHECKPOINT_COMMAND, () =>
    Buffer.from(typeof answer === 'string' ? answer : JSON.stringify(answer)),
  );
  for (const t of [alice, mallory]) {
    await t.bus.start();
    stops.push(async () => {
      await t.bus.stop();
      await t.host.stop();
    });
  }
  assert.equal((await compareWithPeer(alice.bus, view, mallory.id)).result, 'agree');
  // our own server's checkpoint with a forged signature
  const forged = pb.service.checkpoint();
  answer = { ...forged, checkpoint: { ...forged.checkpoint, root: 'ab'.repeat(32) } };
  assert.equal((await compareWithPeer(alice.bus, view, mallory.id)).result, 'agree');
  answer = 'not json';
  assert.equal((await compareWithPeer(alice.bus, view, mallory.id)).result, 'agree');
});
