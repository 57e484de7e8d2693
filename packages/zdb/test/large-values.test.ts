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
  for (const step of [1, 2, 7, 4096, 65_536, 150_001, wire.length]) {
    const p = new ReplyParser();
    const out: Reply[] = [];
    for (let at = 0; at < wire.length; at += step) {
      p.push(wire.subarray(at, at + step));
      for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
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
