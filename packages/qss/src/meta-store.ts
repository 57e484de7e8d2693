/**
 * Where object metadata lives: every metadata backend (a user-mode 0-db namespace) keeps a full
 * copy of every object's sealed record, under a key derived from the path with the owner's key
 * (the backends see neither paths nor sizes nor locations, only sealed bytes).
 *
 * A record carries a generation: writing a path writes generation + 1, deleting writes a
 * tombstone. A write counts only when a quorum of backends acknowledged it (default: a
 * majority), and a read asks every backend and takes the newest generation among the answers;
 * it refuses to answer unless enough backends replied to be sure of the newest (R + W > N).
 * So an object becomes visible exactly when its metadata is durably on a quorum, and a backend
 * that missed writes while it was down is brought up to date by `sync` (the repair sweep).
 *
 *   record: "QSSR" v1 | generation u64 | time u64 (ms) | flags u8 (1 = deleted) |
 *           path (u16 length + UTF-8) | object metadata (metadata.ts), absent when deleted
 *   stored: sealBytes(record, key, "QSSM" v1, context = the backend key)
 *   backend key: "qss1:" | HMAC-SHA256(key, "qss/path\0" | path)[0..24]
 */
import { createHmac } from 'node:crypto';
import type { ZdbClient } from '@twin/zdb';
import { QssError } from './errors.ts';
import { decodeMetadata, encodeMetadata, type ObjectMetadata, openBytes, sealBytes } from './metadata.ts';
import {
  type BackendStatus,
  backendClient,
  backendId,
  backendStatus,
  type ZdbBackendConfig,
} from './zdb-store.ts';

export interface MetaRecord {
  path: string;
  generation: number;
  /** When this generation was written (ms since the epoch). */
  time: number;
  deleted: boolean;
  /** The object; undefined for a tombstone (or an unreadable record). */
  meta?: ObjectMetadata;
  /** Why this release cannot read the object (an older format); the record is ours all the same. */
  unreadable?: string;
}

const PREFIX = Buffer.from('qss1:');
const RECORD = Buffer.from('QSSR\x01', 'latin1');
const SEALED = Buffer.from('QSSM\x01', 'latin1');
export const MAX_PATH_BYTES = 4096;

function encodeRecord(r: MetaRecord): Buffer {
  const path = Buffer.from(r.path, 'utf8');
  const head = Buffer.alloc(RECORD.length + 8 + 8 + 1 + 2);
  RECORD.copy(head);
  head.writeBigUInt64BE(BigInt(r.generation), 5);
  head.writeBigUInt64BE(BigInt(r.time), 13);
  head.writeUInt8(r.deleted ? 1 : 0, 21);
  head.writeUInt16BE(path.length, 22);
  return Buffer.concat([head, path, r.meta && !r.deleted ? encodeMetadata(r.meta) : Buffer.alloc(0)]);
}

const badRecord = (why: string) => new QssError('bad_metadata', why);

/** The record without its object: path, generation, time, flags. */
function decodeRecordHeader(b: Buffer): MetaRecord {
  if (b.length < 24 || !b.subarray(0, 5).equals(RECORD)) throw badRecord('not a metadata record');
  const generation = Number(b.readBigUInt64BE(5));
  const time = Number(b.readBigUInt64BE(13));
  const flags = b.readUInt8(21);
  if (flags > 1) throw badRecord('unknown record flags');
  const len = b.readUInt16BE(22);
  if (b.length < 24 + len) throw badRecord('record is truncated');
  const path = b.subarray(24, 24 + len).toString('utf8');
  return { path, generation, time, deleted: flags === 1 };
}

function decodeRecord(b: Buffer): MetaRecord {
  const record = decodeRecordHeader(b);
  const rest = b.subarray(24 + b.readUInt16BE(22));
  if (record.deleted && rest.length > 0) throw badRecord('a tombstone carries an object');
  return { ...record, meta: record.deleted ? undefined : decodeMetadata(rest) };
}

interface Copy {
  record: MetaRecord;
  sealed: Buffer;
}

