/** One namespace: its file pairs, its in-memory index, and the operations of the Namespace contract. */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  crc32,
  FLAG_DELETED,
  HEADER_SIZE,
  INDEX_RECORD_SIZE,
  type IndexRecord,
  MAGIC_SIZE,
  MAX_KEY_LENGTH,
  NONE,
  readDataHeader,
  writeDataEntry,
  writeDataHeader,
  writeIndexRecord,
} from './format.ts';
import { KeyIndex } from './keyindex.ts';
import { loadFilePair } from './recovery.ts';
import { LARGE_PAYLOAD, Storage } from './storage.ts';
import {
  EngineError,
  type EngineOptions,
  type EntryInfo,
  type HistoryEntry,
  type Namespace,
  type NamespaceProps,
  type NamespaceStats,
  type ScanPage,
  type SetResult,
} from './types.ts';

export const DESCRIPTOR = 'zdb-namespace.json';
const EMPTY = Buffer.alloc(0);

export interface Descriptor extends NamespaceProps {
  created: number;
}

export function writeDescriptor(indexDir: string, d: Descriptor): void {
  const tmp = join(indexDir, `${DESCRIPTOR}.tmp`);
  writeFileSync(tmp, JSON.stringify(d));
  renameSync(tmp, join(indexDir, DESCRIPTOR));
}

function encodePosition(file: number, offset: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32LE(file, 0);
  b.writeUInt32LE(offset, 4);
  return b;
}

