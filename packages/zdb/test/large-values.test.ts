/**
 * Large values take the zero-copy paths (staged by reference and written with writev, replied by
 * reference, parsed straight into their own buffer on the client): the bytes must be the same as
 * on the copying paths, read back in the same tick as the write, after a commit, after a restart,
 * inside MGET arrays, and when the reply parser is fed one byte or one odd-sized chunk at a time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ZdbClient } from '../src/client/client.ts';
import { encodeCommand, encodeCommandParts } from '../src/client/connection.ts';
import { ProtocolError, RequestParser } from '../src/resp/parser.ts';
import { type Reply, ReplyParser } from '../src/resp/replies.ts';
import { ZdbServer } from '../src/server/server.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('zdb-large-');
let server: ZdbServer;

const start = () =>
  ZdbServer.start({ port: 0, data: join(dir.path, 'data'), index: join(dir.path, 'index'), mode: 'mix' });

before(async () => {
  server = await start();
});
after(async () => {
  await server.close();
  dir.cleanup();
});

test('large and small values interleaved in one pipelined burst read back exactly, before and after a restart', async () => {
  const c = new ZdbClient({ port: server.port });
  const sizes = [70_000, 10, 1 << 20, 65_536, 65_535, 3 << 20, 0, 200_000, 5];
  const values = sizes.map((n) => randomBytes(n));
  // Writes and reads in the same burst: the reads are served from staging (not yet committed).
  const [, reads] = await Promise.all([
    Promise.all(values.map((v, i) => c.set(`k${i}`, v))),
    Promise.all(values.map((_, i) => c.get(`k${i}`))),
  ]);
  for (const [i, r] of reads.entries()) assert.ok(r?.equals(values[i]!), `same-tick read of value ${i}`);
  for (const [i, v] of values.entries()) assert.ok((await c.get(`k${i}`))?.equals(v), `value ${i}`);
  const many = await c.mget(...values.map((_, i) => `k${i}`));
  for (const [i, r] of many.entries()) assert.ok(r?.equals(values[i]!), `MGET value ${i}`);
  assert.equal(await c.check('k2'), true);
  c.close();
  await server.close();
  server = await start();
  const d = new ZdbClient({ port: server.port });
  for (const [i, v] of values.entries()) assert.ok((await d.get(`k${i}`))?.equals(v), `after restart ${i}`);
  d.close();
});

test('the reply parser gives the same replies whatever the chunking', () => {
  const big = randomBytes(150_000);
  const wire = Buffer.concat([
    Buffer.from(`$${big.length}\r\n`),
    big,
    Buffer.from('\r\n+OK\r\n'),
    Buffer.from(`*2\r\n$${big.length}\r\n`),
    big,
    Buffer.from('\r\n$-1\r\n:42\r\n'),
    Buffer.from(`$${big.length}\r\n`),
    big,
    Buffer.from('\r\n'),
  ]);
  for (const [step, transient] of [1, 2, 7, 4096, 65_536, 150_001, wire.length].flatMap((n) => [
    [n, false] as const,
    [n, true] as const,
  ])) {
    const p = new ReplyParser();
    const out: Reply[] = [];
    // transient: every piece arrives in the same reused buffer, scribbled over after each push.
    const scratch = Buffer.alloc(step);
    for (let at = 0; at < wire.length; at += step) {
      const piece = wire.subarray(at, at + step);
      if (transient) {
        piece.copy(scratch);
        p.push(scratch.subarray(0, piece.length), true);
      } else p.push(piece);
      for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
      scratch.fill(0x55);
    }
    assert.equal(out.length, 5, `step ${step}`);
    assert.ok((out[0] as Buffer).equals(big));
    assert.equal((out[1] as { value: string }).value, 'OK');
    const arr = out[2] as Reply[];
    assert.ok((arr[0] as Buffer).equals(big));
    assert.equal(arr[1], null);
    assert.equal(out[3], 42);
    assert.ok((out[4] as Buffer).equals(big));
  }
});

test('a request with a large argument is framed the same with and without copying', () => {
  const big = randomBytes(100_000);
  const args = ['SET', big, 'x', big, 7];
  const parts = encodeCommandParts(args);
  assert.ok(parts.includes(big), 'the large argument is passed by reference');
  const expected = Buffer.concat([
    Buffer.from(`*5\r\n$3\r\nSET\r\n$${big.length}\r\n`),
    big,
    Buffer.from(`\r\n$1\r\nx\r\n$${big.length}\r\n`),
    big,
    Buffer.from('\r\n$1\r\n7\r\n'),
  ]);
  assert.ok(Buffer.concat(parts).equals(expected));
  assert.ok(encodeCommand(args).equals(expected));
});

test('the request parser gives the same requests whatever the chunking; SET values may stay in chunks', () => {
  const big = randomBytes(100_000);
  const other = randomBytes(70_000);
  const wire = Buffer.concat([
    encodeCommand(['SET', 'k1', big]),
    encodeCommand(['PING']),
    encodeCommand(['set', '', other]),
    encodeCommand(['HSET', big, 'x', other]),
    encodeCommand(['SET', 'k2', 'small']),
  ]);
  const chunkable = (name: Buffer, index: number) => index === 2 && name.toString().toUpperCase() === 'SET';
  for (const step of [1, 2, 3, 7, 4096, 65_536, 100_003, wire.length]) {
    const p = new RequestParser(undefined, chunkable);
    const got: { argv: Buffer[]; chunks: Map<number, Buffer[]> | null }[] = [];
    for (let at = 0; at < wire.length; at += step) {
      p.push(wire.subarray(at, at + step));
      for (let r = p.next(); r !== null; r = p.next()) got.push({ argv: r, chunks: p.chunks });
    }
    assert.equal(got.length, 5, `step ${step}`);
    const value = (g: (typeof got)[number], i: number) => {
      const parts = g.chunks?.get(i);
      return parts ? Buffer.concat(parts) : g.argv[i]!;
    };
    assert.equal(got[0]!.argv[1]!.toString(), 'k1');
    assert.ok(value(got[0]!, 2).equals(big), `SET value, step ${step}`);
    assert.deepEqual(
      got[1]!.argv.map((b) => b.toString()),
      ['PING'],
    );
    assert.ok(value(got[2]!, 2).equals(other));
    // Not chunkable: joined into ordinary arguments.
    assert.equal(got[3]!.chunks, null);
    assert.ok(got[3]!.argv[1]!.equals(big) && got[3]!.argv[3]!.equals(other));
    assert.equal(got[4]!.argv[2]!.toString(), 'small');
    assert.equal(p.pending, 0);
  }
});

test('a large bulk without its CRLF is a protocol error', () => {
  const p = new RequestParser(undefined, () => true);
  const big = Buffer.alloc(70_000, 1);
  p.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${big.length}\r\n`));
  assert.equal(p.next(), null);
  p.push(big);
  p.push(Buffer.from('XY*1\r\n$4\r\nPING\r\n'));
  assert.throws(() => p.next(), ProtocolError);
});
