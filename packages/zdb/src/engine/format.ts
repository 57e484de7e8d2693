/**
 * On-disk formats. Every data file and index file starts with an 8-byte magic.
 *
 * Data entry (append-only; enough to rebuild every index from data files alone):
 *   u32 headerCrc  crc32 of bytes [4, 28) of the header and of the key
 *   u8  flags      bit 0: tombstone (delete)
 *   u8  keyLength
 *   u16 reserved
 *   u32 payloadLength
 *   u32 payloadCrc crc32 of the payload
 *   u32 timestamp  unix seconds
 *   u32 prevFile   data file id of this key's previous version (NONE when first)
 *   u32 prevOffset offset of that entry
 *   key, payload
 *
 * Index record (one per data entry, same file id as the data file it describes):
 *   u32 recordCrc  crc32 of bytes [4, 28) and of the key
 *   u8  flags, u8 keyLength, u16 reserved
 *   u32 dataOffset u32 payloadLength u32 payloadCrc u32 timestamp u32 prevOffsetOrFile (see below)
 *   key
 * Index records carry what the in-memory index needs, so a restart never reads payloads.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

export const DATA_MAGIC = Buffer.from('TWZDBD01');
export const INDEX_MAGIC = Buffer.from('TWZDBI01');
export const MAGIC_SIZE = 8;
export const HEADER_SIZE = 32;
export const INDEX_RECORD_SIZE = 36;
export const NONE = 0xffffffff;
export const FLAG_DELETED = 1;
export const MAX_KEY_LENGTH = 255;

export interface EntryHeader {
  flags: number;
  keyLength: number;
  payloadLength: number;
  payloadCrc: number;
  timestamp: number;
  prevFile: number;
  prevOffset: number;
}

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}
/** Below this many bytes a table-driven CRC in JS beats the call into zlib. */
const SMALL_CRC = 64;

/** CRC-32 (zlib's) of buf[start, end), continuing from `crc`; no allocation. */
export function crc32Range(buf: Uint8Array, start: number, end: number, crc = 0): number {
  if (end - start >= SMALL_CRC) return zlibCrc32(buf.subarray(start, end), crc);
  let c = ~crc;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 (zlib's) of `buf`, continuing from `crc`. */
export function crc32(buf: Uint8Array, crc = 0): number {
  return buf.length >= SMALL_CRC ? zlibCrc32(buf, crc) : crc32Range(buf, 0, buf.length, crc);
}

/** Writes a data entry header + key + payload at `at` in `out`; returns the bytes written. */
export function writeDataEntry(
  out: Buffer,
  at: number,
  h: EntryHeader,
  key: Buffer,
  payload: Buffer,
): number {
  const n = writeDataHeader(out, at, h, key);
  payload.copy(out, at + n);
  return n + payload.length;
}

/** Writes a data entry's header + key at `at` in `out` (the payload follows); returns the bytes written. */
export function writeDataHeader(out: Buffer, at: number, h: EntryHeader, key: Buffer): number {
  out[at + 4] = h.flags;
  out[at + 5] = h.keyLength;
  out.writeUInt16LE(0, at + 6);
  out.writeUInt32LE(h.payloadLength, at + 8);
  out.writeUInt32LE(h.payloadCrc, at + 12);
  out.writeUInt32LE(h.timestamp, at + 16);
  out.writeUInt32LE(h.prevFile, at + 20);
  out.writeUInt32LE(h.prevOffset, at + 24);
  out.writeUInt32LE(0, at + 28);
  key.copy(out, at + HEADER_SIZE);
  out.writeUInt32LE(crc32Range(out, at + 4, at + HEADER_SIZE + key.length), at);
  return HEADER_SIZE + key.length;
}

/** Parses and verifies the header (and key) at `at`; null when incomplete or its CRC fails. */
export function readDataHeader(buf: Buffer, at: number, end: number): EntryHeader | null {
  if (at + HEADER_SIZE > end) return null;
  const keyLength = buf[at + 5]!;
  if (at + HEADER_SIZE + keyLength > end) return null;
  if (crc32Range(buf, at + 4, at + HEADER_SIZE + keyLength) !== buf.readUInt32LE(at)) return null;
  return {
    flags: buf[at + 4]!,
    keyLength,
    payloadLength: buf.readUInt32LE(at + 8),
    payloadCrc: buf.readUInt32LE(at + 12),
    timestamp: buf.readUInt32LE(at + 16),
    prevFile: buf.readUInt32LE(at + 20),
    prevOffset: buf.readUInt32LE(at + 24),
  };
}

export interface IndexRecord extends EntryHeader {
  dataOffset: number;
}

export function writeIndexRecord(out: Buffer, at: number, r: IndexRecord, key: Buffer): number {
  out[at + 4] = r.flags;
  out[at + 5] = r.keyLength;
  out.writeUInt16LE(0, at + 6);
  out.writeUInt32LE(r.dataOffset, at + 8);
  out.writeUInt32LE(r.payloadLength, at + 12);
  out.writeUInt32LE(r.payloadCrc, at + 16);
  out.writeUInt32LE(r.timestamp, at + 20);
  out.writeUInt32LE(r.prevFile, at + 24);
  out.writeUInt32LE(r.prevOffset, at + 28);
  out.writeUInt32LE(0, at + 32);
  key.copy(out, at + INDEX_RECORD_SIZE);
  out.writeUInt32LE(crc32Range(out, at + 4, at + INDEX_RECORD_SIZE + key.length), at);
  return INDEX_RECORD_SIZE + key.length;
}

export function readIndexRecord(buf: Buffer, at: number, end: number): IndexRecord | null {
  if (at + INDEX_RECORD_SIZE > end) return null;
  const keyLength = buf[at + 5]!;
  if (at + INDEX_RECORD_SIZE + keyLength > end) return null;
  if (crc32Range(buf, at + 4, at + INDEX_RECORD_SIZE + keyLength) !== buf.readUInt32LE(at)) return null;
  return {
    flags: buf[at + 4]!,
    keyLength,
    dataOffset: buf.readUInt32LE(at + 8),
    payloadLength: buf.readUInt32LE(at + 12),
    payloadCrc: buf.readUInt32LE(at + 16),
    timestamp: buf.readUInt32LE(at + 20),
    prevFile: buf.readUInt32LE(at + 24),
    prevOffset: buf.readUInt32LE(at + 28),
  };
}

export function dataFileName(id: number): string {
  return `zdb-data-${String(id).padStart(5, '0')}`;
}

export function indexFileName(id: number): string {
  return `zdb-index-${String(id).padStart(5, '0')}`;
}
