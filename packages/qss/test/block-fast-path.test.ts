/**
 * Decoding with every data shard at hand deciphers before verifying (GCM authenticates the data
 * shards, the padding must be zero): it must still find and report every damaged data shard,
 * including damage GCM cannot see (padding), and give the same result as the verifying path.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BlockCodec, shardSize } from '../src/block.ts';

const key = randomBytes(32);

test('a damaged data shard (ciphertext, tag or padding byte) is reported corrupt and rebuilt', () => {
  for (const k of [1, 4, 16]) {
    const codec = new BlockCodec(k, 2);
    // 17 bytes stored with k = 16: 15 padding bytes over several shards.
    for (const n of [1, 1000, 65_537]) {
      const plain = randomBytes(n);
      const block = codec.encode(plain, 3, key, 'none');
      const size = shardSize(block.storedSize, k);
      const clean = codec.decode(block, block.shards, key);
      assert.ok(Buffer.from(clean.plain).equals(plain));
      assert.deepEqual([clean.missing, clean.corrupt], [[], []]);
      // Every byte position of the data shards: ciphertext, tag and padding.
      for (let pos = 0; pos < k * size; pos += Math.max(1, Math.floor((k * size) / 37))) {
        for (const at of [pos, k * size - 1]) {
          const shards = block.shards.map((s) => new Uint8Array(s));
          const i = Math.floor(at / size);
          shards[i]![at % size]! ^= 0x40;
          const d = codec.decode(block, shards, key);
          assert.ok(Buffer.from(d.plain).equals(plain), `k ${k}, n ${n}, byte ${at}`);
          assert.deepEqual(d.corrupt, [i], `k ${k}, n ${n}, byte ${at}`);
        }
      }
    }
  }
});

test('a wrong key or index is still decrypt_failed with every shard at hand', () => {
  const codec = new BlockCodec(4, 2);
  const block = codec.encode(randomBytes(10_000), 5, key, 'none');
  assert.throws(() => codec.decode(block, block.shards, randomBytes(32)), { code: 'decrypt_failed' });
  assert.throws(() => codec.decode({ ...block, index: 6 }, block.shards, key), { code: 'decrypt_failed' });
});
