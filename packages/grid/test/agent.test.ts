import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ZdbClient } from '@twin/zdb';
import {
  deploymentHash,
  GridError,
  type NodeAgent,
  signDeployment,
  type UnsignedDeployment,
} from '../src/index.ts';
import { GiB, MiB, until, World } from './helpers.ts';

const code = (c: GridError['code']) => (e: unknown) => e instanceof GridError && e.code === c;
const zdb = (name: string, size = 64 * MiB, password = 'secret') => ({
  name,
  type: 'zdb',
  version: 0,
  data: { size, mode: 'user', password, public: false },
});

describe('node agent', () => {
  const world = new World();
  let node: NodeAgent;
  let other: NodeAgent;
  let alice: Awaited<ReturnType<World['user']>>;
  let mallory: Awaited<ReturnType<World['user']>>;

  before(async () => {
    await world.start();
    const farmer = world.twin('farmer');
    const farm = await world.farm(farmer, 'farm-a');
    node = await world.node({ farm, farmer });
    other = await world.node({ farm, farmer });
    alice = await world.user('alice');
    mallory = await world.user('mallory');
  });
  after(() => world.stop());

  const deployment = (workloads: object[], o: Partial<UnsignedDeployment> = {}): UnsignedDeployment => ({
    version: 0,
    twin: alice.id,
    node: node.nodeId,
    metadata: '',
    workloads: workloads as UnsignedDeployment['workloads'],
    ...o,
  });
  /** Creates a contract for `hash` on `nodeId` as alice. */
  const contract = async (hash: string, nodeId = node.nodeId) =>
    (
      await world.client.submitAs(alice.identity, (t, nonce, timestamp) => ({
        kind: 'contract.create',
        twin: t.id,
        nonce,
        timestamp,
        node: nodeId,
        deploymentHash: hash,
      }))
    ).contract!;
  const nothingProvisioned = async () => {
    assert.deepEqual((await node.statistics()).used, { cpu: 0, memory: 0, storage: 0 });
    const ns = await new ZdbClient({
      port: (node as unknown as { zdb: { serverPort: number } }).zdb.serverPort,
    })
      .nslist()
      .catch(() => []);
    assert.deepEqual(
      ns.filter((n) => n !== 'default'),
      [],
    );
  };

  test('refusals, each with its code and nothing provisioned', async () => {
    const d = deployment([zdb('store')]);
    const signed = alice.grid.sign(d);
    const hash = deploymentHash(signed);
    // no contract at all
    await assert.rejects(alice.grid.send('grid.deployment.deploy', 99_999, signed), code('no_contract'));
    // a contract holding another hash
    const c1 = await contract(deploymentHash(deployment([zdb('other')])));
    await assert.rejects(alice.grid.send('grid.deployment.deploy', c1, signed), code('hash_mismatch'));
    // a contract for another node (the deployment names this node)
    const c2 = await contract(hash, other.nodeId);
    await assert.rejects(alice.grid.send('grid.deployment.deploy', c2, signed), code('wrong_node'));
    // the deployment names another node than the one it is sent to
    const forOther = alice.grid.sign(deployment([zdb('store')], { node: other.nodeId }));
    const c3 = await contract(deploymentHash(forOther));
    await assert.rejects(
      alice.grid.call(node.nodeId, 'grid.deployment.deploy', {
        contract: c3,
        deployment: Buffer.from(JSON.stringify(forOther)).toString('base64'),
      }),
      code('bad_deployment'), // not canonical: the node checks the bytes before anything else
    );
    // signed by another twin (mallory signs alice's deployment and sends it as herself)
    const byMallory = signDeployment(d, mallory.identity, mallory.id);
    const c4 = await contract(hash);
    await assert.rejects(mallory.grid.send('grid.deployment.deploy', c4, byMallory), code('wrong_sender'));
    // alice sends a deployment carrying only mallory's signature
    await assert.rejects(alice.grid.send('grid.deployment.deploy', c4, byMallory), code('bad_signature'));
    // mallory replays alice's correctly signed deployment: the bus sender is not the twin
    await assert.rejects(mallory.grid.send('grid.deployment.deploy', c4, signed), code('wrong_sender'));
    // over capacity (the node offers 10 GiB of storage)
    const big = alice.grid.sign(deployment([zdb('huge', 11 * GiB)]));
    const c5 = await contract(deploymentHash(big));
    await assert.rejects(alice.grid.send('grid.deployment.deploy', c5, big), code('over_capacity'));
    // invalid workload type and name (bytes built by hand: the client's types would not allow it)
    for (const w of [
      { ...zdb('vm'), type: 'vm' },
      { ...zdb('x'), name: 'Not Valid' },
    ]) {
      const bad = alice.grid.sign(deployment([w]));
      const c = await contract(deploymentHash(bad));
      await assert.rejects(alice.grid.send('grid.deployment.deploy', c, bad), code('invalid_workload'));
    }
    await nothingProvisioned();
  });

  test('deploy a zdb workload: provisioned, contract accepted, namespace usable with its password', async () => {
    const contractId = await alice.grid.deploy(deployment([zdb('store')]));
    const info = await alice.grid.wait(node.nodeId, contractId);
    const r = info.results.store!;
    assert.equal(r.state, 'ok');
    const data = r.data as { namespace: string; port: number; addresses: string[] };
    assert.equal(data.namespace, `c${contractId}-store`);
    await until(
      'contract active',
      async () => (await world.client.contract(contractId))!.contract.state === 'active',
    );
    const c = new ZdbClient({ port: data.port, namespace: data.namespace, password: 'secret' });
    await c.set('k', 'v');
    assert.equal((await c.get('k'))!.toString(), 'v');
    c.close();
    await assert.rejects(async () => {
      const wrong = new ZdbClient({ port: data.port, namespace: data.namespace, password: 'nope' });
      try {
        await wrong.ping();
      } finally {
        wrong.close();
      }
    });
    // a stranger cannot read alice's deployment
    await assert.rejects(mallory.grid.get(node.nodeId, contractId), code('forbidden'));
    assert.deepEqual((await node.statistics()).used, { cpu: 0, memory: 0, storage: 64 * MiB });

    // update: version + 1 only; a replayed older version is refused
    const v1 = deployment([zdb('store', 128 * MiB)], { version: 1 });
    await alice.grid.update(contractId, v1);
    await until('resized', async () => (await node.statistics()).used.storage === 128 * MiB);
    const replay = alice.grid.sign(deployment([zdb('store')]));
    await world.client.submitAs(alice.identity, (t, nonce, timestamp) => ({
      kind: 'contract.update',
      twin: t.id,
      nonce,
      timestamp,
      contract: contractId,
      deploymentHash: deploymentHash(replay),
    }));
    await assert.rejects(alice.grid.send('grid.deployment.update', contractId, replay), code('bad_version'));

    // cancel: the workloads go within seconds
    await alice.grid.cancel(contractId);
    await until(
      'removed',
      async () => (await alice.grid.get(node.nodeId, contractId)).state === 'deleted',
      10_000,
    );
    const after = await alice.grid.get(node.nodeId, contractId);
    assert.equal(after.results.store!.state, 'deleted');
    await nothingProvisioned();
  });

  test('a deploy the node refuses leaves no contract behind', async () => {
    const bad = deployment([zdb('huge', 20 * GiB)]);
    await assert.rejects(alice.grid.deploy(bad), code('over_capacity'));
    const mine = await world.client.backend.contracts({ twin: alice.id });
    const last = mine[mine.length - 1]!;
    assert.equal(last.deploymentHash, deploymentHash(alice.grid.sign(bad)));
    assert.equal(last.state, 'cancelled');
  });
});