/** One key as the backends hold it: each backend's copy (see copies()) and the newest. */
interface Entry {
  id: Buffer;
  copies: Array<Copy | null | undefined>;
  best: Copy;
}

interface MetaBackend {
  id: string;
  namespace: string;
  client: ZdbClient;
}

export interface MetaStoreOptions {
  /** Acknowledgements a write needs (default: a majority of the backends). */
  quorum?: number;
  timeoutMs?: number;
}

export class MetaStore {
  private readonly backends: MetaBackend[];
  readonly quorum: number;

  constructor(
    backends: ZdbBackendConfig[],
    private readonly key: Uint8Array,
    options: MetaStoreOptions = {},
  ) {
    if (backends.length === 0) throw new QssError('bad_config', 'no metadata backends');
    const ids = new Set(backends.map(backendId));
    if (ids.size !== backends.length) throw new QssError('bad_config', 'a metadata backend is listed twice');
    const n = backends.length;
    this.quorum = options.quorum ?? Math.floor(n / 2) + 1;
    if (!Number.isInteger(this.quorum) || this.quorum < 1 || this.quorum > n)
      throw new QssError('bad_config', `metadata quorum must be 1..${n}, got ${options.quorum}`);
    this.backends = backends.map((b) => ({
      id: backendId(b),
      namespace: b.namespace,
      client: backendClient(b, { timeoutMs: options.timeoutMs }),
    }));
  }

  /** Answers a read needs so that it overlaps every write quorum. */
  get readQuorum(): number {
    return this.backends.length - this.quorum + 1;
  }

  /** The backend key of a path. */
  keyOf(path: string): Buffer {
    const mac = createHmac('sha256', this.key).update('qss/path\0').update(path, 'utf8').digest();
    return Buffer.concat([PREFIX, mac.subarray(0, 24)]);
  }

  private open(sealed: Buffer, id: Buffer): Copy {
    const plain = openBytes(sealed, this.key, SEALED, id); // throws for another key or a tampered copy
    try {
      return { record: decodeRecord(plain), sealed };
    } catch (e) {
      if (!(e instanceof QssError) || plain.length < 24) throw e;
      // ours (it opened under our key) but not readable by this release (e.g. an older format)
      return { record: { ...decodeRecordHeader(plain), unreadable: e.message }, sealed };
    }
  }

  /** Every backend's copy of one key: a record, null (no such key), or undefined (no answer). */
  private async copies(id: Buffer): Promise<Array<Copy | null | undefined>> {
    return Promise.all(
      this.backends.map(async (b) => {
        let sealed: Buffer | null;
        try {
          sealed = await b.client.get(id);
        } catch {
          return undefined;
        }
        if (!sealed) return null;
        try {
          return this.open(sealed, id);
        } catch {
          return null; // a copy that does not open under our key is as good as none
        }
      }),
    );
  }

  private newest(copies: Array<Copy | null | undefined>, what: string): Copy | undefined {
    const answered = copies.filter((c) => c !== undefined).length;
    if (answered < this.readQuorum)
      throw new QssError(
        'no_metadata_quorum',
        `${what}: only ${answered} of ${this.backends.length} metadata backends answered, ${this.readQuorum} needed`,
      );
    let best: Copy | undefined;
    for (const c of copies) if (c && (!best || c.record.generation > best.record.generation)) best = c;
    return best;
  }

  /** The newest record of a path (a tombstone included), or undefined if it never existed. */
  async read(path: string): Promise<MetaRecord | undefined> {
    checkPath(path);
    return this.newest(await this.copies(this.keyOf(path)), path)?.record;
  }

