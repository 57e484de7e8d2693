import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BlockCodec, type EncodedBlock, shardSize } from '../src/block.ts';

const key = randomBytes(32);
const text = (n: number) =>
  Buffer.from('twin shard block namespace envelope contract '.repeat(Math.ceil(n / 45))).subarray(0, n);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

test('a block round-trips for sizes around the shard boundaries, with and without compression', () => {
  const codec = new BlockCodec(4, 2);
  for (const n of [1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 1000, 65536, 65537, 300_001]) {
    for (const plain of [randomBytes(n), text(n)]) {
      const block = codec.encode(plain, 7, key, 'auto');
      assert.equal(block.shards.length, 6);
      const size = shardSize(block.storedSize, 4);
      for (const s of block.shards) assert.equal(s.length, size);
      assert.ok(same(codec.decode(block, block.shards, key).plain, plain), `size ${n}`);
    }
  }
});

test('compression is used where it pays and skipped on random bytes', () => {
  const codec = new BlockCodec(4, 2);
  const compressible = codec.encode(text(1 << 20), 0, key, 'auto');
  assert.equal(compressible.compressed, true);
  assert.ok(compressible.storedSize < (1 << 20) / 4, `stored ${compressible.storedSize}`);
  const random = codec.encode(randomBytes(1 << 20), 0, key, 'auto');
  assert.equal(random.compressed, false);
  assert.equal(random.storedSize, (1 << 20) + 16);
  const off = codec.encode(text(1 << 20), 0, key, 'none');
  assert.equal(off.compressed, false);
  assert.ok(same(codec.decode(compressible, compressible.shards, key).plain, text(1 << 20)));
});

test('corrupted shards are detected by checksum and excluded; the block still decodes', () => {
  const codec = new BlockCodec(4, 2);
  const plain = randomBytes(100_000);
  const block = codec.encode(plain, 3, key, 'auto');
  for (const bad of [[0], [3], [1, 2], [0, 4]]) {
    const shards = block.shards.map((s, i) => {
      if (!bad.includes(i)) return s;
      const c = Uint8Array.from(s);
      c[c.length >> 1]! ^= 0x01;
      return c;
    });
    const out = codec.decode(block, shards, key);
    assert.ok(same(out.plain, plain));
    assert.deepEqual(out.corrupt, bad);
    assert.deepEqual(out.missing, []);
  }
  // A truncated shard counts as corrupt; a missing one as missing.
  const mixed = [block.shards[0]!.subarray(1), undefined, ...block.shards.slice(2)];
  const out = codec.decode(block, mixed, key);
  assert.deepEqual([out.corrupt, out.missing], [[0], [1]]);
  assert.ok(same(out.plain, plain));
});

test('more than m bad shards is too_few_shards; a wrong key, index or layout is decrypt_failed', () => {
  const codec = new BlockCodec(4, 2);
  const plain = randomBytes(10_000);
  const block = codec.encode(plain, 5, key, 'none');
  const broken = block.shards.map((s, i) => (i === 0 || i === 2 || i === 5 ? undefined : s));
  assert.throws(() => codec.decode(block, broken, key), { code: 'too_few_shards' });
  assert.throws(() => codec.decode(block, block.shards, randomBytes(32)), { code: 'decrypt_failed' });
  assert.throws(() => codec.decode({ ...block, index: 6 }, block.shards, key), { code: 'decrypt_failed' });
  // Shards of another block, with that block's checksums: intact shards, wrong block.
  const other: EncodedBlock = codec.encode(randomBytes(10_000), 9, key, 'none');
  assert.throws(() => codec.decode({ ...block, checksums: other.checksums }, other.shards, key), {
    code: 'decrypt_failed',
  });
  assert.throws(() => codec.decode(block, block.shards, key.subarray(1)), { code: 'bad_coding' });
});

test('ciphertext shards contain no trace of a recognisable plaintext pattern', () => {
  const pattern = Buffer.from('SECRET-PATTERN:0123456789abcdef|');
  const plain = Buffer.alloc(1 << 20);
  for (let i = 0; i < plain.length; i += pattern.length) pattern.copy(plain, i);
  for (const policy of ['none', 'auto'] as const) {
    const codec = new BlockCodec(4, 2);
    const block = codec.encode(plain, 0, key, policy);
    for (const shard of block.shards) {
      const s = Buffer.from(shard);
      for (let off = 0; off + 8 <= pattern.length; off += 4)
        assert.equal(s.indexOf(pattern.subarray(off, off + 8)), -1);
      // Encrypted bytes look uniform: every byte value occurs, none much more than 1/256 of the time.
      const counts = new Array<number>(256).fill(0);
      for (const b of s) counts[b]!++;
      const expected = s.length / 256;
      if (s.length >= 1 << 16)
        assert.ok(Math.max(...counts) < expected * 1.5 && Math.min(...counts) > expected * 0.5);
    }
    // Two encodings of the same plaintext under different keys share nothing.
    const again = codec.encode(plain, 0, randomBytes(32), policy);
    assert.ok(!same(again.shards[0]!, block.shards[0]!));
  }
});
