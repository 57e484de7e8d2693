import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  EMPTY_ROOT,
  leafHash,
  MerkleTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from '../src/merkle.ts';

/** The RFC 9162 definition, straight from the text, as the reference. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const N = 40;
const leaves = Array.from({ length: N }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
const tree = new MerkleTree();
for (const l of leaves) tree.append(l);

test('roots match the RFC 9162 definition at every size', () => {
  assert.deepEqual(tree.root(0), EMPTY_ROOT);
  for (let n = 1; n <= N; n++) assert.deepEqual(tree.root(n), mth(leaves.slice(0, n)), `size ${n}`);
});

test('every inclusion proof verifies, and fails for another leaf, index or root', () => {
  for (let n = 1; n <= N; n++) {
    const root = tree.root(n);
    for (let i = 0; i < n; i++) {
      const path = tree.inclusion(i, n);
      assert.ok(path.length <= Math.ceil(Math.log2(n)));
      assert.ok(verifyInclusion(i, n, leaves[i]!, path, root), `leaf ${i} of ${n}`);
      if (n > 1) {
        assert.ok(!verifyInclusion(i, n, leaves[(i + 1) % n]!, path, root));
        assert.ok(!verifyInclusion((i + 1) % n, n, leaves[i]!, path, root));
      }
      assert.ok(!verifyInclusion(i, n, leaves[i]!, path, leaves[0]!) || n === 1);
    }
  }
});

test('every consistency proof verifies, and fails against a different history', () => {
  const forked = new MerkleTree();
  for (const [i, l] of leaves.entries()) forked.append(i === 3 ? leafHash(Buffer.from('rewritten')) : l);
  for (let n = 1; n <= N; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = tree.consistency(m, n);
      assert.ok(verifyConsistency(m, n, tree.root(m), tree.root(n), proof), `${m} → ${n}`);
      if (m > 3)
        assert.ok(!verifyConsistency(m, n, forked.root(m), tree.root(n), proof), `forked ${m} → ${n}`);
      if (m < n) assert.ok(!verifyConsistency(m, n, tree.root(m), tree.root(n - 1), proof));
    }
  }
});