  /**
   * Writes a path's next generation; resolves once a quorum acknowledged it. On failure the
   * backends that took it are set back to the previous copy (or cleared), best effort.
   */
  async write(path: string, meta: ObjectMetadata | undefined, previous?: MetaRecord): Promise<MetaRecord> {
    checkPath(path);
    const id = this.keyOf(path);
    const record: MetaRecord = {
      path,
      generation: (previous?.generation ?? 0) + 1,
      time: Date.now(),
      deleted: !meta,
      meta,
    };
    const sealed = sealBytes(encodeRecord(record), this.key, SEALED, id);
    const acked = await Promise.all(
      this.backends.map((b) =>
        b.client.set(id, sealed).then(
          () => true,
          () => false,
        ),
      ),
    );
    const count = acked.filter(Boolean).length;
    if (count < this.quorum) {
      const back = previous ? sealBytes(encodeRecord(previous), this.key, SEALED, id) : undefined;
      await Promise.allSettled(
        this.backends.map((b, i) =>
          acked[i] ? (back ? b.client.set(id, back) : b.client.del(id)) : undefined,
        ),
      );
      throw new QssError(
        'no_metadata_quorum',
        `${path}: metadata reached ${count} of ${this.backends.length} backends, ${this.quorum} needed; nothing was changed`,
      );
    }
    return record;
  }

  /** Every key on the backends that answer, with each backend's copy and the newest. */
  private async entries(): Promise<Entry[]> {
    const ids = new Map<string, Buffer>();
    let answered = 0;
    await Promise.all(
      this.backends.map(async (b) => {
        try {
          for await (const e of b.client.keys())
            if (e.key.subarray(0, PREFIX.length).equals(PREFIX)) ids.set(e.key.toString('hex'), e.key);
          answered++;
        } catch {}
      }),
    );
    if (answered < this.readQuorum)
      throw new QssError(
        'no_metadata_quorum',
        `listing: only ${answered} of ${this.backends.length} metadata backends answered, ${this.readQuorum} needed`,
      );
    const out: Entry[] = [];
    const list = [...ids.values()];
    for (let i = 0; i < list.length; i += 64) {
      const batch = await Promise.all(
        list.slice(i, i + 64).map(async (id) => {
          const copies = await this.copies(id);
          return { id, copies, best: this.newest(copies, 'listing') };
        }),
      );
      for (const e of batch) if (e.best) out.push({ ...e, best: e.best });
    }
    return out;
  }

  /**
   * Every record (tombstones too), newest generation per path, from all backends that answer.
   * Records this release cannot read (an older format) come with `unreadable` and no object.
   */
  async records(): Promise<MetaRecord[]> {
    return (await this.entries())
      .map((e) => e.best.record)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Brings every reachable backend up to the newest copy of each path, and forgets tombstones
   * that every backend holds. Returns how many copies were written and tombstones dropped.
   */
  async sync(): Promise<{ copied: number; purged: number }> {
    let copied = 0;
    let purged = 0;
    for (const { id, copies, best } of await this.entries()) {
      const stale = copies.flatMap((c, i) =>
        c !== undefined && (!c || c.record.generation < best.record.generation) ? [i] : [],
      );
      for (const i of stale) {
        await this.backends[i]!.client.set(id, best.sealed).then(
          () => copied++,
          () => {},
        );
      }
      if (best.record.deleted && stale.length === 0 && copies.every((c) => c !== undefined)) {
        const dropped = await Promise.allSettled(this.backends.map((b) => b.client.del(id)));
        if (dropped.every((d) => d.status === 'fulfilled')) purged++;
      }
    }
    return { copied, purged };
  }

  async status(): Promise<BackendStatus[]> {
    return Promise.all(this.backends.map((b) => backendStatus(b.id, 'meta', b.client, b.namespace)));
  }

  close(): void {
    for (const b of this.backends) b.client.close();
  }
}

/** Paths are what the user names objects with: non-empty UTF-8, no NUL, at most 4 KiB. */
export function checkPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0)
    throw new QssError('bad_path', 'a path must not be empty');
  if (path.includes('\0')) throw new QssError('bad_path', 'a path must not contain NUL');
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES)
    throw new QssError('bad_path', `a path must be at most ${MAX_PATH_BYTES} bytes`);
  if (path !== path.normalize('NFC')) throw new QssError('bad_path', 'a path must be in Unicode NFC form');
}
