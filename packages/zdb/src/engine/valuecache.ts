/**
 * A bounded cache of recent small values: one ring of bytes that values are copied into as they
 * are written or read, newest overwriting oldest. It holds no per-entry objects: where a slot's
 * value sits is one number in the key index (an absolute ring position), valid while fewer than
 * the ring's size of bytes were written after it. A GET that hits costs a copy instead of a
 * pread(2) and its CRC check (the bytes were checked or computed when they came in).
 *
 * The ring starts small and doubles up to its bound as it fills, keeping what it holds.
 */

/** Default bound of the ring, per namespace with traffic. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** Values larger than this, or than 1/16 of the bound, are never cached. */
export const MAX_CACHED_VALUE = 16 * 1024;
const FIRST_RING = 1024 * 1024;

export class ValueRing {
  private ring: Buffer = Buffer.alloc(0);
  /** Absolute position (bytes ever written into any ring) of the next value. */
  private head = 1;
  /** Positions before this belong to a dropped ring. */
  private base = 1;
  readonly maxValue: number;

  constructor(readonly bound: number) {
    this.maxValue = Math.min(MAX_CACHED_VALUE, Math.floor(bound / 16));
  }

  /** Copies `value` in; its position (0 when not cached). */
  store(value: Uint8Array): number {
    const n = value.length;
    if (n > this.maxValue || n === 0) return 0;
    let size = this.ring.length;
    if (this.head - this.base + n > size && size < this.bound) {
      // Grow instead of evicting while under the bound.
      this.grow(size === 0 ? Math.min(FIRST_RING, this.bound) : Math.min(size * 2, this.bound));
      size = this.ring.length;
    }
    let at = this.head % size;
    if (at + n > size) {
      this.head += size - at; // skip the tail: a value never wraps
      at = 0;
    }
    this.ring.set(value, at);
    const position = this.head;
    this.head += n;
    return position;
  }

  /** Moves to a ring of `size` bytes, keeping what it holds at the same absolute positions. */
  private grow(size: number): void {
    const old = this.ring;
    const next = Buffer.allocUnsafeSlow(size);
    const from = Math.max(this.base, this.head - old.length);
    for (let p = from; p < this.head; ) {
      const o = p % old.length;
      const n = p % size;
      const len = Math.min(this.head - p, old.length - o, size - n);
      next.set(old.subarray(o, o + len), n);
      p += len;
    }
    this.ring = next;
    this.base = from;
  }

  /** A copy of the `length` bytes stored at `position`, or null when they were overwritten. */
  load(position: number, length: number): Buffer | null {
    const size = this.ring.length;
    if (position < this.base || this.head - position > size) return null;
    const at = position % size;
    const out = Buffer.allocUnsafe(length);
    this.ring.copy(out, 0, at, at + length);
    return out;
  }

  clear(): void {
    this.base = this.head;
  }
}