function decodePosition(b: Buffer): { file: number; offset: number } {
  if (b.length !== 8) throw new EngineError('invalid_cursor', 'Invalid key format');
  return { file: b.readUInt32LE(0), offset: b.readUInt32LE(4) };
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

export class NamespaceImpl implements Namespace {
  readonly index: KeyIndex;
  readonly storage: Storage;
  private nextSeq = 0;
  private descriptor: Descriptor;
  dirty = false;
  removed = false;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly indexDir: string,
    descriptor: Descriptor,
    private readonly options: Readonly<EngineOptions>,
    /** Called when this namespace gets staged writes (so the engine knows whom to commit). */
    private readonly onDirty: (ns: NamespaceImpl) => void,
  ) {
    this.descriptor = descriptor;
    this.index = new KeyIndex(options.cacheBytes);
    this.storage = new Storage(dataDir, indexDir);
  }

  get props(): Readonly<NamespaceProps> {
    return this.descriptor;
  }

  /** Replays every file pair; repairs are reported through options.onRecovery. */
  load(): void {
    mkdirSync(this.dataDir, { recursive: true });
    mkdirSync(this.indexDir, { recursive: true });
    const ids = readdirSync(this.dataDir)
      .map((f) => /^zdb-data-(\d{5,})$/.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const [i, id] of ids.entries()) {
      const { records, repairs } = loadFilePair(
        this.storage.dataPath(id),
        this.storage.indexPath(id),
        i === ids.length - 1,
      );
      for (const msg of repairs) this.options.onRecovery?.(this.name, `file ${id}: ${msg}`);
      for (const r of records) {
        const key = r.key;
        if (this.descriptor.mode === 'seq' && r.key.length === 8) {
          this.nextSeq = Math.max(this.nextSeq, Number(r.key.readBigUInt64LE(0)) + 1);
        }
        if (r.flags & FLAG_DELETED) this.index.remove(key);
        else
          this.index.put(
            key,
            id,
            r.dataOffset,
            r.payloadLength,
            r.payloadCrc,
            r.timestamp,
            r.prevFile,
            r.prevOffset,
          );
      }
    }
    this.storage.openForAppend(ids.length ? ids[ids.length - 1]! : 0);
  }

  private writable(): void {
    if (this.removed) throw new EngineError('namespace_removed', 'Namespace was removed');
    if (this.descriptor.frozen) throw new EngineError('read_only', 'Namespace is temporarily frozen');
    if (this.descriptor.locked)
      throw new EngineError('read_only', 'Namespace is temporarily locked (read-only)');
  }

  /** Stages one data entry and its index record (rotating files first when needed). */
  appendEntry(
    key: Buffer,
    value: Buffer | readonly Buffer[],
    flags: number,
    crc: number,
    prevFile: number,
    prevOffset: number,
    timestamp = now(),
  ): { file: number; offset: number; timestamp: number } {
    let payload: Buffer;
    let parts: readonly Buffer[] | null = null;
    if (Buffer.isBuffer(value)) payload = value;
    else if (value.length === 1) payload = value[0]!;
    else {
      parts = value;
      payload = EMPTY;
    }
    const payloadLength = parts ? parts.reduce((n, p) => n + p.length, 0) : payload.length;
    const size = HEADER_SIZE + key.length + payloadLength;
    const s = this.storage;
    if (s.data.end + size > this.options.datasize && s.data.end > 8) this.jump();
    const offset = s.data.end;
    const header: IndexRecord = {
      dataOffset: offset,
      flags,
      keyLength: key.length,
      payloadLength,
      payloadCrc: crc,
      timestamp,
      prevFile,
      prevOffset,
    };
    // reserve() may grow (replace) the staging buffer: reserve first, then take the buffer.
    if (parts || payloadLength >= LARGE_PAYLOAD) {
      // Large payloads go to the file from the request's own buffers (writev), not copied.
      const dataAt = s.data.reserve(HEADER_SIZE + key.length);
      writeDataHeader(s.data.buf, dataAt, header, key);
      for (const part of parts ?? [payload]) s.data.attach(part);
    } else {
      const dataAt = s.data.reserve(size);
      writeDataEntry(s.data.buf, dataAt, header, key, payload);
    }
    const indexAt = s.index.reserve(INDEX_RECORD_SIZE + key.length);
    writeIndexRecord(s.index.buf, indexAt, header, key);
    if (!this.dirty) {
      this.dirty = true;
      this.onDirty(this);
    }
    return { file: s.fileId, offset, timestamp };
  }

  private jump(): void {
    const closed = this.storage.fileId;
    this.storage.jump();
    const id = String(this.storage.fileId);
    this.options.onHook?.('jump-data', [
      this.name,
      this.storage.dataPath(closed),
      this.storage.dataPath(this.storage.fileId),
      id,
    ]);
    this.options.onHook?.('jump-index', [
      this.name,
      this.storage.indexPath(closed),
      this.storage.indexPath(this.storage.fileId),
      id,
    ]);
  }

  set(key: Buffer, value: Buffer | readonly Buffer[]): SetResult {
    this.writable();
    const seq = this.descriptor.mode === 'seq';
    let slot: number | undefined;
    if (seq) {
      if (key.length === 0) {
        key = Buffer.allocUnsafe(8);
        key.writeBigUInt64LE(BigInt(this.nextSeq));
      } else {
        slot = this.index.slotOf(key);
        if (slot === undefined) throw new EngineError('invalid_key', 'Invalid key, only update authorized');
      }
    } else {
      if (key.length === 0) throw new EngineError('invalid_key', 'Invalid argument, key needed');
      if (key.length > MAX_KEY_LENGTH) throw new EngineError('invalid_key', 'Key too large');
      slot = this.index.slotOf(key);
    }
    let crc: number;
    let length: number;
    if (Buffer.isBuffer(value)) {
      crc = crc32(value);
      length = value.length;
    } else {
      crc = 0;
      length = 0;
      for (const part of value) {
        crc = crc32(part, crc);
        length += part.length;
      }
    }
    const ix = this.index;
    if (slot !== undefined && ix.crc[slot] === crc && ix.length[slot] === length) return null;
    const previous = slot === undefined ? 0 : ix.length[slot]!;
    if (this.descriptor.maxsize > 0 && ix.liveBytes - previous + length > this.descriptor.maxsize) {
      throw new EngineError('no_space_left', 'No space left on this namespace');
    }
    const prevFile = slot === undefined ? NONE : ix.file[slot]!;
    const prevOffset = slot === undefined ? NONE : ix.offset[slot]!;
    const at = this.appendEntry(key, value, 0, crc, prevFile, prevOffset);
    const written = ix.put(key, at.file, at.offset, length, crc, at.timestamp, prevFile, prevOffset);
    if (Buffer.isBuffer(value)) ix.cacheValue(written, value);
    if (seq && slot === undefined) this.nextSeq++;
    return key;
  }

  private slot(key: Buffer): number | undefined {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) return undefined;
    return this.index.slotOf(key);
  }

  private payload(slot: number, keyLength: number): Buffer {
    const ix = this.index;
    return this.storage.read(ix.file[slot]!, ix.offset[slot]! + HEADER_SIZE + keyLength, ix.length[slot]!);
  }

  get(key: Buffer): Buffer | null {
    const slot = this.slot(key);
    if (slot === undefined) return null;
    const cached = this.index.cachedValue(slot);
    if (cached) return cached;
    const payload = this.payload(slot, key.length);
    if (crc32(payload) !== this.index.crc[slot])
      throw new EngineError('data_corrupted', 'Data corrupted (checksum mismatch)');
    this.index.cacheValue(slot, payload);
    return payload;
  }

  del(key: Buffer): void {
    this.writable();
    const slot = this.slot(key);
    if (slot === undefined) throw new EngineError('key_not_found', 'Key not found');
    const ix = this.index;
    this.appendEntry(key, EMPTY, FLAG_DELETED, 0, ix.file[slot]!, ix.offset[slot]!);
    ix.remove(key);
  }

  exists(key: Buffer): boolean {
    return this.slot(key) !== undefined;
  }

  check(key: Buffer): boolean | null {
    const slot = this.slot(key);
    if (slot === undefined) return null;
    const ix = this.index;
    const head = this.storage.read(ix.file[slot]!, ix.offset[slot]!, HEADER_SIZE + key.length);
    const h = readDataHeader(head, 0, head.length);
    if (!h || h.payloadCrc !== ix.crc[slot] || !head.subarray(HEADER_SIZE).equals(key)) return false;
    return crc32(this.payload(slot, key.length)) === ix.crc[slot];
  }

  info(key: Buffer): EntryInfo | null {
    const slot = this.slot(key);
    if (slot === undefined) return null;
    const ix = this.index;
    return { key, size: ix.length[slot]!, timestamp: ix.timestamp[slot]!, crc: ix.crc[slot]! };
  }

  cursorOf(key: Buffer): Buffer | null {
    const slot = this.slot(key);
    if (slot === undefined) return null;
    return encodePosition(this.index.file[slot]!, this.index.offset[slot]!);
  }

  scan(cursor: Buffer | null, count: number, reverse: boolean): ScanPage {
    const from = cursor ? decodePosition(cursor) : null;
    const slots = this.index.walk(from, count, reverse);
    const ix = this.index;
    const entries = slots.map((s) => ({
      key: ix.keyOf(s),
      size: ix.length[s]!,
      timestamp: ix.timestamp[s]!,
      crc: ix.crc[s]!,
    }));
    const last = slots[slots.length - 1];
    return {
      cursor:
        last === undefined ? (cursor ?? Buffer.alloc(8)) : encodePosition(ix.file[last]!, ix.offset[last]!),
      entries,
    };
  }

  history(key: Buffer, position: Buffer | null): HistoryEntry | null {
    let file: number;
    let offset: number;
    if (position === null) {
      const slot = this.slot(key);
      if (slot === undefined) return null;
      file = this.index.file[slot]!;
      offset = this.index.offset[slot]!;
    } else {
      ({ file, offset } = decodePosition(position));
      if (file === NONE) return null;
    }
    let head: Buffer;
    try {
      head = this.storage.read(file, offset, HEADER_SIZE + key.length);
    } catch {
      throw new EngineError('invalid_cursor', 'Invalid arguments (index query)');
    }
    const h = readDataHeader(head, 0, head.length);
    if (!h || h.keyLength !== key.length || !head.subarray(HEADER_SIZE).equals(key)) {
      throw new EngineError('invalid_cursor', 'Invalid arguments (invalid key)');
    }
    const payload = this.storage.read(file, offset + HEADER_SIZE + key.length, h.payloadLength);
    if (crc32(payload) !== h.payloadCrc)
      throw new EngineError('data_corrupted', 'Data corrupted (checksum mismatch)');
    return {
      key,
      size: h.payloadLength,
      timestamp: h.timestamp,
      crc: h.payloadCrc,
      payload,
      previous: h.prevFile === NONE ? null : encodePosition(h.prevFile, h.prevOffset),
    };
  }

  stats(): NamespaceStats {
    let dataDisk = 0;
    let indexDisk = 0;
    for (let id = 0; id <= this.storage.fileId; id++) {
      try {
        dataDisk += statSize(this.storage.dataPath(id));
        indexDisk += statSize(this.storage.indexPath(id));
      } catch {
        // a file removed by compaction
      }
    }
    return {
      name: this.name,
      entries: this.index.size,
      dataSizeBytes: this.index.liveBytes,
      dataDiskBytes: dataDisk + this.storage.data.pending,
      indexDiskBytes: indexDisk + this.storage.index.pending,
      dataFileId: this.storage.fileId,
      indexFileId: this.storage.fileId,
      nextId: this.nextSeq,
      created: this.descriptor.created,
    };
  }

  setProps(patch: Partial<NamespaceProps>): void {
    this.descriptor = { ...this.descriptor, ...patch };
    writeDescriptor(this.indexDir, this.descriptor);
  }

  flush(): void {
    this.storage.close();
    for (const dir of [this.dataDir, this.indexDir]) {
      for (const f of readdirSync(dir)) if (/^zdb-(data|index)-\d+$/.test(f)) rmSync(join(dir, f));
    }
    this.index.clear();
    this.nextSeq = 0;
    this.storage.openForAppend(0);
  }

  fresh(): boolean {
    const s = this.storage;
    return s.fileId === 0 && s.data.end <= MAGIC_SIZE && this.index.size === 0 && this.nextSeq === 0;
  }

  /** Closes the files and loads everything again from them (0-db RELOAD). */
  reload(): void {
    this.storage.close();
    this.index.clear();
    this.nextSeq = 0;
    this.dirty = false;
    this.load();
  }

  close(): void {
    this.storage.close();
  }
}

function statSize(path: string): number {
  return statSync(path).size;
}
