import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import {
  type ContractProof,
  canonicalBytes,
  HEARTBEAT_CONTEXT,
  HeartbeatBoard,
  PhonebookClient,
  PhonebookError,
  type RunningPhonebook,
  signFarmGrant,
  startPhonebook,
  type Tx,
  verifyContractProof,
} from '../src/index.ts';

const dirs: string[] = [];
const running: RunningPhonebook[] = [];
after(async () => {
  for (const r of running) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(follow?: string): Promise<RunningPhonebook> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phonebook-grid-'));
  dirs.push(dataDir);
  const r = await startPhonebook({ dataDir, port: 0, follow, pollMs: 50 });
  running.push(r);
  return r;
}

const twin = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
const code = (c: PhonebookError['code']) => (e: unknown) => e instanceof PhonebookError && e.code === c;
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const capacity = { cpu: 2, memory: 2 ** 30, storage: 2 ** 34 };
const location = { country: 'BE', city: 'Ghent' };

/** A phonebook with a farmer, a farm, two nodes (twins of their own) and a user twin. */
async function grid() {
  const pb = await server();
  const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
  const farmer = twin('farmer');
  const user = twin('user');
  const stranger = twin('stranger');
  const nodeIds = [twin('node-one'), twin('node-two')];
  for (const t of [farmer, user, stranger, ...nodeIds]) await client.publish(t);
  const { farm } = await client.submitAs(farmer, (me, nonce, timestamp) => ({
    kind: 'farm.create',
    twin: me.id,
    nonce,
    timestamp,
    name: 'farm-one',
  }));
  const nodes: number[] = [];
  for (const n of nodeIds) {
    const grant = signFarmGrant(farmer, farm!, b64(n.signingPublicKey));
    const r = await client.submitAs(n, (me, nonce, timestamp) => ({
      kind: 'node.register',
      twin: me.id,
      nonce,
      timestamp,
      farm: farm!,
      capacity,
      location,
      addresses: [],
      grant,
    }));
    nodes.push(r.node!);
  }
  const as = (id: TwinIdentity, make: (twin: number, nonce: number, timestamp: number) => Tx) =>
    client.submitAs(id, (me, nonce, timestamp) => make(me.id, nonce, timestamp));
  const create = (node: number, hash = HASH_A, acceptWithin?: number) =>
    as(user, (t, nonce, timestamp) => ({
      kind: 'contract.create',
      twin: t,
      nonce,
      timestamp,
      node,
      deploymentHash: hash,
      ...(acceptWithin ? { acceptWithin } : {}),
    }));
  const accept = (by: TwinIdentity, contract: number, hash = HASH_A) =>
    as(by, (t, nonce, timestamp) => ({
      kind: 'contract.accept',
      twin: t,
      nonce,
      timestamp,
      contract,
      deploymentHash: hash,
    }));
  const cancel = (by: TwinIdentity, contract: number) =>
    as(by, (t, nonce, timestamp) => ({ kind: 'contract.cancel', twin: t, nonce, timestamp, contract }));
  const update = (by: TwinIdentity, contract: number, hash: string) =>
    as(by, (t, nonce, timestamp) => ({
      kind: 'contract.update',
      twin: t,
      nonce,
      timestamp,
      contract,
      deploymentHash: hash,
    }));
  return {
    pb,
    client,
    farmer,
    user,
    stranger,
    nodeIds,
    farm: farm!,
    nodes,
    as,
    create,
    accept,
    cancel,
    update,
  };
}

describe('grid on the ledger: nodes', () => {
  test('a node is a twin of its own, admitted by the farm owner; refusals', async () => {
    const g = await grid();
    const listed = await g.client.backend.nodes();
    assert.deepEqual(
      listed.map((n) => [n.id, n.farm, n.twin]),
      g.nodes.map((id, i) => [id, g.farm, 4 + i]),
    );
    const rogue = twin('rogue-node');
    await g.client.publish(rogue);
    const register = (grant: string, farm = g.farm) =>
      g.client.submitAs(rogue, (me, nonce, timestamp) => ({
        kind: 'node.register',
        twin: me.id,
        nonce,
        timestamp,
        farm,
        capacity,
        location,
        addresses: [],
        grant,
      }));
    // a grant signed by someone other than the farm's owner
    await assert.rejects(
      register(signFarmGrant(g.stranger, g.farm, b64(rogue.signingPublicKey))),
      code('forbidden'),
    );
    // the owner's grant for another node's key
    await assert.rejects(
      register(signFarmGrant(g.farmer, g.farm, b64(g.user.signingPublicKey))),
      code('forbidden'),
    );
    await assert.rejects(
      register(signFarmGrant(g.farmer, 99, b64(rogue.signingPublicKey)), 99),
      code('not_found'),
    );
    // a twin that is already a node
    const again = signFarmGrant(g.farmer, g.farm, b64(g.nodeIds[0]!.signingPublicKey));
    await assert.rejects(
      g.client.submitAs(g.nodeIds[0]!, (me, nonce, timestamp) => ({
        kind: 'node.register',
        twin: me.id,
        nonce,
        timestamp,
        farm: g.farm,
        capacity,
        location,
        addresses: [],
        grant: again,
      })),
      code('conflict'),
    );
    assert.equal((await g.client.backend.nodes()).length, 2);
  });
});

describe('grid on the ledger: contracts', () => {
  test('pending → active → updated → cancelled, each verified by the client', async () => {
    const g = await grid();
    const { contract } = await g.create(g.nodes[0]!);
    assert.ok(contract);
    let v = (await g.client.contract(contract))!;
    assert.equal(v.contract.state, 'pending');
    assert.equal(v.contract.deploymentHash, HASH_A);
    assert.equal(v.creatorKey, b64(g.user.signingPublicKey));
    await g.accept(g.nodeIds[0]!, contract);
    v = (await g.client.contract(contract))!;
    assert.equal(v.contract.state, 'active');
    assert.equal(v.acceptorKey, b64(g.nodeIds[0]!.signingPublicKey));
    await g.update(g.user, contract, HASH_B);
    v = (await g.client.contract(contract))!;
    assert.equal(v.contract.state, 'active');
    assert.equal(v.contract.deploymentHash, HASH_B);
    assert.equal(v.hashKey, b64(g.user.signingPublicKey));
    await g.cancel(g.user, contract);
    v = (await g.client.contract(contract))!;
    assert.equal(v.contract.state, 'cancelled');
    assert.equal(v.contract.cancelledBy, 'twin');
    assert.equal(await g.client.contract(9999), null);
    const mine = await g.client.backend.contracts({ twin: (await g.client.twin('user')).id });
    assert.deepEqual(
      mine.map((c) => [c.id, c.state]),
      [[contract, 'cancelled']],
    );
  });

  test('refusals: wrong signer, wrong hash, twice, a second active contract per node and hash', async () => {
    const g = await grid();
    const [n1, n2] = g.nodes as [number, number];
    const [id1, id2] = g.nodeIds as [TwinIdentity, TwinIdentity];
    await assert.rejects(g.create(777), code('not_found'));
    const { contract: c1 } = await g.create(n1);
    await assert.rejects(g.accept(id2, c1!), code('forbidden')); // another node
    await assert.rejects(g.accept(g.user, c1!), code('forbidden')); // the twin itself
    await assert.rejects(g.accept(id1, c1!, HASH_B), code('conflict')); // another hash
    await assert.rejects(g.update(g.stranger, c1!, HASH_B), code('forbidden'));
    await assert.rejects(g.update(g.user, c1!, HASH_A), code('conflict')); // same hash
    await assert.rejects(g.cancel(g.stranger, c1!), code('forbidden'));
    await g.accept(id1, c1!);
    await assert.rejects(g.accept(id1, c1!), code('conflict')); // already active
    await assert.rejects(g.cancel(id1, c1!), code('forbidden')); // the node accepted it
    // one active contract per (node, hash): a second one for the same pair cannot be accepted
    const { contract: c2 } = await g.create(n1);
    await assert.rejects(g.accept(id1, c2!), code('conflict'));
    // nor can an active contract be updated onto a pair another one holds
    const { contract: c3 } = await g.create(n1, HASH_B);
    await g.accept(id1, c3!, HASH_B);
    await assert.rejects(g.update(g.user, c3!, HASH_A), code('conflict'));
    // the same hash on another node is fine
    const { contract: c4 } = await g.create(n2);
    await g.accept(id2, c4!);
    // the node may cancel what it never accepted (it could not provision it)
    await g.cancel(id1, c2!);
    assert.equal((await g.client.contract(c2!))!.contract.cancelledBy, 'node');
    await assert.rejects(g.cancel(g.user, c2!), code('conflict')); // already cancelled
    await assert.rejects(g.accept(id1, c2!), code('conflict'));
    // contract transactions must be dated near the server's clock
    await assert.rejects(
      g.client.submitAs(g.user, (me, nonce) => ({
        kind: 'contract.create',
        twin: me.id,
        nonce,
        timestamp: Date.now() - 120_000,
        node: n1,
        deploymentHash: HASH_A,
      })),
      code('bad_timestamp'),
    );
  });

  test('a pending contract nobody accepts expires by itself, and cannot be accepted after', async () => {
    const g = await grid();
    const { contract } = await g.create(g.nodes[0]!, HASH_A, 1000);
    assert.equal((await g.client.contract(contract!))!.contract.state, 'pending');
    await sleep(1200);
    assert.equal((await g.client.contract(contract!))!.contract.state, 'expired');
    assert.equal((await g.client.backend.contracts({ node: g.nodes[0]! }))[0]!.state, 'expired');
    await assert.rejects(g.accept(g.nodeIds[0]!, contract!), code('conflict'));
    await assert.rejects(g.update(g.user, contract!, HASH_B), code('conflict'));
    await assert.rejects(g.cancel(g.user, contract!), code('conflict'));
  });

  test('a lying server cannot alter a contract; a replica replays contracts to the same states', async () => {
    const g = await grid();
    const { contract } = await g.create(g.nodes[0]!);
    await g.accept(g.nodeIds[0]!, contract!);
    const proof = (await g.client.backend.contractProof(contract!)) as ContractProof;
    const serverKey = g.pb.service.serverKey;
    assert.equal(verifyContractProof(proof, serverKey).contract.state, 'active');
    const tamper = (mutate: (p: ContractProof) => void) => {
      const copy = structuredClone(proof);
      mutate(copy);
      return () => verifyContractProof(copy, serverKey);
    };
    assert.throws(
      tamper((p) => {
        p.contract.deploymentHash = HASH_B;
      }),
      code('unverified'),
    );
    assert.throws(
      tamper((p) => {
        p.contract.node = 2;
      }),
      code('unverified'),
    );
    assert.throws(
      tamper((p) => {
        p.contract.twin = 1;
      }),
      code('unverified'),
    );
    // dropping the acceptance entry: the record no longer says active
    assert.throws(
      tamper((p) => {
        p.entries.pop();
      }),
      code('unverified'),
    );
    // claiming the contract is another id
    assert.throws(
      tamper((p) => {
        p.contract.id = contract! + 1;
      }),
      code('unverified'),
    );
    const replica = await server(g.pb.url);
    for (let i = 0; i < 100 && replica.service.state.height < g.pb.service.state.height; i++) await sleep(50);
    assert.deepEqual(replica.service.contracts({}), g.pb.service.contracts({}));
    const viaReplica = new PhonebookClient({ url: replica.url, serverKey });
    assert.equal((await viaReplica.contract(contract!))!.contract.state, 'active');
  });
});

describe('node heartbeats', () => {
  test('signed by the node twin, never replayed; status up → suspect → down by missed periods', async () => {
    const g = await grid();
    const node = g.nodes[0]!;
    const status = await g.client.heartbeat(g.nodeIds[0]!, node, 1000);
    assert.equal(status.status, 'up');
    // signed by someone else
    await assert.rejects(g.client.heartbeat(g.stranger, node, 1000), code('bad_signature'));
    await assert.rejects(g.client.heartbeat(g.nodeIds[0]!, 999, 1000), code('not_found'));
    // a replay of an older heartbeat
    const bytes = canonicalBytes({ node, timestamp: Date.now() - 5000, interval: 1000 });
    await assert.rejects(
      g.client.backend.heartbeat({
        heartbeat: bytes.toString('base64'),
        signature: b64(g.nodeIds[0]!.sign(HEARTBEAT_CONTEXT, bytes)),
      }),
      code('bad_nonce'),
    );
    // a heartbeat is not a ledger transaction
    const height = g.pb.service.state.height;
    const all = await g.client.backend.nodeStatus();
    assert.deepEqual(
      all.map((s) => [s.node, s.status]),
      [
        [node, 'up'],
        [g.nodes[1]!, 'down'],
      ],
    );
    assert.equal(g.pb.service.state.height, height);

    let now = 1_000_000;
    const board = new HeartbeatBoard(g.pb.service.state.nodes, g.pb.service.state.twins, () => now);
    const beat = (timestamp: number) => {
      const b = canonicalBytes({ node, timestamp, interval: 5000 });
      return board.beat({
        heartbeat: b.toString('base64'),
        signature: b64(g.nodeIds[0]!.sign(HEARTBEAT_CONTEXT, b)),
      });
    };
    assert.equal(beat(now).status, 'up');
    now += 14_999;
    assert.equal(board.status(node).status, 'up');
    now += 1;
    assert.equal(board.status(node).status, 'suspect'); // 3 periods missed
    now += 15_000;
    assert.equal(board.status(node).status, 'down'); // 6 periods missed
    assert.equal(beat(now).status, 'up');
  });
});
