/**
 * The Reed-Solomon candidates behind one interface: encode a block (k data shards) into its m
 * parity shards, and rebuild lost data shards from the survivors. Packages that are not installed
 * are reported as skipped (they are candidates, not dependencies).
 */
import { createRequire } from 'node:module';
import { ReedSolomon } from '../../packages/qss/src/reed-solomon.ts';
import { JsReedSolomon } from './js-coder.ts';

export interface Candidate {
  name: string;
  kind: string;
  encode(data: Uint8Array[]): Promise<Uint8Array[]> | Uint8Array[];
  /** Rebuilds the missing (undefined) data shards; returns them in index order. */
  rebuild(shards: Array<Uint8Array | undefined>): Promise<Uint8Array[]> | Uint8Array[];
}

export type Loaded = Candidate | { name: string; skipped: string };

const require = createRequire(import.meta.url);

function ours(k: number, m: number): Candidate {
  const rs = new ReedSolomon(k, m);
  return {
    name: 'qss-wasm-simd',
    kind: 'ours: WebAssembly SIMD, split-nibble swizzle, generated at load',
    encode: (data) => rs.encode(data),
    rebuild: (shards) => rs.reconstruct(shards),
  };
}

function js(k: number, m: number): Candidate {
  const rs = new JsReedSolomon(k, m);
  return {
    name: 'qss-js-tables',
    kind: 'ours: plain JS, 4 × 256-entry Uint32 tables per coefficient',
    encode: (data) => rs.encode(data),
    rebuild: (shards) => rs.reconstruct(shards),
  };
}

interface Ronomon {
  create(k: number, m: number): unknown;
  encode(
    context: unknown,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    done: (error: Error | undefined) => void,
  ): void;
}

function ronomon(k: number, m: number): Loaded {
  const name = '@ronomon/reed-solomon';
  let lib: Ronomon;
  try {
    lib = require(name) as Ronomon;
  } catch (e) {
    return { name, skipped: `not installed (${(e as Error).message.split('\n')[0]})` };
  }
  const context = lib.create(k, m);
  const run = (sources: number, targets: number, buffer: Buffer, parity: Buffer) =>
    new Promise<void>((resolve, reject) =>
      lib.encode(context, sources, targets, buffer, 0, buffer.length, parity, 0, parity.length, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  const bits = (from: number, to: number) => {
    let b = 0;
    for (let i = from; i < to; i++) b |= 1 << i;
    return b;
  };
  return {
    name,
    kind: 'native addon (C, node-gyp), runs in the libuv threadpool',
    async encode(data) {
      const size = data[0]!.length;
      const buffer = Buffer.concat(data);
      const parity = Buffer.alloc(size * m);
      await run(bits(0, k), bits(k, k + m), buffer, parity);
      return [...Array(m).keys()].map((i) => parity.subarray(i * size, (i + 1) * size));
    },
    async rebuild(shards) {
      const size = shards.find(Boolean)!.length;
      const zero = new Uint8Array(size);
      const buffer = Buffer.concat(shards.slice(0, k).map((s) => s ?? zero));
      const parity = Buffer.concat(shards.slice(k).map((s) => s ?? zero));
      let sources = 0;
      let targets = 0;
      shards.forEach((s, i) => {
        if (s) sources |= 1 << i;
        else targets |= 1 << i;
      });
      await run(sources, targets, buffer, parity);
      return shards.flatMap((s, i) => (s || i >= k ? [] : [buffer.subarray(i * size, (i + 1) * size)]));
    },
  };
}

interface RsErasure {
  encode(shards: Uint8Array, k: number, m: number): number;
  reconstruct(shards: Uint8Array, k: number, m: number, available: boolean[]): number;
}

function rustWasm(k: number, m: number): Loaded {
  const name = '@digitaldefiance/reed-solomon-erasure.wasm';
  let rs: RsErasure;
  try {
    const lib = require(name) as { ReedSolomonErasure: { fromCurrentDirectorySync(): RsErasure } };
    rs = lib.ReedSolomonErasure.fromCurrentDirectorySync();
  } catch (e) {
    return { name, skipped: `not installed (${(e as Error).message.split('\n')[0]})` };
  }
  const check = (code: number) => {
    if (code !== 0) throw new Error(`${name} failed with code ${code}`);
  };
  return {
    name,
    kind: 'Rust reed-solomon-erasure compiled to WebAssembly (no SIMD)',
    encode(data) {
      const size = data[0]!.length;
      const all = new Uint8Array(size * (k + m));
      data.forEach((s, i) => {
        all.set(s, i * size);
      });
      check(rs.encode(all, k, m));
      return [...Array(m).keys()].map((i) => all.slice((k + i) * size, (k + i + 1) * size));
    },
    rebuild(shards) {
      const size = shards.find(Boolean)!.length;
      const all = new Uint8Array(size * (k + m));
      shards.forEach((s, i) => {
        if (s) all.set(s, i * size);
      });
      check(
        rs.reconstruct(
          all,
          k,
          m,
          shards.map((s) => s !== undefined),
        ),
      );
      return shards.flatMap((s, i) => (s || i >= k ? [] : [all.slice(i * size, (i + 1) * size)]));
    },
  };
}

export function loadCandidates(k: number, m: number): Loaded[] {
  return [ours(k, m), js(k, m), ronomon(k, m), rustWasm(k, m)];
}
