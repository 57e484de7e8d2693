/**
 * A minimal WebAssembly binary writer: just enough to emit one module that imports its memory
 * and exports functions over i32 and v128 values. Instructions are written as byte arrays by the
 * helpers in `op`, so a kernel reads like the text format it would otherwise be written in.
 */

export type ValueType = 'i32' | 'v128';
const TYPE_BYTE: Record<ValueType, number> = { i32: 0x7f, v128: 0x7b };

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const simd = (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm];
const memarg = (offset: number) => [...uleb(0), ...uleb(offset)];

/** Instructions, each as its encoded bytes. */
export const op = {
  block: () => [0x02, 0x40],
  loop: () => [0x03, 0x40],
  end: () => [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Load: (offset = 0) => [0x28, 0x02, ...uleb(offset)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Eqz: () => [0x45],
  i32Ne: () => [0x47],
  i32LtU: () => [0x49],
  i32GeU: () => [0x4f],
  i32Add: () => [0x6a],
  i32Mul: () => [0x6c],
  i32Shl: () => [0x74],
  v128Load: (offset = 0) => simd(0x00, ...memarg(offset)),
  v128Store: (offset = 0) => simd(0x0b, ...memarg(offset)),
  v128Const: (bytes: readonly number[]) => simd(0x0c, ...bytes),
  i8x16Swizzle: () => simd(0x0e),
  i8x16Splat: () => simd(0x0f),
  v128And: () => simd(0x4e),
  v128Xor: () => simd(0x51),
  i8x16ShrU: () => simd(0x6d),
} as const;

export interface FunctionDef {
  name: string;
  params: ValueType[];
  locals: ValueType[];
  body: number[][];
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** A module importing `env.memory` (at least `minPages`) and exporting the given functions. */
export function assemble(functions: FunctionDef[], minPages = 1): Uint8Array {
  const types = functions.map((f) => [
    0x60,
    ...uleb(f.params.length),
    ...f.params.map((t) => TYPE_BYTE[t]),
    0,
  ]);
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(minPages)];
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bodies = functions.map((f) => {
    const locals = vector(f.locals.map((t) => [1, TYPE_BYTE[t]]));
    const code = [...locals, ...f.body.flat(), 0x0b];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(7, vector(exports)),
    ...section(10, vector(bodies)),
  ]);
}
