import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { duration, integer, port, size, url } from '../src/options.ts';

const refuses = (parse: (v: string) => unknown, v: string) =>
  assert.throws(() => parse(v), InvalidArgumentError, `"${v}" must be refused`);

test('integer: decimal digits within bounds, nothing that Number() would half-accept', () => {
  assert.equal(integer()('42'), 42);
  assert.equal(integer(1, 10)('10'), 10);
  for (const v of [
    '',
    ' ',
    'abc',
    '1.5',
    '1e3',
    '0x10',
    '12abc',
    'NaN',
    'Infinity',
    '-1',
    '99999999999999999999',
  ])
    refuses(integer(), v);
  refuses(integer(1, 10), '0');
  refuses(integer(1, 10), '11');
});

test('port: 0 to 65535', () => {
  assert.equal(port('0'), 0);
  assert.equal(port('65535'), 65535);
  for (const v of ['65536', '-1', 'http', '80.5', '']) refuses(port, v);
});

test('size: bytes, binary and decimal units', () => {
  assert.equal(size('4096'), 4096);
  assert.equal(size('64K'), 65536);
  assert.equal(size('4MiB'), 4 * 1024 * 1024);
  assert.equal(size('4MB'), 4_000_000);
  assert.equal(size('1.5k'), 1536);
  for (const v of ['', 'big', '4 XB', '-1', '1e9']) refuses(size, v);
});

test('duration: a bare number is the unit; suffixes convert', () => {
  assert.equal(duration('s')('30'), 30);
  assert.equal(duration('s')('5m'), 300);
  assert.equal(duration('s')('1h'), 3600);
  assert.equal(duration('ms')('5s'), 5000);
  assert.equal(duration('ms')('250'), 250);
  for (const v of ['', 'soon', '5x', '-1', '1e3']) refuses(duration('s'), v);
  refuses(duration('s', 1), '0');
});

test('url: http(s) only, trailing slashes dropped', () => {
  assert.equal(url('http://127.0.0.1:8730/'), 'http://127.0.0.1:8730');
  for (const v of ['not a url', 'ftp://host', '127.0.0.1:8730']) refuses(url, v);
});
