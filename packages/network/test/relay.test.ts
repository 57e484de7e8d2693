import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { PhonebookClient } from '@twin/phonebook';
import { createTwinHost, TwinBus } from '../src/index.ts';
import { testNetwork } from './helpers.ts';

const net = testNetwork('relay');

test('a twin that accepts no inbound connections is reached through a relay twin, end to end', async () => {
  const phonebook = () => new PhonebookClient({ url: net.url, cacheTtlMs: 0 });
  const relayId = TwinIdentity.fromMnemonic('relay', newMnemonic());
  const relay = await createTwinHost(relayId, { relay: true });
  const relayAddr = relay.getMultiaddrs()[0]!.toString();

  // carol listens on nothing but a reservation at the relay
  const carolId = TwinIdentity.fromMnemonic('carol', newMnemonic());
  const carol = await createTwinHost(carolId, { listen: [`${relayAddr}/p2p-circuit`] });
  for (let i = 0; i < 100 && !carol.getMultiaddrs().some((a) => a.toString().includes('p2p-circuit')); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const carolAddrs = carol.getMultiaddrs().map(String);
  assert.ok(
    carolAddrs.length > 0 && carolAddrs.every((a) => a.includes('/p2p-circuit/')),
    `only relayed addresses: ${carolAddrs}`,
  );
  const carolRecord = await phonebook().publish(carolId, carolAddrs);
  const carolBus = new TwinBus({
    identity: carolId,
    twinId: carolRecord.id,
    host: carol,
    phonebook: phonebook(),
  });
  await carolBus.start();
  carolBus.handle('whoami', (_p, ctx) => Buffer.from(`carol answering twin ${ctx.from}`));

  const { host: alice, bus: aliceBus, id: aliceId } = await net.boot('alice');

  const reply = await aliceBus.request('carol', 'whoami', Buffer.alloc(0));
  assert.equal(reply.toString(), `carol answering twin ${aliceId}`);
  const conns = alice.getConnections(carol.peerId);
  assert.ok(
    conns.length > 0 && conns.every((c) => c.remoteAddr.toString().includes('/p2p-circuit')),
    'the connection is relayed',
  );
  // the relay only forwards bytes: the connection to carol is Noise-authenticated as carol herself
  assert.equal(conns[0]!.remotePeer.toString(), carol.peerId.toString());
  // a second, larger exchange over the same relayed connection
  carolBus.handle('echo', (p) => p);
  const big = Buffer.alloc(200 * 1024, 7);
  assert.deepEqual(await aliceBus.request('carol', 'echo', big), big);

  await carolBus.stop();
  for (const h of [carol, relay]) await h.stop();
});
