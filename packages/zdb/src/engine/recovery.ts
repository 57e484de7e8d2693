/**
 * Loading a namespace's file pairs at open: replay index records, verify them against the data
 * file, rebuild what is missing or damaged from the data file, and truncate torn tails.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import {
  crc32,
  DATA_MAGIC,
  HEADER_SIZE,
  INDEX_MAGIC,
  type IndexRecord,
  MAGIC_SIZE,
  readDataHeader,
  readIndexRecord,
  writeIndexRecord,
} from './format.ts';
import { EngineError } from './types.ts';

export interface LoadedRecord extends IndexRecord {
  key: Buffer;
}

export interface FileLoad {
  records: LoadedRecord[];
  /** Human-readable recovery actions taken (empty when the pair was clean). */
  repairs: string[];
}

function readIndexFile(path: string): { records: LoadedRecord[]; validEnd: number; damaged: boolean } {
  if (!existsSync(path)) return { records: [], validEnd: 0, damaged: true };
  const buf = readFileSync(path);
  if (buf.length < MAGIC_SIZE || !buf.subarray(0, MAGIC_SIZE).equals(INDEX_MAGIC)) {
    return { records: [], validEnd: 0, damaged: buf.length > 0 };
  }
  const records: LoadedRecord[] = [];
  let at = MAGIC_SIZE;
  for (;;) {
    const r = readIndexRecord(buf, at, buf.length);
    if (!r) break;
    const start = at + 36;
    records.push({ ...r, key: Buffer.from(buf.subarray(start, start + r.keyLength)) });
    at = start + r.keyLength;
  }
  return { records, validEnd: at, damaged: at !== buf.length };
}

function entryEnd(r: IndexRecord): number {
  return r.dataOffset + HEADER_SIZE + r.keyLength + r.payloadLength;
}

/**
 * Loads file pair (dataPath, indexPath). Records come back in write order. `isLast` allows a
 * final entry whose payload fails its CRC to be treated as torn (dropped) rather than corrupt.
 */
export function loadFilePair(dataPath: string, indexPath: string, isLast: boolean): FileLoad {
  const repairs: string[] = [];
  const dataSize = existsSync(dataPath) ? statSync(dataPath).size : 0;
  const idx = readIndexFile(indexPath);
  let records = idx.records;
  // Index records that point past the data we have (index written, data lost) are dropped.
  let keep = records.length;
  while (keep > 0 && entryEnd(records[keep - 1]!) > dataSize) keep--;
  if (keep < records.length) {
    repairs.push(`dropped ${records.length - keep} index records beyond the data file`);
    records = records.slice(0, keep);
  }
  let scanFrom = records.length ? entryEnd(records[records.length - 1]!) : MAGIC_SIZE;
  let indexDirty = idx.damaged || keep < idx.records.length;
  if (idx.damaged) repairs.push(`index damaged or missing after ${idx.records.length} records`);

  let dataTruncateAt = -1;
  if (dataSize < MAGIC_SIZE) {
    dataTruncateAt = 0;
  } else if (scanFrom < dataSize) {
    // Entries the index does not cover: rebuild their records from the data file.
    const data = readFileSync(dataPath);
    if (!data.subarray(0, MAGIC_SIZE).equals(DATA_MAGIC))
      throw new EngineError('data_corrupted', `${dataPath}: not a data file`);
    let at = scanFrom;
    let rebuilt = 0;
    while (at < data.length) {
      const h = readDataHeader(data, at, data.length);
      const keyStart = at + HEADER_SIZE;
      const payloadStart = keyStart + (h?.keyLength ?? 0);
      const end = payloadStart + (h?.payloadLength ?? 0);
      if (!h || end > data.length) break;
      const last = end === data.length;
      if (last && isLast && crc32(data.subarray(payloadStart, end)) !== h.payloadCrc) break;
      records.push({ ...h, dataOffset: at, key: Buffer.from(data.subarray(keyStart, payloadStart)) });
      rebuilt++;
      at = end;
    }
    if (rebuilt) {
      repairs.push(`rebuilt ${rebuilt} index records from the data file`);
      indexDirty = true;
    }
    if (at < data.length) {
      repairs.push(`truncated a torn tail of ${data.length - at} bytes from the data file`);
      dataTruncateAt = at;
    }
    scanFrom = at;
  }
  if (dataTruncateAt >= 0) {
    const fd = openSync(dataPath, 'r+');
    ftruncateSync(fd, dataTruncateAt);
    if (dataTruncateAt === 0) writeSync(fd, DATA_MAGIC);
    closeSync(fd);
  }
  if (indexDirty) rewriteIndex(indexPath, records);
  return { records, repairs };
}

function rewriteIndex(path: string, records: LoadedRecord[]): void {
  let size = MAGIC_SIZE;
  for (const r of records) size += 36 + r.keyLength;
  const out = Buffer.allocUnsafe(size);
  INDEX_MAGIC.copy(out, 0);
  let at = MAGIC_SIZE;
  for (const r of records) at += writeIndexRecord(out, at, r, r.key);
  const fd = openSync(path, 'w');
  writeSync(fd, out);
  closeSync(fd);
}
