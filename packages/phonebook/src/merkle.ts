/**
 * A Merkle tree over the ledger's entries, as Certificate Transparency defines it (RFC 9162
 * §2.1): leaf hash SHA-256(0x00 ‖ data), interior node SHA-256(0x01 ‖ left ‖ right), the tree
 * over n leaves split at the largest power of two below n. The server signs the root in its
 * checkpoints, so one entry is proven by a path of ⌈log2 n⌉ hashes (inclusion), and one
 * checkpoint is proven to extend an older one the same way (consistency).
 *
 * Memory: every complete subtree's hash is kept, 32 bytes per slot in one growable buffer per
 * level (about 64 bytes per entry in all); ragged right edges are hashed on demand, O(log² n).
 */
import { createHash } from 'node:crypto';

const HASH = 32;

/** RFC 9162 leaf hash: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(data).digest();
}

/** RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** The root of the empty tree. */
export const EMPTY_ROOT = createHash('sha256').digest();

/** A growable array of 32-byte hashes in one buffer. */
class Hashes {
  private buf = Buffer.alloc(HASH * 64);
  length = 0;

  push(h: Uint8Array): void {
    if ((this.length + 1) * HASH > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    this.buf.set(h, this.length * HASH);
    this.length++;
  }

  get(i: number): Buffer {
    return this.buf.subarray(i * HASH, (i + 1) * HASH);
  }
}

/** The largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The ledger's Merkle tree, append-only: roots, inclusion and consistency proofs at any size. */
export class MerkleTree {
  /** levels[k][i]: the hash of the complete subtree of 2^k leaves starting at leaf i·2^k. */
  private readonly levels: Hashes[] = [new Hashes()];

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Uint8Array): void {
    this.levels[0]!.push(leaf);
    // Completing a pair at one level completes a node at the next, and so on up.
    for (let k = 0, i = this.levels[0]!.length - 1; i % 2 === 1; k++, i = (i - 1) / 2) {
      const level = this.levels[k]!;
      if (!this.levels[k + 1]) this.levels.push(new Hashes());
      this.levels[k + 1]!.push(nodeHash(level.get(i - 1), level.get(i)));
    }
  }

  /** MTH of the n leaves from `start` (n ≥ 1). */
  private hash(start: number, n: number): Buffer {
    if ((n & (n - 1)) === 0 && start % n === 0) return this.levels[Math.log2(n)]!.get(start / n);
    const k = split(n);
    return nodeHash(this.hash(start, k), this.hash(start + k, n - k));
  }

  /** The root of the tree over the first `size` leaves. */
  root(size = this.size): Buffer {
    this.check(size);
    return size === 0 ? EMPTY_ROOT : this.hash(0, size);
  }

  /** RFC 9162 PATH(index, D[0:size]): the audit path proving leaf `index` under root(size). */
  inclusion(index: number, size = this.size): Buffer[] {
    this.check(size);
    if (index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
    const path: Buffer[] = [];
    const walk = (m: number, start: number, n: number): void => {
      if (n === 1) return;
      const k = split(n);
      if (m < k) {
        walk(m, start, k);
        path.push(this.hash(start + k, n - k));
      } else {
        walk(m - k, start + k, n - k);
        path.push(this.hash(start, k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** RFC 9162 PROOF(m, D[0:n]): proves root(m) is a prefix of root(n) (0 < m ≤ n). */
  consistency(m: number, n = this.size): Buffer[] {
    this.check(n);
    if (m < 1 || m > n) throw new RangeError(`no consistency proof from ${m} to ${n}`);
    const proof: Buffer[] = [];
    const sub = (m: number, start: number, n: number, whole: boolean): void => {
      if (m === n) {
        if (!whole) proof.push(this.hash(start, n));
        return;
      }
      const k = split(n);
      if (m <= k) {
        sub(m, start, k, whole);
        proof.push(this.hash(start + k, n - k));
      } else {
        sub(m - k, start + k, n - k, false);
        proof.push(this.hash(start, k));
      }
    };
    sub(m, 0, n, true);
    return proof;
  }

  private check(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size)
      throw new RangeError(`the tree has ${this.size} leaves, not ${size}`);
  }
}

const half = (x: number) => Math.floor(x / 2);

/** RFC 9162 §2.1.3.2: does `path` prove `leaf` at `index` under `root` of a tree of `size`? */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && Buffer.from(r).equals(root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree of size `m` (root `rootM`) is a prefix of the tree of size `n`? */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: Uint8Array[],
): boolean {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || m > n) return false;
  if (m === n) return proof.length === 0 && Buffer.from(rootM).equals(rootN);
  const path = (m & (m - 1)) === 0 ? [rootM, ...proof] : proof;
  if (path.length === 0) return false;
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && Buffer.from(fr).equals(rootM) && Buffer.from(sr).equals(rootN);
}
