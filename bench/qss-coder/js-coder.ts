/**
 * Candidate: the same systematic Cauchy code in plain JavaScript. Each coefficient gets four
 * 256-entry Uint32 tables (its products shifted into each byte lane), so one 32-bit word of a
 * shard is multiplied with four lookups. Kept in the benchmark as the no-WASM reference.
 */
import { cauchyParityRows, gfMul, invert, type Matrix } from '../../packages/qss/src/gf256.ts';

function wordTables(c: number): Uint32Array[] {
  return [0, 8, 16, 24].map((shift) => {
    const t = new Uint32Array(256);
    for (let x = 0; x < 256; x++) t[x] = gfMul(c, x) << shift;
    return t;
  });
}

function words(bytes: Uint8Array, span: number): Uint32Array {
  if (bytes.byteOffset % 4 === 0 && bytes.length === span * 4)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, span);
  const copy = new Uint32Array(span);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

function multiply(matrix: Matrix, inputs: readonly Uint8Array[]): Uint8Array[] {
  const len = inputs[0]!.length;
  const span = Math.ceil(len / 4);
  const ins = inputs.map((s) => words(s, span));
  return matrix.map((row) => {
    const out = new Uint32Array(span);
    row.forEach((c, j) => {
      const src = ins[j]!;
      if (c === 0) return;
      if (c === 1) {
        for (let i = 0; i < span; i++) out[i]! ^= src[i]!;
        return;
      }
      const [t0, t1, t2, t3] = wordTables(c) as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
      for (let i = 0; i < span; i++) {
        const w = src[i]!;
        out[i]! ^= t0[w & 255]! | t1[(w >>> 8) & 255]! | t2[(w >>> 16) & 255]! | t3[w >>> 24]!;
      }
    });
    return new Uint8Array(out.buffer, 0, len);
  });
}

export class JsReedSolomon {
  readonly #generator: Matrix;
  readonly #parity: Matrix;
  constructor(
    readonly k: number,
    readonly m: number,
  ) {
    this.#parity = cauchyParityRows(k, m);
    const identity: Matrix = [...Array(k).keys()].map((i) =>
      Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)),
    );
    this.#generator = identity.concat(this.#parity);
  }

  encode(data: readonly Uint8Array[]): Uint8Array[] {
    return multiply(this.#parity, data);
  }

  reconstruct(shards: ReadonlyArray<Uint8Array | undefined>): Uint8Array[] {
    const present = shards.flatMap((s, i) => (s ? [i] : [])).slice(0, this.k);
    const missing = shards.flatMap((s, i) => (s ? [] : [i]));
    const basis = invert(present.map((i) => this.#generator[i]!));
    const rows = missing.map((t) => {
      const g = this.#generator[t]!;
      return basis[0]!.map((_, col) => g.reduce((acc, c, j) => acc ^ gfMul(c, basis[j]![col]!), 0));
    });
    return multiply(
      rows,
      present.map((i) => shards[i]!),
    );
  }
}
