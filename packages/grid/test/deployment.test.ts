import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import {
  type Deployment,
  decodeDeployment,
  deploymentHash,
  encodeDeployment,
  GridError,
  signDeployment,
  type UnsignedDeployment,
  verifySignatures,
} from '../src/index.ts';

const code = (c: GridError['code']) => (e: unknown) => e instanceof GridError && e.code === c;
const alice = TwinIdentity.fromMnemonic('alice', newMnemonic());
const bob = TwinIdentity.fromMnemonic('bob', newMnemonic());
const carol = TwinIdentity.fromMnemonic('carol', newMnemonic());
const keys = new Map([
  [1, alice],
  [2, bob],
  [3, carol],
]);
const keyOf = async (t: number) => {
  const k = keys.get(t);
  return k ? Buffer.from(k.signingPublicKey).toString('base64') : null;
};

const base: UnsignedDeployment = {
  version: 0,
  twin: 1,
  node: 7,
  metadata: 'test',
  workloads: [
    {
      name: 'store',
      type: 'zdb',
      version: 0,
      data: { size: 1024, mode: 'user', password: 'pw', public: false },
    },
  ],
};

describe('deployment format', () => {
  test('the hash covers every field but the signatures, domain-separated and canonical', () => {
    const h = deploymentHash(base);
    assert.match(h, /^[0-9a-f]{64}$/);
    const signed = signDeployment(base, alice, 1);
    assert.equal(deploymentHash(signed), h);
    for (const change of [{ version: 1 }, { node: 8 }, { twin: 2 }, { metadata: 'other' }]) {
      assert.notEqual(deploymentHash({ ...base, ...change }), h);
    }
    const w = { ...base.workloads[0]!, data: { ...base.workloads[0]!.data, size: 2048 } };
    assert.notEqual(deploymentHash({ ...base, workloads: [w] }), h);
    // key order does not matter (canonical), the bytes round-trip exactly
    const bytes = encodeDeployment(signed);
    assert.deepEqual(decodeDeployment(bytes), signed);
    assert.throws(
      () => decodeDeployment(Buffer.from(JSON.stringify(signed, null, 1))),
      code('bad_deployment'),
    );
  });

  test('invalid workload names, types and data are refused', () => {
    const make = (w: object) => encodeDeployment({ ...base, workloads: [w], signatures: [] } as Deployment);
    const zdb = base.workloads[0]!;
    assert.throws(() => decodeDeployment(make({ ...zdb, name: 'Bad Name' })), code('invalid_workload'));
    assert.throws(() => decodeDeployment(make({ ...zdb, name: 'x'.repeat(40) })), code('invalid_workload'));
    assert.throws(() => decodeDeployment(make({ ...zdb, type: 'vm' })), code('invalid_workload'));
    assert.throws(
      () => decodeDeployment(make({ ...zdb, data: { size: -1, mode: 'user', password: '', public: false } })),
      code('invalid_workload'),
    );
    assert.throws(
      () => decodeDeployment(make({ ...zdb, data: { size: 1, mode: 'user', password: '', public: true } })),
      code('invalid_workload'),
    );
    assert.throws(() => decodeDeployment(make({ ...zdb, version: 3 })), code('invalid_workload'));
    const twice = encodeDeployment({ ...base, workloads: [zdb, zdb], signatures: [] } as Deployment);
    assert.throws(() => decodeDeployment(twice), code('invalid_workload'));
    assert.throws(
      () => decodeDeployment(make({ ...zdb, type: 'twin', data: { name: 'x', cpu: 1, memory: 1 } })),
      code('invalid_workload'),
    );
  });

  test('signatures: the twin alone by default; another twin or a bad signature is refused', async () => {
    await verifySignatures(signDeployment(base, alice, 1), keyOf);
    await assert.rejects(verifySignatures(signDeployment(base, bob, 2), keyOf), code('bad_signature'));
    // bob's signature claimed as alice's
    const forged = {
      ...signDeployment(base, bob, 2),
      signatures: [{ twin: 1, signature: signDeployment(base, bob, 2).signatures[0]!.signature }],
    };
    await assert.rejects(verifySignatures(forged, keyOf), code('bad_signature'));
    // signed, then changed
    const changed = { ...signDeployment(base, alice, 1), metadata: 'changed' };
    await assert.rejects(verifySignatures(changed, keyOf), code('bad_signature'));
    await assert.rejects(verifySignatures({ ...base, signatures: [] }, keyOf), code('bad_signature'));
  });

  test('multi-signature: weights add up; an optional signer who did not sign breaks nothing', async () => {
    const req = {
      ...base,
      signatureRequirement: {
        requests: [
          { twin: 1, weight: 1 },
          { twin: 2, weight: 1 },
          { twin: 3, weight: 1 },
        ],
        weightRequired: 2,
      },
    };
    const one = signDeployment(req, alice, 1);
    await assert.rejects(verifySignatures(one, keyOf), code('bad_signature'));
    const two = signDeployment(one, bob, 2);
    await verifySignatures(two, keyOf); // carol, optional, did not sign
    await verifySignatures(signDeployment(two, carol, 3), keyOf);
    // a signer not requested
    const dave = TwinIdentity.fromMnemonic('dave', newMnemonic());
    keys.set(4, dave);
    await assert.rejects(verifySignatures(signDeployment(two, dave, 4), keyOf), code('bad_signature'));
    // a requirement that leaves out the deployment's own twin
    const without = {
      ...base,
      signatureRequirement: { requests: [{ twin: 2, weight: 5 }], weightRequired: 1 },
    };
    await assert.rejects(verifySignatures(signDeployment(without, bob, 2), keyOf), code('bad_signature'));
  });
});
