/**
 * Object metadata: everything needed to find, verify and decrypt an object's blocks — and the
 * object's key, so it never leaves the twin unencrypted. Serialised deterministically (fixed
 * field order, big-endian fixed-width integers, length-prefixed bytes; one byte string per
 * object) and sealed with AES-256-GCM under a key the caller provides.
 *
 *   "QSSO" v2 | cipher u8 | checksum u8 | compression u8 | k u16 | m u16 | size u64 |
 *   blockSize u32 | key[32] | blockCount u32 |
 *   per block: flags u8 | plainSize u32 | storedSize u32 |
 *     per shard (k+m): checksum[32] | backend (u16 length + UTF-8) | key (u16 length + bytes)
 *
 *   sealed: "QSSE" v1 | nonce[12] | ciphertext | tag[16]   (additional data: the first 5 bytes)
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KEY_BYTES } from './block.ts';
import { CHECKSUM_BYTES } from './checksum.ts';
import type { CompressionPolicy } from './compression.ts';
import { QssError } from './errors.ts';
import type { ShardLocation } from './store.ts';

export interface ShardRecord {
  checksum: Uint8Array;
  location: ShardLocation;
}

export interface BlockRecord {
  plainSize: number;
  storedSize: number;
  compressed: boolean;
  /** k data shards then m parity shards. */
  shards: ShardRecord[];
}

export interface ObjectMetadata {
  size: number;
  blockSize: number;
  k: number;
  m: number;
  compression: CompressionPolicy;
  /** The object's AES-256-GCM key. */
  key: Uint8Array;
  blocks: BlockRecord[];
}

/** Format 2: shard locations carry the namespace epoch, stored shards an owner tag (zdb-store.ts). */
const VERSION = 2;
const CIPHER_AES_256_GCM = 1;
const CHECKSUM_SHA256 = 1;
const COMPRESSION: Record<CompressionPolicy, number> = { none: 0, auto: 1 };
const MIN_STORED = 16;

const bad = (why: string) => new QssError('bad_metadata', why);

/** Throws bad_metadata unless the metadata is self-consistent. */
export function validateMetadata(meta: ObjectMetadata): void {
  const { k, m, size, blockSize } = meta;
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 0 || k + m > 256)
    throw bad(`bad code ${k}+${m}`);
  if (!Number.isSafeInteger(size) || size < 0) throw bad(`bad size ${size}`);
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 0xffffffff)
    throw bad(`bad block size ${blockSize}`);
  if (!(meta.compression in COMPRESSION)) throw bad(`bad compression ${meta.compression}`);
  if (meta.key.length !== KEY_BYTES) throw bad('bad key length');
  const count = Math.ceil(size / blockSize);
  if (meta.blocks.length !== count)
    throw bad(`${meta.blocks.length} blocks for ${size} bytes in blocks of ${blockSize}`);
  meta.blocks.forEach((b, i) => {
    const plain = i < count - 1 ? blockSize : size - blockSize * (count - 1);
    if (b.plainSize !== plain) throw bad(`block ${i} holds ${b.plainSize} bytes, expected ${plain}`);
    if (!Number.isInteger(b.storedSize) || b.storedSize < MIN_STORED || b.storedSize > 0xffffffff)
      throw bad(`block ${i} has a bad stored size`);
    if (!b.compressed && b.storedSize !== plain + MIN_STORED)
      throw bad(`block ${i}: stored size does not match`);
    if (b.shards.length !== k + m) throw bad(`block ${i} has ${b.shards.length} shards, expected ${k + m}`);
    for (const s of b.shards) {
      if (s.checksum.length !== CHECKSUM_BYTES) throw bad(`block ${i}: bad checksum length`);
      if (Buffer.byteLength(s.location.backend) > 0xffff || s.location.key.length > 0xffff)
        throw bad(`block ${i}: location too long`);
    }
  });
}

class Writer {
  readonly parts: Buffer[] = [];
  bytes(b: Uint8Array) {
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.length));
  }
  u8(v: number) {
    this.parts.push(Buffer.of(v));
  }
  u16(v: number) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.parts.push(b);
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
  }
  u64(v: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(v));
    this.parts.push(b);
  }
  short(b: Uint8Array) {
    this.u16(b.length);
    this.bytes(b);
  }
}

