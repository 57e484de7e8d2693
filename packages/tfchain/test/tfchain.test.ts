/**
 * The TFChain backend against TFChain's own runtime (spec 144) under chopsticks, started here in
 * this process from the genesis the project builds (tools/tfchain). Reset to the start block
 * between tests. Skipped, with the reason, when the test tooling is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, TwinBus, type TwinHost } from '@twin/network';
import type { PhonebookClient } from '@twin/phonebook';
import { type ContractEvent, type TfchainError, TfchainPhonebook } from '../src/index.ts';

const TOOLS = join(import.meta.dirname, '..', '..', '..', 'tools', 'tfchain');
const installed = existsSync(join(TOOLS, 'node_modules', '@acala-network', 'chopsticks'));
const skip = installed ? false : 'TFChain test tooling not installed: run `npm run tfchain:install`';

interface LocalChain {
  url: string;
  polkadot: unknown;
  reset(): Promise<void>;
  fund(address: string, free: bigint): Promise<void>;
  close(): Promise<void>;
}

const TFT = 10n ** 7n;
const twin = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());

describe('TFChain backend (runtime 144 under chopsticks)', { skip }, () => {
  let chain: LocalChain;
  let pb: TfchainPhonebook;
  const funded = async (name: string) => {
    const id = twin(name);
    await chain.fund(pb.address(id), 1000n * TFT);
    return id;
  };

  before(async () => {
    const harness = await import(pathToFileURL(join(TOOLS, 'chain.js')).href);
    chain = (await harness.startChain()) as LocalChain;
    pb = await TfchainPhonebook.connect(chain.url.replace(/^ws/, 'tfchain+ws'), { polkadot: chain.polkadot });
  });
  after(async () => {
    await pb?.close();
    await chain?.close();
  });
  beforeEach(() => chain.reset());

  test('two twins register and find each other by name and id, with their keys', async () => {
    const alice = await funded('alice');
    const bob = await funded('bob');
    const a = await pb.publish(alice, ['/ip4/127.0.0.1/tcp/4001']);
    const b = await pb.publish(bob, ['/ip4/127.0.0.1/tcp/4002']);
    assert.notEqual(a.id, b.id);
    const found = await pb.twin('bob');
    assert.equal(found.id, b.id);
    assert.equal(found.name, 'bob');
    assert.equal(found.signingKey, Buffer.from(bob.signingPublicKey).toString('base64'));
    assert.equal(found.encryptionKey, Buffer.from(bob.encryptionPublicKey).toString('base64'));
    assert.equal((await pb.twin(a.id)).name, 'alice');
    assert.equal((await pb.twinByKey(alice.signingPublicKey))?.id, a.id);
    await assert.rejects(pb.twin('carol'), (e: TfchainError) => e.code === 'not_found');
  });

  test("a twin's addresses change and are found again, with its peer id", async () => {
    const alice = await funded('alice');
    const first = await pb.publish(alice, ['/ip4/127.0.0.1/tcp/4001']);
    assert.equal(first.addresses.length, 1);
    assert.match(first.addresses[0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/4001\/p2p\/12D3Koo/);
    await pb.publish(alice, ['/ip4/10.0.0.7/tcp/4101', '/ip6/::1/tcp/4102']);
    const again = await pb.twin('alice');
    assert.equal(again.id, first.id);
    assert.deepEqual(
      again.addresses.map((a) => a.replace(/\/p2p\/.*$/, '')),
      ['/ip4/10.0.0.7/tcp/4101', '/ip6/::1/tcp/4102'],
    );
  });

  test('a name held by another twin is refused; an unfunded account gets a one-line error', async () => {
    await pb.publish(await funded('alice'), []);
    await assert.rejects(pb.publish(await funded('alice'), []), (e: TfchainError) => e.code === 'name_taken');
    await assert.rejects(pb.publish(twin('broke'), []), (e: TfchainError) => {
      assert.equal(e.code, 'no_funds');
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /fund it/);
      return true;
    });
  });

  test('a farm and three nodes are registered with capacity and location', async () => {
    const owner = await funded('farmer');
    await pb.publish(owner, []);
    const farm = await pb.createFarm(owner, 'farm_one');
    const nodes = [];
    const nodeIds: TwinIdentity[] = [];
    for (const [i, city] of ['Ghent', 'Cairo', 'Lima'].entries()) {
      const n = await funded(`node-${i}`);
      nodeIds.push(n);
      await pb.publish(n, []);
      nodes.push(
        await pb.createNode(
          n,
          farm.id,
          { cpu: 4 + i, memory: 8 * 2 ** 30, storage: 512 * 2 ** 30 },
          { country: 'Earth', city, latitude: 10 + i, longitude: 20 + i },
        ),
      );
    }
    assert.deepEqual(
      (await pb.farms()).map((f) => [f.id, f.name, f.twin]),
      [[farm.id, 'farm_one', farm.twin]],
    );
    const listed = await pb.nodes();
    assert.equal(listed.length, 3);
    assert.deepEqual(
      listed.map((n) => [n.farm, n.capacity.cpu, n.location.city, n.location.latitude]),
      [
        [farm.id, 4, 'Ghent', 10],
        [farm.id, 5, 'Cairo', 11],
        [farm.id, 6, 'Lima', 12],
      ],
    );
    assert.equal(listed[0]!.capacity.storage, 512 * 2 ** 30);
    // A node's heartbeat is TFChain's uptime report, signed by the node's own twin.
    assert.equal(await pb.reportUptime(nodeIds[1]!, 3600), nodes[1]!.id);
    await assert.rejects(
      pb.reportUptime(owner, 60),
      (e: TfchainError) => e.code === 'not_found' || e.code === 'chain_refused',
    );
  });

  test('a node contract carries the deployment hash; update, cancel, and the events a node follows', async () => {
    const owner = await funded('farmer');
    await pb.publish(owner, []);
    const farm = await pb.createFarm(owner, 'farm_two');
    const nodeTwin = await funded('node-a');
    await pb.publish(nodeTwin, []);
    const node = await pb.createNode(
      nodeTwin,
      farm.id,
      { cpu: 4, memory: 8 * 2 ** 30, storage: 512 * 2 ** 30 },
      { country: 'Belgium', city: 'Ghent' },
    );
    const events: ContractEvent[] = [];
    const stop = await pb.followContracts((e) => events.push(e), node.id);
    const user = await funded('alice');
    const me = await pb.publish(user, []);
    const hash = 'ab'.repeat(32);
    const c = await pb.createContract(user, node.id, hash);
    assert.deepEqual([c.twin, c.node, c.deploymentHash, c.state], [me.id, node.id, hash, 'active']);
    assert.deepEqual(await pb.contract(c.id), c);
    assert.deepEqual(
      (await pb.contracts({ node: node.id })).map((x) => x.id),
      [c.id],
    );
    const updated = await pb.updateContract(user, c.id, 'cd'.repeat(32));
    assert.equal(updated.deploymentHash, 'cd'.repeat(32));
    await assert.rejects(pb.cancelContract(nodeTwin, c.id), (e: TfchainError) => e.code === 'forbidden');
    await pb.cancelContract(user, c.id);
    assert.equal(await pb.contract(c.id), null);
    assert.deepEqual(await pb.contracts({ node: node.id }), []);
    for (let i = 0; i < 50 && !events.some((e) => e.kind === 'cancelled'); i++)
      await new Promise((r) => setTimeout(r, 100));
    stop();
    assert.deepEqual(
      events.map((e) => [e.kind, e.contract, e.deploymentHash]),
      [
        ['created', c.id, hash],
        ['updated', c.id, 'cd'.repeat(32)],
        ['cancelled', c.id, undefined],
      ],
    );
  });

  test('two twins registered on TFChain talk over the bus; an address claimed by another twin reaches no one', async () => {
    // The bus asks its phonebook only twin() and twinByKey(), which TfchainPhonebook has with the
    // same records; the bus is typed on the ledger's client class, hence the cast.
    const directory = pb as unknown as PhonebookClient;
    const hosts: TwinHost[] = [];
    const buses: TwinBus[] = [];
    try {
      const start = async (name: string) => {
        const identity = await funded(name);
        const host = await createTwinHost(identity, { listen: ['/ip4/127.0.0.1/tcp/0'] });
        hosts.push(host);
        const record = await pb.publish(identity, host.getMultiaddrs().map(String));
        const bus = new TwinBus({ identity, twinId: record.id, host, phonebook: directory });
        buses.push(bus);
        await bus.start();
        bus.handle('echo', (payload, ctx) => Buffer.concat([Buffer.from(`${ctx.from}:`), payload]));
        return { identity, record, host, bus };
      };
      const alice = await start('alice');
      const bob = await start('bob');
      assert.equal(
        (await alice.bus.request('bob', 'echo', Buffer.from('hi'))).toString(),
        `${alice.record.id}:hi`,
      );
      assert.equal(
        (await bob.bus.request(alice.record.id, 'echo', Buffer.from('yo'))).toString(),
        `${bob.record.id}:yo`,
      );
      // Mallory publishes Bob's addresses as hers: a request to mallory dials Bob's host, whose
      // Noise handshake proves Bob's key, not Mallory's: nothing is delivered to the wrong twin.
      const mallory = await funded('mallory');
      await pb.publish(mallory, bob.host.getMultiaddrs().map(String));
      assert.deepEqual(
        (await pb.twin('mallory')).addresses.map((a) => a.split('/p2p/')[0]),
        bob.host.getMultiaddrs().map((a) => String(a).split('/p2p/')[0]),
      );
      await assert.rejects(
        alice.bus.request('mallory', 'echo', Buffer.from('secret'), { timeoutMs: 3000 }),
        (e: Error & { code?: string }) => {
          assert.notEqual(e.code, 'unknown_twin');
          return true;
        },
      );
    } finally {
      for (const b of buses) await b.stop();
      for (const h of hosts) await h.stop();
    }
  });
});
