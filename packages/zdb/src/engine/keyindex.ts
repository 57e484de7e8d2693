/**
 * The in-memory index of a namespace: key → the position and metadata of its live version.
 * Compact for millions of keys: one Map<string, slot> plus typed-array columns per slot, and a
 * write-order log of (file, offset, slot) that SCAN/RSCAN walk with binary-searchable cursors.
 */

const INITIAL = 1024;

function grow32(a: Uint32Array, size: number): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(size);
  next.set(a);
  return next;
}

export interface Located {
  file: number;
  offset: number;
}

export class KeyIndex {
  private readonly slots = new Map<string, number>();
  private free: number[] = [];
  private capacity = INITIAL;
  private used = 0;
  file = new Uint32Array(INITIAL);
  offset = new Uint32Array(INITIAL);
  length = new Uint32Array(INITIAL);
  crc = new Uint32Array(INITIAL);
  timestamp = new Uint32Array(INITIAL);
  prevFile = new Uint32Array(INITIAL);
  prevOffset = new Uint32Array(INITIAL);
  private keys: string[] = [];

  // write-order log
  private logFile = new Uint32Array(INITIAL);
  private logOffset = new Uint32Array(INITIAL);
  private logSlot = new Uint32Array(INITIAL);
  private logLength = 0;

  /** Sum of live payload lengths. */
  liveBytes = 0;

  get size(): number {
    return this.slots.size;
  }

  slotOf(key: string): number | undefined {
    return this.slots.get(key);
  }

  keyOf(slot: number): string {
    return this.keys[slot]!;
  }

  /** Records a new live version of `key` (insert or overwrite); returns its slot. */
  put(
    key: string,
    file: number,
    offset: number,
    length: number,
    crc: number,
    timestamp: number,
    prevFile: number,
    prevOffset: number,
  ): number {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      this.slots.set(key, slot);
      this.keys[slot] = key;
    } else {
      this.liveBytes -= this.length[slot]!;
    }
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

  remove(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.liveBytes -= this.length[slot]!;
    this.file[slot] = 0xffffffff;
    this.keys[slot] = '';
    this.free.push(slot);
  }

  clear(): void {
    this.slots.clear();
    this.free = [];
    this.used = 0;
    this.keys = [];
    this.logLength = 0;
    this.liveBytes = 0;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.capacity) {
      this.capacity *= 2;
      this.file = grow32(this.file, this.capacity);
      this.offset = grow32(this.offset, this.capacity);
      this.length = grow32(this.length, this.capacity);
      this.crc = grow32(this.crc, this.capacity);
      this.timestamp = grow32(this.timestamp, this.capacity);
      this.prevFile = grow32(this.prevFile, this.capacity);
      this.prevOffset = grow32(this.prevOffset, this.capacity);
    }
    return this.used++;
  }

  private appendLog(file: number, offset: number, slot: number): void {
    if (this.logLength === this.logFile.length) {
      // Drop stale log entries first when they dominate; grow otherwise.
      if (this.logLength > 2 * this.slots.size + INITIAL) this.compactLog();
      if (this.logLength === this.logFile.length) {
        const size = this.logFile.length * 2;
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
