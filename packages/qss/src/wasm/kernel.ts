/**
 * The GF(2^8) matrix-times-shards kernel in WebAssembly SIMD, generated as a binary at load time.
 *
 *   mul(nIn, nOut, tables, inPtrs, outPtrs, len)
 *
 * computes out[r] = Σ_j M[r][j]·in[j] over `len` bytes (a multiple of 16·UNROLL) for nOut output
 * and nIn input shards whose addresses are i32 arrays at inPtrs / outPtrs. `tables` holds the
 * split-nibble tables of M row by row (32 bytes per coefficient, see gf256.nibbleTables): a
 * product is two byte shuffles (i8x16.swizzle) of the low and high nibbles, XORed together.
 */
import { assemble, op } from './assembler.ts';
import { type WasmMemory, wasm } from './runtime.ts';

/** Vectors of 16 bytes per output row per loop iteration (instruction-level parallelism). */
export const UNROLL = 4;
export const STRIDE = 16 * UNROLL;

const [N_IN, N_OUT, TABLES, IN_PTRS, OUT_PTRS, LEN] = [0, 1, 2, 3, 4, 5];
const [POS, ROW, COL, T, SRC, DST] = [6, 7, 8, 9, 10, 11];
const [MASK, TLO, THI, V] = [12, 13, 14, 15];
const ACC = 16;
const ZERO = new Array<number>(16).fill(0);

function accumulate(u: number): number[][] {
  return [
    op.localGet(ACC + u),
    op.localGet(TLO),
    op.localGet(SRC),
    op.v128Load(16 * u),
    op.localTee(V),
    op.localGet(MASK),
    op.v128And(),
    op.i8x16Swizzle(),
    op.v128Xor(),
    op.localGet(THI),
    op.localGet(V),
    op.i32Const(4),
    op.i8x16ShrU(),
    op.i8x16Swizzle(),
    op.v128Xor(),
    op.localSet(ACC + u),
  ];
}

function body(unroll: number): number[][] {
  const units = [...Array(unroll).keys()];
  return [
    op.i32Const(15),
    op.i8x16Splat(),
    op.localSet(MASK),
    op.block(),
    op.localGet(LEN),
    op.i32Eqz(),
    op.brIf(0),
    op.loop(), // over byte positions
    op.i32Const(0),
    op.localSet(ROW),
    op.localGet(TABLES),
    op.localSet(T),
    op.loop(), // over output rows
    ...units.flatMap((u) => [op.v128Const(ZERO), op.localSet(ACC + u)]),
    op.i32Const(0),
    op.localSet(COL),
    op.loop(), // over input shards
    op.localGet(IN_PTRS),
    op.localGet(COL),
    op.i32Const(2),
    op.i32Shl(),
    op.i32Add(),
    op.i32Load(),
    op.localGet(POS),
    op.i32Add(),
    op.localSet(SRC),
    op.localGet(T),
    op.v128Load(0),
    op.localSet(TLO),
    op.localGet(T),
    op.v128Load(16),
    op.localSet(THI),
    ...units.flatMap(accumulate),
    op.localGet(T),
    op.i32Const(32),
    op.i32Add(),
    op.localSet(T),
    op.localGet(COL),
    op.i32Const(1),
    op.i32Add(),
    op.localTee(COL),
    op.localGet(N_IN),
    op.i32Ne(),
    op.brIf(0),
    op.end(),
    op.localGet(OUT_PTRS),
    op.localGet(ROW),
    op.i32Const(2),
    op.i32Shl(),
    op.i32Add(),
    op.i32Load(),
    op.localGet(POS),
    op.i32Add(),
    op.localSet(DST),
    ...units.flatMap((u) => [op.localGet(DST), op.localGet(ACC + u), op.v128Store(16 * u)]),
    op.localGet(ROW),
    op.i32Const(1),
    op.i32Add(),
    op.localTee(ROW),
    op.localGet(N_OUT),
    op.i32Ne(),
    op.brIf(0),
    op.end(),
    op.localGet(POS),
    op.i32Const(16 * unroll),
    op.i32Add(),
    op.localTee(POS),
    op.localGet(LEN),
    op.i32LtU(),
    op.brIf(0),
    op.end(),
    op.end(),
  ];
}

export type MulKernel = (
  nIn: number,
  nOut: number,
  tables: number,
  inPtrs: number,
  outPtrs: number,
  len: number,
) => void;

export function kernelBinary(unroll = UNROLL): Uint8Array {
  const locals = [...Array<'i32'>(6).fill('i32'), ...Array<'v128'>(4 + unroll).fill('v128')] as Array<
    'i32' | 'v128'
  >;
  return assemble([{ name: 'mul', params: Array(6).fill('i32'), locals, body: body(unroll) }]);
}

let compiled: object | undefined;

/** The kernel bound to `memory` (compiled once per thread, instantiated per memory). */
export function instantiateKernel(memory: WasmMemory): MulKernel {
  compiled ??= new wasm.Module(kernelBinary());
  const instance = new wasm.Instance(compiled, { env: { memory } });
  return instance.exports.mul as MulKernel;
}
