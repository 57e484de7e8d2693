/**
 * The in-memory index of a namespace: key → the position and metadata of its live version.
 *
 * Compact for millions of keys and no allocation per lookup: keys are bytes, never JS strings.
 * Each key's bytes live in one arena Buffer; an open-addressing hash table (linear probing,
 * backward-shift deletion, so no tombstones) maps a keyed hash of those bytes to a slot; each slot
 * is a row of typed-array columns. A write-order log of (file, offset, slot) serves SCAN/RSCAN
 * with binary-searchable cursors. A million 12-byte keys hold 92 bytes each after GC, the value
 * cache's column and ring included (bench/zdb/memory.ts), where a Map<string, slot> held 115.
 *
 * The hash is HalfSipHash-1-3 under a random per-process key, so a client choosing keys cannot
 * aim them at one probe chain (hash flooding).
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_CACHE_BYTES, ValueRing } from './valuecache.ts';

const INITIAL = 1024;
/** The table grows when more than this share of its buckets is used. */
const MAX_LOAD = 0.7;
/** Dead arena bytes tolerated before the arena is rewritten (besides exceeding the live bytes). */
const ARENA_SLACK = 64 * 1024;
const DEAD = 0xffffffff;

function grow32(a: Uint32Array, size: number): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(size);
  next.set(a.subarray(0, Math.min(a.length, size)));
  return next;
}

export interface Located {
  file: number;
  offset: number;
}

const seed = randomBytes(8);
const K0 = seed.readInt32LE(0);
const K1 = seed.readInt32LE(4);

