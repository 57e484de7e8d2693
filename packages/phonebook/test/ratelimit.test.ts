import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBuckets } from '../src/ratelimit.ts';

test('a token bucket gives a burst, then one token per refill period, never more than the burst', () => {
  let now = 1_000_000;
  const b = new TokenBuckets<string>({ burst: 2, refillMs: 1000 }, 100, () => now);
  assert.equal(b.take('a'), 0);
  assert.equal(b.take('a'), 0);
  assert.equal(b.take('a'), 1000);
  now += 999;
  assert.equal(b.wait('a'), 1);
  now += 1;
  assert.equal(b.take('a'), 0);
  assert.equal(b.take('a'), 1000);
  now += 60_000; // a long idle period refills to the burst only
  assert.equal(b.take('a'), 0);
  assert.equal(b.take('a'), 0);
  assert.ok(b.take('a') > 0);
  // other keys have buckets of their own
  assert.equal(b.take('b'), 0);
});

test('at most maxBuckets are kept, the least recently used dropped first', () => {
  const now = 0;
  const b = new TokenBuckets<number>({ burst: 1, refillMs: 1000 }, 2, () => now);
  b.take(1);
  b.take(2);
  b.wait(1); // 1 is now the most recently used
  b.take(3); // drops 2
  assert.equal(b.size, 2);
  assert.ok(b.wait(1) > 0, 'bucket 1 was kept, still empty');
  assert.equal(b.wait(2), 0, 'bucket 2 was dropped: a fresh, full one');
});
