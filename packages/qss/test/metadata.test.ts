import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MemoryShardStore } from '../src/memory-store.ts';
import {
  decodeMetadata,
  encodeMetadata,
  type ObjectMetadata,
  openMetadata,
  sealMetadata,
} from '../src/metadata.ts';
import { putObject } from '../src/object.ts';

/** Metadata with every byte string as hex, to compare content whatever the buffer classes. */
function hex(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(hex);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hex(v)]));
  return value;
}

async function sample(size = 3 * 1000 + 17): Promise<ObjectMetadata> {
  return putObject([randomBytes(size)], new MemoryShardStore(6), { k: 4, m: 2, blockSize: 1000 });
}

test('metadata serialises deterministically and round-trips exactly', async () => {
  const meta = await sample();
  const bytes = encodeMetadata(meta);
  const back = decodeMetadata(bytes);
  assert.deepEqual(hex(back), hex(meta));
  assert.ok(Buffer.from(encodeMetadata(back)).equals(Buffer.from(bytes)));
  // Same content built in another property order gives the same bytes.
  const reordered: ObjectMetadata = {
    blocks: meta.blocks.map((b) => ({
      shards: b.shards.map((s) => ({
        location: { key: s.location.key, backend: s.location.backend },
        checksum: s.checksum,
      })),
      compressed: b.compressed,
      storedSize: b.storedSize,
      plainSize: b.plainSize,
    })),
    key: meta.key,
    compression: meta.compression,
    m: meta.m,
    k: meta.k,
    blockSize: meta.blockSize,
    size: meta.size,
  };
  assert.ok(Buffer.from(encodeMetadata(reordered)).equals(Buffer.from(bytes)));
  // It carries what a reader needs: size, layout, locations, checksums, key, compression flags.
  assert.equal(back.size, 3017);
  assert.equal(back.blocks.length, 4);
  assert.equal(back.blocks[0]!.shards[5]!.location.backend, 'memory:5');
  assert.equal(back.key.length, 32);
});

test('empty objects have metadata too', async () => {
  const meta = await sample(0);
  assert.deepEqual(decodeMetadata(encodeMetadata(meta)).blocks, []);
});

test('sealed metadata opens with its key only, and hides the object key and locations', async () => {
  const meta = await sample();
  const key = randomBytes(32);
  const sealed = sealMetadata(meta, key);
  assert.deepEqual(hex(openMetadata(sealed, key)), hex(meta));
  assert.throws(() => openMetadata(sealed, randomBytes(32)), { code: 'bad_metadata' });
  const s = Buffer.from(sealed);
  assert.equal(s.indexOf(Buffer.from(meta.key)), -1);
  assert.equal(s.indexOf(Buffer.from('memory:')), -1);
  // Sealing twice gives different bytes (fresh nonce), both opening to the same metadata.
  assert.ok(!Buffer.from(sealMetadata(meta, key)).equals(s));
});

test('every single-byte change, truncation or extension of sealed metadata is detected', async () => {
  const meta = await sample(1500);
  const key = randomBytes(32);
  const sealed = Buffer.from(sealMetadata(meta, key));
  for (let i = 0; i < sealed.length; i++) {
    const t = Buffer.from(sealed);
    t[i]! ^= 1 << (i % 8);
    assert.throws(() => openMetadata(t, key), { code: 'bad_metadata' }, `byte ${i}`);
  }
  for (const t of [
    sealed.subarray(0, sealed.length - 1),
    sealed.subarray(0, 20),
    Buffer.concat([sealed, Buffer.of(0)]),
  ])
    assert.throws(() => openMetadata(t, key), { code: 'bad_metadata' });
});

test('malformed or inconsistent plain metadata is refused', async () => {
  const meta = await sample();
  const bytes = Buffer.from(encodeMetadata(meta));
  const refuse = (b: Uint8Array) => assert.throws(() => decodeMetadata(b), { code: 'bad_metadata' });
  refuse(Buffer.concat([bytes, Buffer.of(0)]));
  refuse(bytes.subarray(0, bytes.length - 1));
  const version = Buffer.from(bytes);
  version[4] = 3;
  refuse(version);
  version[4] = 1; // format 1 (shards without owner tags): refused with a clear reason
  assert.throws(() => decodeMetadata(version), {
    code: 'bad_metadata',
    message: /format 1 .*store it again/,
  });
  const size = Buffer.from(bytes);
  size.writeBigUInt64BE(5000n, 12); // size no longer matches the block count
  refuse(size);
  assert.throws(() => encodeMetadata({ ...meta, blocks: meta.blocks.slice(1) }), { code: 'bad_metadata' });
  assert.throws(() => encodeMetadata({ ...meta, key: meta.key.subarray(1) }), { code: 'bad_metadata' });
  assert.throws(() => sealMetadata(meta, randomBytes(16)), { code: 'bad_metadata' });
});
