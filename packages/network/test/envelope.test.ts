/** Envelopes sealed alone and in batches (one signature over a Merkle root): each verifies on its own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import {
  envelopeHeader,
  MAX_SEAL_BATCH_DEPTH,
  NetworkError,
  openEnvelope,
  sealEnvelope,
  sealEnvelopes,
  verifyEnvelope,
} from '../src/index.ts';

const alice = TwinIdentity.fromMnemonic('alice', newMnemonic());
const mallory = TwinIdentity.fromMnemonic('mallory', newMnemonic());
const key = (t: TwinIdentity) => Buffer.from(t.signingPublicKey).toString('base64');
const items = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    header: envelopeHeader('message', 1, 2, 'note', { epoch: '0123456789abcdef', seq: i + 1 }),
    payload: Buffer.from(`message ${i}`),
  }));
const flip = (frame: Buffer, at: number) => {
  const copy = Buffer.from(frame);
  copy[at] = copy[at]! ^ 1;
  return copy;
};

test('every envelope of a batch verifies alone, with its leaf and depth in its signed header', () => {
  for (const n of [2, 3, 5, 64]) {
    const frames = sealEnvelopes(alice, items(n));
    assert.equal(frames.length, n);
    frames.forEach((frame, i) => {
      const env = openEnvelope(frame);
      assert.equal(env.header.leaf, i);
      assert.equal(env.header.depth, Math.max(1, Math.ceil(Math.log2(n))));
      assert.equal(env.payload.toString(), `message ${i}`);
      assert.ok(verifyEnvelope(env, key(alice)), `n=${n} leaf ${i}`);
      assert.ok(!verifyEnvelope(env, key(mallory)));
    });
  }
});

test('one envelope is sealed singly; more than the deepest batch is refused', () => {
  const [frame] = sealEnvelopes(alice, items(1));
  const env = openEnvelope(frame!);
  assert.equal(env.header.depth, undefined);
  assert.equal(env.signature.length, 64);
  assert.ok(verifyEnvelope(env, key(alice)));
  assert.throws(
    () => sealEnvelopes(alice, items(2 ** MAX_SEAL_BATCH_DEPTH + 1)),
    (e: unknown) => e instanceof NetworkError && e.code === 'too_large',
  );
});

test('a changed byte anywhere (body, sibling hash, signature) fails, even after the root was verified', () => {
  const frames = sealEnvelopes(alice, items(4));
  assert.ok(verifyEnvelope(openEnvelope(frames[1]!), key(alice))); // the root is now remembered
  const frame = frames[2]!;
  const end = frame.length;
  for (const at of [end - 64 - 64 - 5, end - 64 - 40, end - 64 - 1, end - 30]) {
    const env = openEnvelope(flip(frame, at));
    assert.ok(!verifyEnvelope(env, key(alice)), `byte ${at}`);
  }
  // a sibling's proof does not fit another body: swap the proofs of leaves 0 and 1
  const a = openEnvelope(frames[0]!);
  const b = openEnvelope(frames[1]!);
  assert.ok(!verifyEnvelope({ ...a, signature: b.signature }, key(alice)));
});

test('the batch signature is not an envelope signature, and a leaf outside the tree is malformed', () => {
  const frames = sealEnvelopes(alice, items(2));
  const env = openEnvelope(frames[0]!);
  const signature = env.signature.subarray(32);
  // the root's signature presented as a single envelope's signature
  const single = sealEnvelope(alice, envelopeHeader('message', 1, 2, 'note', { seq: 1 }), Buffer.from('x'));
  const forged = openEnvelope(Buffer.concat([single.subarray(0, single.length - 64), signature]));
  assert.ok(!verifyEnvelope(forged, key(alice)));
  const badLeaf = sealEnvelope(
    alice,
    { ...envelopeHeader('message', 1, 2, 'note'), leaf: 2, depth: 1 },
    Buffer.alloc(0),
  );
  assert.throws(
    () => openEnvelope(Buffer.concat([badLeaf, Buffer.alloc(32)])),
    (e: unknown) => e instanceof NetworkError && e.code === 'bad_envelope',
  );
});
