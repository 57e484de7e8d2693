/**
 * Systematic Reed-Solomon erasure code over GF(2^8): k data shards, m parity shards, any k of the
 * k+m rebuild the rest. Generator = identity rows over Cauchy parity rows; the arithmetic runs in
 * the WebAssembly SIMD kernel (wasm/kernel.ts). One instance owns one wasm memory and is not
 * reentrant: use one per thread.
 */
import { QssError } from './errors.ts';
import { cauchyParityRows, gfMul, invert, type Matrix, nibbleTables } from './gf256.ts';
import { instantiateKernel, type MulKernel, STRIDE } from './wasm/kernel.ts';
import { wasm } from './wasm/runtime.ts';

const PAGE = 65536;
const align = (n: number, to: number) => Math.ceil(n / to) * to;

export class ReedSolomon {
  readonly k: number;
  readonly m: number;
  readonly #generator: Matrix;
  readonly #encodeTables: Uint8Array;
  readonly #decodeTables = new Map<string, Uint8Array>();
  readonly #memory = new wasm.Memory({ initial: 16 });
  readonly #mul: MulKernel;

  constructor(k: number, m: number) {
    if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 0 || k + m > 256)
      throw new QssError('bad_coding', `invalid code ${k}+${m}: need k ≥ 1, m ≥ 0, k + m ≤ 256`);
    this.k = k;
    this.m = m;
    const parity = cauchyParityRows(k, m);
    this.#generator = [...Array(k).keys()].map((i) => row(k, i)).concat(parity);
    this.#encodeTables = nibbleTables(parity);
    this.#mul = instantiateKernel(this.#memory);
  }

  /** The m parity shards of k data shards of equal length. */
  encode(data: readonly Uint8Array[]): Uint8Array[] {
    if (data.length !== this.k)
      throw new QssError('bad_coding', `expected ${this.k} data shards, got ${data.length}`);
    return this.#run(this.#encodeTables, data, this.m);
  }

  /**
   * Rebuilds the shards at `wanted` indices (default: every missing one) from k+m slots where a
   * lost shard is undefined. Uses the first k present shards; throws too_few_shards if fewer remain.
   * Returns the rebuilt shards in the order of `wanted`.
   */
  reconstruct(shards: ReadonlyArray<Uint8Array | undefined>, wanted?: readonly number[]): Uint8Array[] {
    const n = this.k + this.m;
    if (shards.length !== n)
      throw new QssError('bad_coding', `expected ${n} shard slots, got ${shards.length}`);
    const present: number[] = [];
    for (let i = 0; i < n && present.length < this.k; i++) if (shards[i]) present.push(i);
    if (present.length < this.k)
      throw new QssError('too_few_shards', `${present.length} shards left, ${this.k} needed to rebuild`);
    const targets = wanted ?? [...Array(n).keys()].filter((i) => !shards[i]);
    for (const t of targets)
      if (!Number.isInteger(t) || t < 0 || t >= n) throw new QssError('bad_coding', `no shard index ${t}`);
    if (targets.length === 0) return [];
    const key = `${present.join(',')}>${targets.join(',')}`;
    let tables = this.#decodeTables.get(key);
    if (!tables) {
      const basis = invert(present.map((i) => this.#generator[i]!));
      tables = nibbleTables(targets.map((t) => times(this.#generator[t]!, basis)));
      if (this.#decodeTables.size > 64) this.#decodeTables.clear();
      this.#decodeTables.set(key, tables);
    }
    return this.#run(
      tables,
      present.map((i) => shards[i]!),
      targets.length,
    );
  }

  /** outputs = matrix (given as nibble tables, nOut × inputs.length) × inputs, in wasm memory. */
  #run(tables: Uint8Array, inputs: readonly Uint8Array[], nOut: number): Uint8Array[] {
    const len = inputs[0]?.length ?? 0;
    for (const s of inputs)
      if (s.length !== len) throw new QssError('bad_coding', 'shards must all have the same length');
    if (nOut === 0) return [];
    if (len === 0) return Array.from({ length: nOut }, () => new Uint8Array(0));
    const nIn = inputs.length;
    const span = align(len, STRIDE);
    const inPtrs = align(tables.length, 16);
    const outPtrs = inPtrs + 4 * nIn;
    const inBase = align(outPtrs + 4 * nOut, STRIDE);
    const outBase = inBase + nIn * span;
    const end = outBase + nOut * span;
    if (end > this.#memory.buffer.byteLength)
      this.#memory.grow(Math.ceil((end - this.#memory.buffer.byteLength) / PAGE));
    const heap = new Uint8Array(this.#memory.buffer);
    const words = new Uint32Array(this.#memory.buffer, inPtrs, nIn + nOut);
    heap.set(tables, 0);
    inputs.forEach((s, j) => {
      words[j] = inBase + j * span;
      heap.set(s, inBase + j * span);
    });
    for (let r = 0; r < nOut; r++) words[nIn + r] = outBase + r * span;
    this.#mul(nIn, nOut, 0, inPtrs, outPtrs, span);
    const out: Uint8Array[] = [];
    const copy = new Uint8Array(this.#memory.buffer.slice(outBase, end));
    for (let r = 0; r < nOut; r++) out.push(copy.subarray(r * span, r * span + len));
    return out;
  }
}

function row(k: number, one: number): number[] {
  const r = new Array<number>(k).fill(0);
  r[one] = 1;
  return r;
}

/** Row vector × matrix over GF(2^8). */
function times(vector: readonly number[], matrix: Matrix): number[] {
  const out = new Array<number>(matrix[0]!.length).fill(0);
  vector.forEach((c, j) => {
    if (c === 0) return;
    matrix[j]!.forEach((x, col) => {
      out[col]! ^= gfMul(c, x);
    });
  });
  return out;
}
