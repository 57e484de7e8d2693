/** The files experience's small parts: names and paths, Range headers, chunking, stream framing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange } from '../src/api/content.ts';
import { FILE_CHUNK, rechunk } from '../src/experiences/blobs.ts';
import { checkName, mimeOf, splitPath } from '../src/experiences/files.ts';
import { StreamReader } from '../src/experiences/transfer.ts';

test('names: 1-255 bytes, no separators, NUL, control characters, "." or ".."', () => {
  for (const ok of ['a', 'report.pdf', 'été 2026.jpg', '😀', 'x'.repeat(255), '..hidden', 'a.b.c'])
    assert.equal(checkName(ok), ok);
  for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\0b', 'tab\there', 'x'.repeat(256), 'é'.repeat(128)])
    assert.throws(() => checkName(bad), { code: 'bad_name' }, JSON.stringify(bad));
  assert.deepEqual(splitPath('/'), []);
  assert.deepEqual(splitPath('/Photos//2026/'), ['Photos', '2026']);
  for (const bad of ['Photos', '/a/../b', '/./a', `/${'a/'.repeat(65)}`])
    assert.throws(() => splitPath(bad), { code: 'bad_name' }, bad);
});

test('types: a declared type wins unless generic; else the extension', () => {
  assert.equal(mimeOf('a.png', 'application/octet-stream'), 'image/png');
  assert.equal(mimeOf('a.bin', 'text/plain; charset=utf-8'), 'text/plain');
  assert.equal(mimeOf('a.unknown'), 'application/octet-stream');
  assert.equal(mimeOf('a.png', 'not a type'), 'image/png');
});

test('Range: bytes=a-b, a-, -n; outside the file is bad_range', () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange('bytes=2-5', 10), { start: 2, end: 5 });
  assert.deepEqual(parseRange('bytes=2-', 10), { start: 2, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=8-100', 10), { start: 8, end: 9 });
  assert.throws(() => parseRange('bytes=10-', 10), { code: 'bad_range' });
  assert.throws(() => parseRange('bytes=5-2', 10), { code: 'bad_range' });
  assert.throws(() => parseRange('bytes=0-1,3-4', 10), { code: 'bad_request' });
  assert.throws(() => parseRange('items=0-1', 10), { code: 'bad_request' });
});

test('rechunk cuts any pieces into FILE_CHUNK chunks, the last shorter, none for nothing', async () => {
  const collect = async (pieces: Buffer[], size?: number) => {
    const out: Buffer[] = [];
    for await (const c of rechunk(
      (async function* () {
        yield* pieces;
      })(),
      size,
    ))
      out.push(Buffer.from(c));
    return out;
  };
  assert.deepEqual(await collect([]), []);
  const bytes = Buffer.from(Array.from({ length: 25 }, (_, i) => i));
  const chunks = await collect([bytes.subarray(0, 3), bytes.subarray(3, 4), bytes.subarray(4, 25)], 10);
  assert.deepEqual(
    chunks.map((c) => c.length),
    [10, 10, 5],
  );
  assert.ok(Buffer.concat(chunks).equals(bytes));
  assert.deepEqual(
    (await collect([Buffer.alloc(FILE_CHUNK * 2)])).map((c) => c.length),
    [FILE_CHUNK, FILE_CHUNK],
  );
});

test('StreamReader reads exact lengths across pieces, JSON documents, and fails when the stream ends early', async () => {
  const head = Buffer.alloc(4);
  const json = Buffer.from(JSON.stringify({ a: 1 }));
  head.writeUInt32BE(json.length);
  const all = Buffer.concat([head, json, Buffer.from('abcdefgh')]);
  const pieces = [all.subarray(0, 2), all.subarray(2, 9), all.subarray(9)];
  const r = new StreamReader(
    (async function* () {
      yield* pieces;
    })(),
  );
  const { z } = await import('zod');
  assert.deepEqual(await r.json(z.strictObject({ a: z.number() })), { a: 1 });
  assert.equal((await r.exactly(3)).toString(), 'abc');
  assert.equal((await r.exactly(5)).toString(), 'defgh');
  await assert.rejects(r.exactly(1), { code: 'bad_reply' });
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(10 * 1024 * 1024);
  const r2 = new StreamReader(
    (async function* () {
      yield huge;
    })(),
  );
  await assert.rejects(r2.json(z.strictObject({})), { code: 'too_large' });
});
