/**
 * Arithmetic in GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), and the small
 * matrices Reed-Solomon needs: the Cauchy parity rows of a systematic k+m code and inversion of
 * the k×k matrix of the shards that survived. Matrices are arrays of rows of field elements.
 */
import { QssError } from './errors.ts';

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

export function gfInv(a: number): number {
  if (a === 0) throw new QssError('bad_coding', 'zero has no inverse in GF(2^8)');
  return EXP[255 - LOG[a]!]!;
}

export type Matrix = number[][];

/**
 * The m parity rows of a systematic code: row i, column j holds 1 / (x_i + y_j) with
 * x_i = k + i and y_j = j. Every square submatrix of a Cauchy matrix is invertible, so any k of
 * the k+m shards (identity rows for data, these rows for parity) determine the data.
 */
export function cauchyParityRows(k: number, m: number): Matrix {
  const rows: Matrix = [];
  for (let i = 0; i < m; i++) {
    const row: number[] = [];
    for (let j = 0; j < k; j++) row.push(gfInv((k + i) ^ j));
    rows.push(row);
  }
  return rows;
}

/** Inverse of a square matrix by Gauss-Jordan elimination; throws bad_coding if it is singular. */
export function invert(matrix: Matrix): Matrix {
  const n = matrix.length;
  const a = matrix.map((row, i) => {
    const wide = [...row, ...new Array<number>(n).fill(0)];
    wide[n + i] = 1;
    return wide;
  });
  for (let col = 0; col < n; col++) {
    const pivot = a.findIndex((row, r) => r >= col && row[col] !== 0);
    if (pivot < 0) throw new QssError('bad_coding', 'singular matrix');
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const row = a[col]!;
    const scale = gfInv(row[col]!);
    for (let c = 0; c < 2 * n; c++) row[c] = gfMul(row[c]!, scale);
    for (let r = 0; r < n; r++) {
      const other = a[r]!;
      const factor = other[col]!;
      if (r === col || factor === 0) continue;
      for (let c = 0; c < 2 * n; c++) other[c]! ^= gfMul(factor, row[c]!);
    }
  }
  return a.map((row) => row.slice(n));
}

/**
 * For each coefficient, the two 16-entry tables of the split-nibble method:
 * c·v = low[v & 15] ^ high[v >> 4]. Laid out row by row, 32 bytes per coefficient.
 */
export function nibbleTables(matrix: Matrix): Uint8Array {
  const coefficients = matrix.flat();
  const out = new Uint8Array(coefficients.length * 32);
  coefficients.forEach((c, i) => {
    for (let x = 0; x < 16; x++) {
      out[i * 32 + x] = gfMul(c, x);
      out[i * 32 + 16 + x] = gfMul(c, x << 4);
    }
  });
  return out;
}
