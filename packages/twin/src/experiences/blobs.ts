/**
 * Where the bytes of files live: fixed-size chunks (FILE_CHUNK), each stored under
 * `<blob>:<index>`. With a QSS configuration they go into the twin's Quantum Safe Storage (which
 * compresses, encrypts and disperses them); without one, into the twin's own embedded 0-db, in a
 * namespace of their own, each chunk AES-256-GCM encrypted with a key derived from the twin's
 * identity (vault.ts) and bound to its key, so nothing needs setting up for a first run and the
 * home never holds a file's bytes in the clear.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Qss } from '@twin/qss';
import type { ZdbClient } from '@twin/zdb';
import { TwinError } from '../errors.ts';

/** Bytes per chunk: the unit of storage, of hashing and of resuming a transfer. */
export const FILE_CHUNK = 1024 * 1024;
/** Chunk writes in flight while a file is stored. */
export const WRITES_IN_FLIGHT = 4;

export type StorageKind = 'zdb' | 'qss';

export interface BlobStore {
  readonly kind: StorageKind;
  write(key: string, chunk: Buffer): Promise<void>;
  read(key: string): Promise<Buffer>;
  delete(key: string): Promise<void>;
}

/** Chunks in the embedded 0-db, sealed at rest: nonce (12) ‖ tag (16) ‖ ciphertext; AAD = key. */
export class ZdbBlobs implements BlobStore {
  readonly kind = 'zdb';

  constructor(
    private readonly zdb: ZdbClient,
    private readonly key: Buffer,
  ) {}

  async write(key: string, chunk: Buffer): Promise<void> {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    c.setAAD(Buffer.from(key));
    const body = Buffer.concat([c.update(chunk), c.final()]);
    await this.zdb.set(key, Buffer.concat([nonce, c.getAuthTag(), body]));
  }

  async read(key: string): Promise<Buffer> {
    const raw = await this.zdb.get(key);
    if (!raw) throw new TwinError('not_found', 'a chunk of this file is missing from storage');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(key));
    d.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    } catch {
      throw new TwinError('bad_hash', 'a stored chunk of this file does not authenticate');
    }
  }

  async delete(key: string): Promise<void> {
    await this.zdb.del(key).catch(() => {});
  }
}

/** Chunks as QSS objects under `files/` (QSS compresses, encrypts and disperses each). */
export class QssBlobs implements BlobStore {
  readonly kind = 'qss';

  constructor(private readonly qss: Qss) {}

  async write(key: string, chunk: Buffer): Promise<void> {
    await this.qss.put(`files/${key.replace(':', '/')}`, [chunk]);
  }

  async read(key: string): Promise<Buffer> {
    const { stream } = await this.qss.get(`files/${key.replace(':', '/')}`);
    const parts: Uint8Array[] = [];
    for await (const p of stream) parts.push(p);
    return Buffer.concat(parts);
  }

  async delete(key: string): Promise<void> {
    await this.qss.delete(`files/${key.replace(':', '/')}`).catch(() => {});
  }
}

/** The stores a twin has: the 0-db always, QSS once configured (new files go there then). */
export class Blobs {
  constructor(
    private readonly zdb: ZdbBlobs,
    private readonly qss: () => Qss | undefined,
  ) {}

  /** Where new files go. */
  current(): BlobStore {
    const q = this.qss();
    return q ? new QssBlobs(q) : this.zdb;
  }

  of(kind: StorageKind): BlobStore {
    if (kind === 'zdb') return this.zdb;
    const q = this.qss();
    if (!q)
      throw new TwinError('not_found', 'this file is in QSS, and the twin has no QSS configuration now');
    return new QssBlobs(q);
  }
}

/** Cuts a byte source into FILE_CHUNK chunks (the last may be shorter; none when it is empty). */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size = FILE_CHUNK): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const piece of source) {
    let b = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (held + b.length >= size) {
      const take = size - held;
      parts.push(b.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      held = 0;
      b = b.subarray(take);
    }
    if (b.length) {
      parts.push(Buffer.from(b));
      held += b.length;
    }
  }
  if (held) yield Buffer.concat(parts);
}