class Reader {
  #pos = 0;
  constructor(readonly buf: Buffer) {}
  #take(n: number): Buffer {
    if (this.#pos + n > this.buf.length) throw bad('metadata is truncated');
    const out = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  bytes = (n: number) => Uint8Array.from(this.#take(n));
  u8 = () => this.#take(1).readUInt8();
  u16 = () => this.#take(2).readUInt16BE();
  u32 = () => this.#take(4).readUInt32BE();
  u64 = () => {
    const v = this.#take(8).readBigUInt64BE();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('size out of range');
    return Number(v);
  };
  short = () => this.bytes(this.u16());
  end() {
    if (this.#pos !== this.buf.length) throw bad('trailing bytes after metadata');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeMetadata(meta: ObjectMetadata): Uint8Array {
  validateMetadata(meta);
  const w = new Writer();
  w.bytes(Buffer.from('QSSO'));
  w.u8(VERSION);
  w.u8(CIPHER_AES_256_GCM);
  w.u8(CHECKSUM_SHA256);
  w.u8(COMPRESSION[meta.compression]);
  w.u16(meta.k);
  w.u16(meta.m);
  w.u64(meta.size);
  w.u32(meta.blockSize);
  w.bytes(meta.key);
  w.u32(meta.blocks.length);
  for (const b of meta.blocks) {
    w.u8(b.compressed ? 1 : 0);
    w.u32(b.plainSize);
    w.u32(b.storedSize);
    for (const s of b.shards) {
      w.bytes(s.checksum);
      w.short(Buffer.from(s.location.backend, 'utf8'));
      w.short(s.location.key);
    }
  }
  return Buffer.concat(w.parts);
}

export function decodeMetadata(bytes: Uint8Array): ObjectMetadata {
  const r = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  if (Buffer.from(r.bytes(4)).toString('latin1') !== 'QSSO') throw bad('not object metadata');
  const version = r.u8();
  if (version === 1)
    throw bad(
      'object stored in format 1 by an earlier release (shards without owner tags); this release reads ' +
        'format 2 only: read it with the earlier release and store it again',
    );
  if (version !== VERSION) throw bad(`unknown metadata version ${version}`);
  if (r.u8() !== CIPHER_AES_256_GCM) throw bad('unknown cipher');
  if (r.u8() !== CHECKSUM_SHA256) throw bad('unknown checksum');
  const compressionId = r.u8();
  const compression = (Object.keys(COMPRESSION) as CompressionPolicy[]).find(
    (c) => COMPRESSION[c] === compressionId,
  );
  if (!compression) throw bad('unknown compression');
  const k = r.u16();
  const m = r.u16();
  const size = r.u64();
  const blockSize = r.u32();
  const key = r.bytes(KEY_BYTES);
  const count = r.u32();
  if (k < 1 || k + m > 256) throw bad(`bad code ${k}+${m}`);
  if (blockSize < 1 || count !== Math.ceil(size / blockSize)) throw bad('block count does not match size');
  const blocks: BlockRecord[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    if (flags > 1) throw bad(`block ${i}: unknown flags`);
    const plainSize = r.u32();
    const storedSize = r.u32();
    const shards: ShardRecord[] = [];
    for (let s = 0; s < k + m; s++) {
      const checksum = r.bytes(CHECKSUM_BYTES);
      let backend: string;
      try {
        backend = utf8.decode(r.short());
      } catch (e) {
        if (e instanceof QssError) throw e;
        throw bad(`block ${i}: backend name is not UTF-8`);
      }
      shards.push({ checksum, location: { backend, key: r.short() } });
    }
    blocks.push({ plainSize, storedSize, compressed: flags === 1, shards });
  }
  r.end();
  const meta: ObjectMetadata = { size, blockSize, k, m, compression, key, blocks };
  validateMetadata(meta);
  return meta;
}

const SEAL_HEADER = Buffer.from([...Buffer.from('QSSE'), 1]);

/**
 * `plain` encrypted under `key` with a random nonce: header | nonce[12] | ciphertext | tag[16],
 * authenticating the header and `context` (bytes the caller binds the seal to, not stored).
 */
export function sealBytes(
  plain: Uint8Array,
  key: Uint8Array,
  header: Uint8Array = SEAL_HEADER,
  context: Uint8Array = new Uint8Array(0),
): Buffer {
  if (key.length !== KEY_BYTES) throw bad(`metadata key must be ${KEY_BYTES} bytes`);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.concat([header, context]));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
}

/** The inverse of sealBytes; bad_metadata if sealed with another key or context, or altered. */
export function openBytes(
  sealed: Uint8Array,
  key: Uint8Array,
  header: Uint8Array = SEAL_HEADER,
  context: Uint8Array = new Uint8Array(0),
): Buffer {
  if (key.length !== KEY_BYTES) throw bad(`metadata key must be ${KEY_BYTES} bytes`);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const h = header.length;
  if (buf.length < h + 12 + 16) throw bad('sealed metadata is truncated');
  if (!buf.subarray(0, h - 1).equals(Buffer.from(header).subarray(0, h - 1)))
    throw bad('not sealed metadata');
  if (buf[h - 1] !== header[h - 1]) throw bad(`unknown sealed metadata version ${buf[h - 1]}`);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(h, h + 12));
  decipher.setAAD(Buffer.concat([buf.subarray(0, h), context]));
  decipher.setAuthTag(buf.subarray(buf.length - 16));
  try {
    return Buffer.concat([decipher.update(buf.subarray(h + 12, buf.length - 16)), decipher.final()]);
  } catch {
    throw bad('sealed metadata does not authenticate (wrong key or tampered)');
  }
}

/** The metadata, serialised and encrypted under `key` (32 bytes) with a random nonce. */
export function sealMetadata(meta: ObjectMetadata, key: Uint8Array): Uint8Array {
  return sealBytes(encodeMetadata(meta), key);
}

/** Opens sealed metadata; bad_metadata if it was sealed with another key or altered in any way. */
export function openMetadata(sealed: Uint8Array, key: Uint8Array): ObjectMetadata {
  return decodeMetadata(openBytes(sealed, key));
}
