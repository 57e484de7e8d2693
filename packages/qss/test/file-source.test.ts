/** A file read straight into blocks (fileBlocks) and whole blocks handed over to fixedBlocks. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileBlocks } from '../src/file-source.ts';
import { fixedBlocks, handOver } from '../src/ordered.ts';

const dir = mkdtempSync(join(tmpdir(), 'qss-file-source-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BLOCK = 64 << 10;

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const [label, size] of [
  ['an empty file', 0],
  ['a block less one byte', BLOCK - 1],
  ['exactly one block', BLOCK],
  ['three blocks and 5 bytes', 3 * BLOCK + 5],
] as const)
  test(`fileBlocks: ${label} comes back as whole blocks, the last one shorter`, async () => {
    const data = randomBytes(size);
    const file = join(dir, `f-${size}`);
    writeFileSync(file, data);
    const blocks = await all(fileBlocks(file, BLOCK));
    assert.deepEqual(
      blocks.map((b) => b.length),
      Array.from({ length: Math.ceil(size / BLOCK) }, (_, i) => Math.min(BLOCK, size - i * BLOCK)),
    );
    assert.ok(Buffer.concat(blocks).equals(data));
  });

test('fileBlocks of a missing file fails with the file system error', async () => {
  await assert.rejects(all(fileBlocks(join(dir, 'none'), BLOCK)), { code: 'ENOENT' });
});

test('fixedBlocks takes a handed-over whole block as it is, and copies every other chunk', async () => {
  const given = handOver(Buffer.alloc(BLOCK, 1));
  const notGiven = Buffer.alloc(BLOCK, 2);
  const blocks = await all(fixedBlocks([given, notGiven, Buffer.alloc(10, 3)], BLOCK));
  assert.equal(blocks.length, 3);
  assert.equal(blocks[0], given, 'handed over: the same buffer');
  assert.notEqual(blocks[1], notGiven, 'not handed over: copied');
  assert.ok(Buffer.from(blocks[1]!).equals(notGiven));
  // a handed-over block that does not start at a block boundary is copied like any chunk
  const late = handOver(Buffer.alloc(BLOCK, 4));
  const shifted = await all(fixedBlocks([Buffer.alloc(1, 5), late], BLOCK));
  assert.notEqual(shifted[0], late);
  assert.deepEqual(
    shifted.map((b) => b.length),
    [BLOCK, 1],
  );
});