/** HalfSipHash-1-3 (32-bit output) of buf[start, end) under the process key. */
function hashOf(buf: Uint8Array, start: number, end: number): number {
  let v0 = K0;
  let v1 = K1;
  let v2 = 0x6c796765 ^ K0;
  let v3 = 0x74656462 ^ K1;
  const len = end - start;
  const stop = start + (len & ~3);
  let i = start;
  for (; i < stop; i += 4) {
    const m = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    v3 ^= m;
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  let b = len << 24;
  const rest = len & 3;
  if (rest >= 3) b |= buf[i + 2]! << 16;
  if (rest >= 2) b |= buf[i + 1]! << 8;
  if (rest >= 1) b |= buf[i]!;
  for (let r = 0; r < 4; r++) {
    // one compression round for the last word, then three finalisation rounds
    if (r === 0) v3 ^= b;
    else if (r === 1) {
      v0 ^= b;
      v2 ^= 0xff;
    }
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}

export class KeyIndex {
  /** Buckets: slot + 1, 0 = empty. */
  private table = new Uint32Array(INITIAL * 2);
  private mask = INITIAL * 2 - 1;
  private count = 0;
  private free: number[] = [];
  private capacity = INITIAL;
  private used = 0;
  private arena = Buffer.allocUnsafeSlow(16 * INITIAL);
  private arenaUsed = 0;
  private arenaDead = 0;
  /** Per slot: the key's hash, where its bytes start in the arena, and its length. */
  private hash = new Uint32Array(INITIAL);
  private keyAt = new Uint32Array(INITIAL);
  private keyLength = new Uint8Array(INITIAL);
  /** Per slot: data file id of the live version (DEAD for a free slot). */
  file = new Uint32Array(INITIAL);
  offset = new Uint32Array(INITIAL);
  length = new Uint32Array(INITIAL);
  crc = new Uint32Array(INITIAL);
  timestamp = new Uint32Array(INITIAL);
  prevFile = new Uint32Array(INITIAL);
  prevOffset = new Uint32Array(INITIAL);
  /** Per slot: where the live value sits in the value cache (0 = not there). */
  private cachedAt = new Float64Array(INITIAL);
  private readonly cache: ValueRing | null;

  // write-order log
  private logFile = new Uint32Array(INITIAL);
  private logOffset = new Uint32Array(INITIAL);
  private logSlot = new Uint32Array(INITIAL);
  private logLength = 0;

  /** The last lookup: its key, and the slot it found (-1: its hash and empty bucket follow). */
  private lastKey: Buffer | null = null;
  private lastSlot = -1;
  private missHash = 0;
  private missBucket = 0;

  /** Sum of live payload lengths. */
  liveBytes = 0;

  /** `cacheBytes`: bound of the cache of recent values (0 = none). */
  constructor(cacheBytes = DEFAULT_CACHE_BYTES) {
    this.cache = cacheBytes > 0 ? new ValueRing(cacheBytes) : null;
  }

  get size(): number {
    return this.count;
  }

  /** Keeps a copy of `value`, the live value of `slot`, in the cache of recent values. */
  cacheValue(slot: number, value: Buffer): void {
    if (this.cache && value.length <= this.cache.maxValue) this.cachedAt[slot] = this.cache.store(value);
  }

  /** A copy of the live value of `slot` from the cache, or null. */
  cachedValue(slot: number): Buffer | null {
    const at = this.cachedAt[slot]!;
    return at === 0 || !this.cache ? null : this.cache.load(at, this.length[slot]!);
  }

  private matches(slot: number, key: Buffer, h: number): boolean {
    if (this.hash[slot] !== h || this.keyLength[slot] !== key.length) return false;
    const arena = this.arena;
    const at = this.keyAt[slot]!;
    for (let i = 0; i < key.length; i++) if (arena[at + i] !== key[i]) return false;
    return true;
  }

  /** Bucket holding `key`, or -1 (then missHash / missBucket say where it would go). */
  private find(key: Buffer): number {
    const h = hashOf(key, 0, key.length);
    const table = this.table;
    const mask = this.mask;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const e = table[b]!;
      if (e === 0) {
        this.lastKey = key;
        this.lastSlot = -1;
        this.missHash = h;
        this.missBucket = b;
        return -1;
      }
      if (this.matches(e - 1, key, h)) {
        this.lastKey = key;
        this.lastSlot = e - 1;
        return b;
      }
    }
  }

  slotOf(key: Buffer): number | undefined {
    const b = this.find(key);
    return b < 0 ? undefined : this.table[b]! - 1;
  }

  /** A copy of the key of a live slot. */
  keyOf(slot: number): Buffer {
    const at = this.keyAt[slot]!;
    return Buffer.from(this.arena.subarray(at, at + this.keyLength[slot]!));
  }

  /**
   * Records a new live version of `key` (insert or overwrite); returns its slot. Right after
   * slotOf(key) with this same (unchanged) Buffer, it reuses that lookup.
   */
  put(
    key: Buffer,
    file: number,
    offset: number,
    length: number,
    crc: number,
    timestamp: number,
    prevFile: number,
    prevOffset: number,
  ): number {
    if (this.lastKey !== key) this.find(key);
    const slot = this.lastSlot >= 0 ? this.lastSlot : this.insert(key);
    return this.record(slot, file, offset, length, crc, timestamp, prevFile, prevOffset);
  }

  private record(
    slot: number,
    file: number,
    offset: number,
    length: number,
    crc: number,
    timestamp: number,
    prevFile: number,
    prevOffset: number,
  ): number {
    if (this.file[slot] !== DEAD) this.liveBytes -= this.length[slot]!;
    this.cachedAt[slot] = 0;
    this.file[slot] = file;
    this.offset[slot] = offset;
    this.length[slot] = length;
    this.crc[slot] = crc;
    this.timestamp[slot] = timestamp;
    this.prevFile[slot] = prevFile;
    this.prevOffset[slot] = prevOffset;
    this.liveBytes += length;
    this.appendLog(file, offset, slot);
    return slot;
  }

  /** Adds `key`, known absent by the last find(); returns its new (DEAD) slot. */
  private insert(key: Buffer): number {
    if ((this.count + 1) / this.table.length > MAX_LOAD) {
      this.rehash(this.table.length * 2);
      this.find(key);
    }
    const slot = this.allocate();
    const h = this.missHash;
    this.table[this.missBucket] = slot + 1;
    this.lastKey = null;
    this.count++;
    this.hash[slot] = h;
    this.keyLength[slot] = key.length;
    this.keyAt[slot] = this.store(key);
    this.file[slot] = DEAD;
    return slot;
  }

  /** Copies `key` into the arena; its offset. */
  private store(key: Buffer): number {
    if (this.arenaUsed + key.length > this.arena.length) {
      if (this.arenaDead > ARENA_SLACK && this.arenaDead > this.arenaUsed - this.arenaDead)
        this.compactArena();
      if (this.arenaUsed + key.length > this.arena.length) {
        const next = Buffer.allocUnsafeSlow(Math.max(this.arena.length * 2, this.arenaUsed + key.length));
        this.arena.copy(next, 0, 0, this.arenaUsed);
        this.arena = next;
      }
    }
    const at = this.arenaUsed;
    key.copy(this.arena, at);
    this.arenaUsed += key.length;
    return at;
  }

  /** Rewrites the arena with live keys only. */
  private compactArena(): void {
    const next = Buffer.allocUnsafeSlow(this.arena.length);
    let w = 0;
    for (let s = 0; s < this.used; s++) {
      if (this.file[s] === DEAD) continue;
      const at = this.keyAt[s]!;
      const n = this.keyLength[s]!;
      this.arena.copy(next, w, at, at + n);
      this.keyAt[s] = w;
      w += n;
    }
    this.arena = next;
    this.arenaUsed = w;
    this.arenaDead = 0;
  }

  private rehash(buckets: number): void {
    const table = new Uint32Array(buckets);
    const mask = buckets - 1;
    for (let s = 0; s < this.used; s++) {
      if (this.file[s] === DEAD) continue;
      let b = this.hash[s]! & mask;
      while (table[b] !== 0) b = (b + 1) & mask;
      table[b] = s + 1;
    }
    this.table = table;
    this.mask = mask;
    this.lastKey = null;
  }

  remove(key: Buffer): void {
    let b = this.find(key);
    if (b < 0) return;
    const slot = this.table[b]! - 1;
    // Backward-shift deletion: pull later entries of the probe run into the hole they may use.
    const table = this.table;
    const mask = this.mask;
    table[b] = 0;
    for (let j = (b + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.hash[table[j]! - 1]! & mask;
      if (((j - home) & mask) >= ((j - b) & mask)) {
        table[b] = table[j]!;
        table[j] = 0;
        b = j;
      }
    }
    this.lastKey = null;
    this.count--;
    this.liveBytes -= this.length[slot]!;
    this.file[slot] = DEAD;
    this.cachedAt[slot] = 0;
    this.arenaDead += this.keyLength[slot]!;
    this.free.push(slot);
  }

  clear(): void {
    this.table = new Uint32Array(INITIAL * 2);
    this.mask = INITIAL * 2 - 1;
    this.count = 0;
    this.free = [];
    this.used = 0;
    this.arenaUsed = 0;
    this.arenaDead = 0;
    this.logLength = 0;
    this.liveBytes = 0;
    this.lastKey = null;
    this.cachedAt.fill(0);
    this.cache?.clear();
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.capacity) {
      // Grow by half, not double: at a million keys the columns are most of the memory.
      this.capacity = Math.ceil(this.capacity * 1.5);
      const c = this.capacity;
      this.hash = grow32(this.hash, c);
      this.keyAt = grow32(this.keyAt, c);
      const kl = new Uint8Array(c);
      kl.set(this.keyLength);
      this.keyLength = kl;
      this.file = grow32(this.file, c);
      this.offset = grow32(this.offset, c);
      this.length = grow32(this.length, c);
      this.crc = grow32(this.crc, c);
      this.timestamp = grow32(this.timestamp, c);
      this.prevFile = grow32(this.prevFile, c);
      this.prevOffset = grow32(this.prevOffset, c);
      const cached = new Float64Array(c);
      cached.set(this.cachedAt);
      this.cachedAt = cached;
    }
    return this.used++;
  }

  private appendLog(file: number, offset: number, slot: number): void {
    if (this.logLength === this.logFile.length) {
      // Drop stale log entries first when they dominate; grow otherwise.
      if (this.logLength > 2 * this.count + INITIAL) this.compactLog();
      if (this.logLength === this.logFile.length) {
        const size = Math.ceil(this.logFile.length * 1.5);
        this.logFile = grow32(this.logFile, size);
        this.logOffset = grow32(this.logOffset, size);
        this.logSlot = grow32(this.logSlot, size);
      }
    }
    this.logFile[this.logLength] = file;
    this.logOffset[this.logLength] = offset;
    this.logSlot[this.logLength] = slot;
    this.logLength++;
  }

  private isLive(i: number): boolean {
    const slot = this.logSlot[i]!;
    return this.file[slot] === this.logFile[i] && this.offset[slot] === this.logOffset[i];
  }

  private compactLog(): void {
    let w = 0;
    for (let r = 0; r < this.logLength; r++) {
      if (!this.isLive(r)) continue;
      this.logFile[w] = this.logFile[r]!;
      this.logOffset[w] = this.logOffset[r]!;
      this.logSlot[w] = this.logSlot[r]!;
      w++;
    }
    this.logLength = w;
  }

  /** First log index strictly after (file, offset). */
  private after(file: number, offset: number): number {
    let lo = 0;
    let hi = this.logLength;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const f = this.logFile[mid]!;
      if (f < file || (f === file && this.logOffset[mid]! <= offset)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Live slots in write order after `from` (null = start), or before it when reverse. */
  walk(from: Located | null, count: number, reverse: boolean): number[] {
    const out: number[] = [];
    if (!reverse) {
      for (
        let i = from ? this.after(from.file, from.offset) : 0;
        i < this.logLength && out.length < count;
        i++
      ) {
        if (this.isLive(i)) out.push(this.logSlot[i]!);
      }
    } else {
      let i = from ? this.after(from.file, from.offset - 1) - 1 : this.logLength - 1;
      // `after(f, o-1)` is the first index at or after (f, o): step before it.
      if (from && from.offset === 0) i = this.after(from.file - 1, 0xffffffff) - 1;
      for (; i >= 0 && out.length < count; i--) {
        if (this.isLive(i)) out.push(this.logSlot[i]!);
      }
    }
    return out;
  }
}
