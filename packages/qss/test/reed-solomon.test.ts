import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { cauchyParityRows, gfInv, gfMul, invert } from '../src/gf256.ts';
import { ReedSolomon } from '../src/reed-solomon.ts';

const shardsOf = (k: number, len: number) =>
  Array.from({ length: k }, () => new Uint8Array(randomBytes(len)));
const bytes = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length);

function* subsets(n: number, size: number, from = 0): Generator<number[]> {
  if (size === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= n - size; i++) for (const rest of subsets(n, size - 1, i + 1)) yield [i, ...rest];
}

test('GF(2^8): every non-zero element has an inverse, and a matrix times its inverse is the identity', () => {
  for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInv(a)), 1);
  assert.equal(gfMul(0, 7), 0);
  const c = cauchyParityRows(4, 4);
  const inv = invert(c);
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++) {
      let sum = 0;
      for (let x = 0; x < 4; x++) sum ^= gfMul(c[i]![x]!, inv[x]![j]!);
      assert.equal(sum, i === j ? 1 : 0);
    }
  assert.throws(
    () =>
      invert([
        [1, 2],
        [1, 2],
      ]),
    { code: 'bad_coding' },
  );
});

test('parity from the SIMD kernel equals the scalar definition Σ C[i][j]·d[j], including ragged tails', () => {
  for (const len of [1, 15, 16, 63, 64, 65, 1000, 4099]) {
    const rs = new ReedSolomon(5, 3);
    const data = shardsOf(5, len);
    const parity = rs.encode(data);
    const c = cauchyParityRows(5, 3);
    for (let i = 0; i < 3; i++)
      for (let b = 0; b < len; b++) {
        let want = 0;
        for (let j = 0; j < 5; j++) want ^= gfMul(c[i]![j]!, data[j]![b]!);
        assert.equal(parity[i]![b], want, `parity ${i} byte ${b} of ${len}`);
      }
  }
});

for (const [k, m] of [
  [2, 1],
  [4, 2],
  [10, 4],
  [16, 4],
] as const) {
  test(`${k}+${m}: every combination of up to ${m} lost shards is rebuilt exactly`, () => {
    const rs = new ReedSolomon(k, m);
    const data = shardsOf(k, 67);
    const all = [...data, ...rs.encode(data)];
    let combinations = 0;
    for (let lost = 0; lost <= m; lost++)
      for (const gone of subsets(k + m, lost)) {
        const survivors = all.map((s, i) => (gone.includes(i) ? undefined : s));
        const rebuilt = rs.reconstruct(survivors);
        assert.equal(rebuilt.length, gone.length);
        gone.forEach((i, n) => {
          assert.ok(bytes(rebuilt[n]!).equals(bytes(all[i]!)), `shard ${i} of [${gone}]`);
        });
        combinations++;
      }
    const expected = [...Array(m + 1).keys()].reduce(
      (sum, lost) => sum + [...subsets(k + m, lost)].length,
      0,
    );
    assert.equal(combinations, expected);
  });
}

test('losing more than m shards is a too_few_shards error, never wrong data', () => {
  const rs = new ReedSolomon(4, 2);
  const data = shardsOf(4, 32);
  const all: Array<Uint8Array | undefined> = [...data, ...rs.encode(data)];
  all[0] = all[3] = all[5] = undefined;
  assert.throws(() => rs.reconstruct(all), { code: 'too_few_shards' });
});

test('a rebuild can ask for specific shards, present or not', () => {
  const rs = new ReedSolomon(3, 2);
  const data = shardsOf(3, 100);
  const all = [...data, ...rs.encode(data)];
  const [p1, d0] = rs.reconstruct([undefined, all[1], undefined, all[3], all[4]], [4, 0]);
  assert.ok(bytes(p1!).equals(bytes(all[4]!)));
  assert.ok(bytes(d0!).equals(bytes(data[0]!)));
});

test('k+0 has no parity; empty shards give empty parity; bad shapes are bad_coding', () => {
  const solo = new ReedSolomon(3, 0);
  assert.deepEqual(solo.encode(shardsOf(3, 10)), []);
  const rs = new ReedSolomon(2, 2);
  assert.deepEqual(
    rs.encode([new Uint8Array(0), new Uint8Array(0)]).map((p) => p.length),
    [0, 0],
  );
  assert.throws(() => new ReedSolomon(0, 2), { code: 'bad_coding' });
  assert.throws(() => new ReedSolomon(200, 57), { code: 'bad_coding' });
  assert.throws(() => rs.encode([new Uint8Array(3), new Uint8Array(4)]), { code: 'bad_coding' });
  assert.throws(() => rs.encode([new Uint8Array(3)]), { code: 'bad_coding' });
  assert.throws(() => rs.reconstruct([undefined, undefined, undefined]), { code: 'bad_coding' });
});

test('a large code (200+56) over a 64 KiB block still round-trips through the kernel', () => {
  const rs = new ReedSolomon(200, 56);
  const data = shardsOf(200, 328);
  const all = [...data, ...rs.encode(data)];
  const gone = [0, 7, 100, 199, 200, 255];
  const rebuilt = rs.reconstruct(all.map((s, i) => (gone.includes(i) ? undefined : s)));
  gone.forEach((i, n) => {
    assert.ok(bytes(rebuilt[n]!).equals(bytes(all[i]!)));
  });
});
