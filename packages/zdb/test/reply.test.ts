import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyWriter } from '../src/resp/reply.ts';

test('reply encoding: integers, bulk lengths and arrays of every digit count, nil, OK, negatives', () => {
  const out = new ReplyWriter();
  const want: string[] = [];
  for (const n of [0, 7, 9, 10, 11, 99, 100, 999, 1000, 65535, 123456789, 2 ** 40]) {
    out.integer(n);
    want.push(`:${n}\r\n`);
    out.array(n % 1000);
    want.push(`*${n % 1000}\r\n`);
  }
  out.integer(-5);
  want.push(':-5\r\n');
  for (const len of [0, 1, 9, 10, 100, 4096]) {
    out.bulk(Buffer.alloc(len, 120));
    want.push(`$${len}\r\n${'x'.repeat(len)}\r\n`);
  }
  out.nil();
  out.ok();
  want.push('$-1\r\n', '+OK\r\n');
  assert.equal(Buffer.concat(out.take()).toString('latin1'), want.join(''));
});
