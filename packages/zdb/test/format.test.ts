import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, crc32Range } from '../src/engine/format.ts';

test('the CRC-32 of format.ts is zlib’s, whole, in ranges and chained, below and above the JS/zlib switch', () => {
  for (const n of [0, 1, 3, 4, 31, 100, 255, 256, 257, 1000, 4096]) {
    const b = randomBytes(n + 10);
    const body = b.subarray(5, 5 + n);
    assert.equal(crc32(body), zlibCrc32(body), `length ${n}`);
    assert.equal(crc32Range(b, 5, 5 + n), zlibCrc32(body), `range of ${n}`);
    const half = n >> 1;
    assert.equal(crc32Range(b, 5 + half, 5 + n, crc32Range(b, 5, 5 + half)), zlibCrc32(body), `chained ${n}`);
  }
});
