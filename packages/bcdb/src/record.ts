/**
 * What BCDB writes to 0-db (a sequential-mode namespace): one record per change,
 *   u32 header length ‖ header (JSON) ‖ data
 * The records alone rebuild the whole index (0-db is the truth; SQLite is a cache).
 */
import { BcdbError } from './errors.ts';

export type Perm = 'r' | 'w' | 'd';

export interface ObjectHeader {
  kind: 'object';
  id: number;
  collection: string;
  tags: Record<string, string>;
  acl: number;
  version: number;
  created: number;
  updated: number;
  deleted?: boolean;
}

export interface AclHeader {
  kind: 'acl';
  id: number;
  /** twin id → permissions ('r', 'rw', 'rwd', ...). */
  entries: Record<string, string>;
  version: number;
  updated: number;
}

/** Grants an ACL on a whole collection (from an approved access request for the collection). */
export interface CollectionHeader {
  kind: 'collection';
  collection: string;
  acl: number;
  updated: number;
}

export type RecordHeader = ObjectHeader | AclHeader | CollectionHeader;

/** The bytes of one record: header length, JSON header, data. */
export function encodeRecord(header: RecordHeader, data: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(h.length);
  return Buffer.concat([len, h, data]);
}

/**
 * A record's header and data.
 * @throws BcdbError `bad_record` when the bytes are not a record of a known kind
 */
export function decodeRecord(bytes: Buffer): { header: RecordHeader; data: Buffer } {
  if (bytes.length < 4) throw new BcdbError('bad_record', 'record too short');
  const len = bytes.readUInt32LE(0);
  if (4 + len > bytes.length) throw new BcdbError('bad_record', 'record header out of range');
  let header: RecordHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', 4, 4 + len)) as RecordHeader;
  } catch (e) {
    throw new BcdbError('bad_record', 'record header is not JSON', { cause: e });
  }
  const kind = (header as { kind?: unknown } | null)?.kind;
  if (kind !== 'object' && kind !== 'acl' && kind !== 'collection')
    throw new BcdbError('bad_record', 'unknown record kind');
  return { header, data: bytes.subarray(4 + len) };
}
