import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyIndex } from '../src/engine/keyindex.ts';

/** A small deterministic PRNG (xorshift32) so a failure replays. */
function prng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('key index', () => {
  test('agrees with a Map through inserts, overwrites and removes (rehash, backward shift, arena compaction)', () => {
    const ix = new KeyIndex();
    const model = new Map<string, number>();
    const rnd = prng(42);
    let position = 0;
    for (let step = 0; step < 60_000; step++) {
      // Few distinct keys at first (many removes hit), more later (the table grows).
      const space = step < 20_000 ? 500 : 20_000;
      const n = Math.floor(rnd() * space);
      const key = Buffer.from(n % 7 === 0 ? `k${n}`.padEnd(200, 'x') : `k${n}`, 'latin1');
      const name = key.toString('latin1');
      if (rnd() < 0.3) {
        ix.remove(key);
        model.delete(name);
      } else {
        position++;
        if (ix.slotOf(key) === undefined) assert.equal(model.has(name), false);
        ix.put(key, 0, position, key.length, 0, 0, 0, 0);
        model.set(name, position);
      }
      assert.equal(ix.size, model.size);
    }
    for (const [name, offset] of model) {
      const slot = ix.slotOf(Buffer.from(name, 'latin1'));
      assert.notEqual(slot, undefined, name);
      assert.equal(ix.offset[slot!], offset);
      assert.equal(ix.keyOf(slot!).toString('latin1'), name);
    }
    for (let n = 0; n < 20_000; n++) {
      const name = n % 7 === 0 ? `k${n}`.padEnd(200, 'x') : `k${n}`;
      assert.equal(ix.slotOf(Buffer.from(name, 'latin1')) !== undefined, model.has(name), name);
    }
    assert.equal(
      ix.liveBytes,
      [...model.keys()].reduce((s, k) => s + k.length, 0),
    );
    // The write-order walk returns every live key once, in the order of their last write.
    const walked = ix.walk(null, 1e9, false).map((s) => ix.keyOf(s).toString('latin1'));
    const byPosition = [...model.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
    assert.deepEqual(walked, byPosition);
  });

  test('keys that differ in one byte or in length are distinct; an empty index after clear()', () => {
    const ix = new KeyIndex();
    const a = Buffer.from([1, 2, 3, 4]);
    const b = Buffer.from([1, 2, 3, 5]);
    const c = Buffer.from([1, 2, 3, 4, 0]);
    ix.put(a, 0, 10, 1, 0, 0, 0, 0);
    ix.put(b, 0, 20, 1, 0, 0, 0, 0);
    ix.put(c, 0, 30, 1, 0, 0, 0, 0);
    assert.deepEqual(
      [a, b, c].map((k) => ix.offset[ix.slotOf(k)!]),
      [10, 20, 30],
    );
    ix.clear();
    assert.equal(ix.size, 0);
    assert.equal(ix.slotOf(a), undefined);
    ix.put(b, 0, 40, 1, 0, 0, 0, 0);
    assert.equal(ix.offset[ix.slotOf(b)!], 40);
    assert.equal(ix.slotOf(a), undefined);
  });
});
