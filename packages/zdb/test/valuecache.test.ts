import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openEngine } from '../src/engine/index.ts';
import { ValueRing } from '../src/engine/valuecache.ts';

test('GET through a small value cache: overwrites, deletes and reused slots, eviction, growth, flush', () => {
  const root = mkdtempSync(join(tmpdir(), 'zdb-cache-'));
  try {
    const engine = openEngine({
      dataDir: join(root, 'data'),
      indexDir: join(root, 'index'),
      mode: 'user',
      datasize: 1 << 20,
      maxsize: 0,
      cacheBytes: 64 * 1024, // a 4 KiB value limit, and the ring wraps many times below
    });
    const ns = engine.namespace('default')!;
    const model = new Map<string, Buffer>();
    let x = 7;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (let step = 0; step < 20_000; step++) {
      const k = `k${rnd(300)}`;
      const op = rnd(10);
      if (op < 4) {
        const v = Buffer.alloc(1 + rnd(6000), step & 0xff);
        if (v.length >= 4) v.writeUInt32LE(step, 0);
        const half = v.length >> 1;
        // given as chunks, a value is not cached: what was cached for the key must not answer
        ns.set(Buffer.from(k), rnd(4) === 0 ? [v.subarray(0, half), v.subarray(half)] : v);
        model.set(k, v);
      } else if (op < 5) {
        if (model.has(k)) ns.del(Buffer.from(k));
        model.delete(k);
      } else {
        const got = ns.get(Buffer.from(k));
        assert.deepEqual(got, model.get(k) ?? null, `${k} at step ${step}`);
        if (got) got.fill(0); // a caller scribbling on what GET returned changes nothing stored
      }
      if (step % 97 === 0) engine.commit();
      if (step === 15_000) {
        ns.flush();
        model.clear();
      }
    }
    for (const [k, v] of model) assert.deepEqual(ns.get(Buffer.from(k)), v);
    engine.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the value ring says when a position was overwritten, and never returns bytes of another value', () => {
  const ring = new ValueRing(16 * 1024);
  const a = ring.store(Buffer.alloc(1000, 1));
  assert.deepEqual(ring.load(a, 1000), Buffer.alloc(1000, 1));
  const later: number[] = [];
  for (let i = 0; i < 40; i++) later.push(ring.store(Buffer.alloc(1000, 2 + i)));
  assert.equal(ring.load(a, 1000), null);
  assert.deepEqual(ring.load(later[39]!, 1000), Buffer.alloc(1000, 41));
  assert.equal(ring.store(Buffer.alloc(1025)), 0, 'over 1/16 of the bound: not cached');
});

test('the value ring keeps what it holds when it grows', () => {
  const ring = new ValueRing(64 * 1024 * 1024);
  const at: number[] = [];
  // 3 MiB through a ring that starts at 1 MiB: it grows twice; everything stays readable.
  for (let i = 0; i < 3 * 1024; i++) at.push(ring.store(Buffer.alloc(1000 + (i % 24), i & 0xff)));
  for (let i = 0; i < at.length; i++)
    assert.deepEqual(
      ring.load(at[i]!, 1000 + (i % 24)),
      Buffer.alloc(1000 + (i % 24), i & 0xff),
      `value ${i}`,
    );
});
