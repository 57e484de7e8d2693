/**
 * A twin's BCDB: objects (collection, tags, ACL, data, version) whose every change is a record
 * appended to a sequential-mode 0-db namespace — the truth — and applied, in 0-db order, to a
 * SQLite index. Opening replays records the index has not applied yet (a crash between the 0-db
 * write and the index write loses nothing); `rebuild` recreates the index from 0-db alone.
 *
 * Every call takes the caller's twin id: the owner has every right; others need the object's ACL
 * to grant 'r' (read), 'w' (write) or 'd' (delete).
 */
import type { ZdbClient } from '@twin/zdb';
import { Catalog, type FindQuery, type ObjectMeta, type Page } from './catalog.ts';
import { BcdbError } from './errors.ts';
import {
  MAX_COLLECTION_LENGTH,
  MAX_OBJECT_TAGS,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
} from './limits.ts';
import {
  type AclHeader,
  decodeRecord,
  encodeRecord,
  type ObjectHeader,
  type Perm,
  type RecordHeader,
} from './record.ts';

/** ACL 0: private to the owner. */
export const PRIVATE_ACL = 0;

export interface BcdbOptions {
  /** SQLite index file. */
  indexPath: string;
  /** A client whose connection has SELECTed this BCDB's sequential-mode namespace. */
  zdb: ZdbClient;
  /** The owning twin's id. */
  owner: number;
}

export interface BcdbObject extends ObjectMeta {
  data: Buffer;
}

export interface SetOptions {
  tags?: Record<string, string>;
  acl?: number;
}

export interface UpdateOptions {
  data?: Uint8Array;
  tags?: Record<string, string>;
  acl?: number;
  /** Optimistic concurrency: refuse with 'conflict' unless the object is at this version. */
  expectedVersion?: number;
}

interface Waiting {
  zkey: Buffer;
  header: RecordHeader;
  size: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const seqOf = (zkey: Buffer) => Number(zkey.readBigUInt64LE(0)) + 1;
const zkeyOf = (seq: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(seq - 1));
  return b;
};

function checkTags(tags: Record<string, string>): void {
  const entries = Object.entries(tags);
  if (entries.length > MAX_OBJECT_TAGS)
    throw new BcdbError(
      'bad_request',
      `an object has at most ${MAX_OBJECT_TAGS} tags, not ${entries.length}`,
    );
  for (const [k, v] of entries) {
    if (
      typeof v !== 'string' ||
      k.length === 0 ||
      k.length > MAX_TAG_KEY_LENGTH ||
      v.length > MAX_TAG_VALUE_LENGTH
    ) {
      throw new BcdbError(
        'bad_request',
        `invalid tag ${JSON.stringify(k)}: keys 1-${MAX_TAG_KEY_LENGTH} chars, values strings up to ${MAX_TAG_VALUE_LENGTH}`,
      );
    }
  }
}

/**
 * A twin's BCDB (see the module doc). Open it with {@link Bcdb.open}; every method that takes a
 * `caller` checks that twin's rights (the owner has all). Throws BcdbError: `not_found`,
 * `denied`, `conflict`, `bad_request`, `bad_record`; a 0-db failure is the zdb client's error.
 */
export class Bcdb {
  readonly catalog: Catalog;
  private nextObject: number;
  private nextAcl: number;
  /** Records appended to 0-db but waiting for a lower sequence number before they are applied. */
  private readonly waiting = new Map<number, Waiting>();
  private drainScheduled = false;
  private nextApply: number;
  /** Versions of objects with writes in flight (checked synchronously for optimistic concurrency). */
  private readonly inflight = new Map<number, { version: number; deleted: boolean; header: ObjectHeader }>();

  private constructor(private readonly o: BcdbOptions) {
    this.catalog = new Catalog(o.indexPath);
    this.nextObject = Math.max(1, this.catalog.state('nextObject'));
    this.nextAcl = Math.max(1, this.catalog.state('nextAcl'));
    this.nextApply = this.catalog.state('applied') + 1;
  }

  /** Opens the index and applies the 0-db records it has not seen yet (after a crash). */
  static async open(o: BcdbOptions): Promise<Bcdb> {
    const db = new Bcdb(o);
    await db.catchUp();
    return db;
  }

  get owner(): number {
    return this.o.owner;
  }

  /** Applies 0-db records the index has not seen yet (after a crash, or a fresh index). */
  async catchUp(): Promise<number> {
    let applied = 0;
    for (let seq = this.catalog.state('applied') + 1; ; seq++) {
      const bytes = await this.o.zdb.get(zkeyOf(seq));
      if (bytes === null) break;
      const { header, data } = decodeRecord(bytes);
      this.catalog.apply(seq, zkeyOf(seq), header, data.length);
      applied++;
    }
    this.nextObject = Math.max(this.nextObject, this.catalog.state('nextObject'));
    this.nextAcl = Math.max(this.nextAcl, this.catalog.state('nextAcl'));
    this.nextApply = this.catalog.state('applied') + 1;
    return applied;
  }

  /** Drops the index and recreates it from the 0-db records alone. */
  async rebuild(): Promise<number> {
    this.catalog.clear();
    this.nextObject = 1;
    this.nextAcl = 1;
    return this.catchUp();
  }

  /**
   * Appends a record to 0-db, then applies it to the index in 0-db order. Records acknowledged
   * by 0-db in the same turn of the event loop are applied in one SQLite transaction.
   */
  private async write(header: RecordHeader, data?: Uint8Array): Promise<Buffer> {
    const zkey = await this.o.zdb.append(encodeRecord(header, data));
    const seq = seqOf(zkey);
    await new Promise<void>((resolve, reject) => {
      this.waiting.set(seq, { zkey, header, size: data?.length ?? 0, resolve, reject });
      if (!this.drainScheduled) {
        this.drainScheduled = true;
        setImmediate(() => this.drain());
      }
    });
    return zkey;
  }

  private drain(): void {
    this.drainScheduled = false;
    const batch: (Waiting & { seq: number })[] = [];
    while (this.waiting.has(this.nextApply)) {
      batch.push({ ...this.waiting.get(this.nextApply)!, seq: this.nextApply });
      this.waiting.delete(this.nextApply);
      this.nextApply++;
    }
    if (batch.length === 0) return;
    try {
      this.catalog.applyMany(batch);
    } catch (e) {
      // 0-db holds these records; the next open replays them into the index.
      for (const b of batch) b.reject(e as Error);
      return;
    }
    for (const b of batch) b.resolve();
  }

  /** The owner may do anything; others need `perm` in the object's ACL or its collection's. */
  allowed(caller: number, acl: number, perm: Perm, collection?: string): boolean {
    if (caller === this.o.owner) return true;
    if (this.catalog.acl(acl)?.entries[String(caller)]?.includes(perm)) return true;
    const shared = collection === undefined ? null : this.catalog.collectionAcl(collection);
    return shared !== null && (this.catalog.acl(shared)?.entries[String(caller)]?.includes(perm) ?? false);
  }

  /** Shares a whole collection through ACL `acl` (owner only). */
  async shareCollection(collection: string, acl: number): Promise<void> {
    this.getAcl(acl);
    await this.write({ kind: 'collection', collection, acl, updated: Date.now() });
  }

  collectionAcl(collection: string): number | null {
    return this.catalog.collectionAcl(collection);
  }

  private current(id: number): ObjectHeader | null {
    const f = this.inflight.get(id);
    if (f) return f.deleted ? null : f.header;
    const m = this.catalog.object(id);
    return m
      ? {
          kind: 'object',
          id: m.id,
          collection: m.collection,
          tags: m.tags,
          acl: m.acl,
          version: m.version,
          created: m.created,
          updated: m.updated,
        }
      : null;
  }

  private async writeObject(header: ObjectHeader, data?: Uint8Array): Promise<ObjectMeta> {
    this.inflight.set(header.id, { version: header.version, deleted: Boolean(header.deleted), header });
    try {
      const zkey = await this.write(header, data);
      const { kind: _kind, deleted: _deleted, ...meta } = header;
      return { ...meta, size: data?.length ?? 0, zkey };
    } finally {
      if (this.inflight.get(header.id)?.header === header) this.inflight.delete(header.id);
    }
  }

  /**
   * Creates an object (owner only); returns its metadata.
   * @throws BcdbError `denied` (not the owner), `bad_request` (collection or tags out of bounds), `not_found` (no such ACL)
   */
  async set(
    collection: string,
    data: Uint8Array,
    o: SetOptions = {},
    caller = this.o.owner,
  ): Promise<ObjectMeta> {
    if (caller !== this.o.owner) throw new BcdbError('denied', 'only the owner creates objects');
    if (!collection || collection.length > MAX_COLLECTION_LENGTH)
      throw new BcdbError('bad_request', `collection must be 1-${MAX_COLLECTION_LENGTH} characters`);
    const tags = o.tags ?? {};
    checkTags(tags);
    const acl = o.acl ?? PRIVATE_ACL;
    if (acl !== PRIVATE_ACL && !this.catalog.acl(acl)) throw new BcdbError('not_found', `no ACL ${acl}`);
    const now = Date.now();
    const header: ObjectHeader = {
      kind: 'object',
      id: this.nextObject++,
      collection,
      tags,
      acl,
      version: 1,
      created: now,
      updated: now,
    };
    await this.writeObject(header, data);
    return this.catalog.object(header.id)!;
  }

  /**
   * An object with its data.
   * @throws BcdbError `not_found`, `denied` (the caller may not read it), `bad_record`
   */
  async get(id: number, caller = this.o.owner): Promise<BcdbObject> {
    const meta = this.catalog.object(id);
    if (!meta) throw new BcdbError('not_found', `no object ${id}`);
    if (!this.allowed(caller, meta.acl, 'r', meta.collection))
      throw new BcdbError('denied', `twin ${caller} may not read object ${id}`);
    const bytes = await this.o.zdb.get(meta.zkey);
    if (!bytes) throw new BcdbError('not_found', `object ${id}'s data is missing from 0-db`);
    const { header, data } = decodeRecord(bytes);
    if (header.kind !== 'object' || header.id !== id)
      throw new BcdbError('not_found', `object ${id}'s record does not match`);
    return { ...meta, data: Buffer.from(data) };
  }

  /**
   * Writes a new version of an object (data, tags, and for the owner its ACL).
   * @throws BcdbError `not_found`, `denied`, `conflict` (not at `expectedVersion`), `bad_request`
   */
  async update(id: number, o: UpdateOptions, caller = this.o.owner): Promise<ObjectMeta> {
    const cur = this.current(id);
    if (!cur) throw new BcdbError('not_found', `no object ${id}`);
    if (!this.allowed(caller, cur.acl, 'w', cur.collection))
      throw new BcdbError('denied', `twin ${caller} may not write object ${id}`);
    if (o.acl !== undefined && caller !== this.o.owner)
      throw new BcdbError('denied', 'only the owner changes an object ACL');
    if (o.expectedVersion !== undefined && o.expectedVersion !== cur.version) {
      throw new BcdbError('conflict', `object ${id} is at version ${cur.version}, not ${o.expectedVersion}`);
    }
    if (o.tags) checkTags(o.tags);
    let data = o.data;
    if (data === undefined) data = (await this.get(id)).data;
    const header: ObjectHeader = {
      ...cur,
      tags: o.tags ?? cur.tags,
      acl: o.acl ?? cur.acl,
      version: cur.version + 1,
      updated: Date.now(),
    };
    await this.writeObject(header, data);
    return this.catalog.object(id)!;
  }

  /**
   * Deletes an object (a tombstone record in 0-db).
   * @throws BcdbError `not_found`, `denied`
   */
  async delete(id: number, caller = this.o.owner): Promise<void> {
    const cur = this.current(id);
    if (!cur) throw new BcdbError('not_found', `no object ${id}`);
    if (!this.allowed(caller, cur.acl, 'd', cur.collection))
      throw new BcdbError('denied', `twin ${caller} may not delete object ${id}`);
    await this.writeObject({ ...cur, version: cur.version + 1, updated: Date.now(), deleted: true });
  }

  /**
   * Objects the caller may read, matching the query (one page).
   * @throws BcdbError `bad_request` (a bad cursor, more than MAX_QUERY_TAGS tags)
   */
  find(q: FindQuery, caller = this.o.owner): Page {
    const page = this.catalog.find(q);
    if (caller === this.o.owner) return page;
    return { ...page, objects: page.objects.filter((m) => this.allowed(caller, m.acl, 'r', m.collection)) };
  }

  /** Every object of the query, page after page. */
  async *stream(q: FindQuery, caller = this.o.owner): AsyncGenerator<ObjectMeta> {
    let cursor: string | undefined = q.cursor;
    for (;;) {
      const page = this.find({ ...q, cursor }, caller);
      yield* page.objects;
      if (!page.cursor) return;
      cursor = page.cursor;
    }
  }

  // ---- ACLs (owner only) ----

  /**
   * A new ACL granting `entries` (twin id → 'r', 'rw', 'rwd', ...).
   * @throws BcdbError `bad_request` (an entry that is not a twin id or not a subset of "rwd")
   */
  async createAcl(entries: Record<number, string> = {}): Promise<AclHeader> {
    const header: AclHeader = {
      kind: 'acl',
      id: this.nextAcl++,
      entries: normalise(entries),
      version: 1,
      updated: Date.now(),
    };
    await this.write(header);
    return header;
  }

  /**
   * ACL `id`.
   * @throws BcdbError `not_found`
   */
  getAcl(id: number): AclHeader {
    const acl = this.catalog.acl(id);
    if (!acl) throw new BcdbError('not_found', `no ACL ${id}`);
    return acl;
  }

  listAcls(): AclHeader[] {
    return this.catalog.acls();
  }

  /**
   * Sets `twin`'s permissions on ACL `id` ('' removes the twin).
   * @throws BcdbError `not_found`, `bad_request`
   */
  async setPermissions(id: number, twin: number, perms: string): Promise<AclHeader> {
    const acl = this.getAcl(id);
    const entries = { ...acl.entries, [String(twin)]: perms };
    const header: AclHeader = {
      ...acl,
      entries: normalise(entries),
      version: acl.version + 1,
      updated: Date.now(),
    };
    await this.write(header);
    return header;
  }

  /**
   * Adds `perms` for each of `twins` on ACL `id`.
   * @throws BcdbError `not_found`, `bad_request`
   */
  async grant(id: number, twins: number[], perms: string): Promise<AclHeader> {
    let acl = this.getAcl(id);
    for (const t of twins)
      acl = await this.setPermissions(id, t, [...new Set((acl.entries[String(t)] ?? '') + perms)].join(''));
    return acl;
  }

  /**
   * Removes every permission of `twins` from ACL `id`.
   * @throws BcdbError `not_found`
   */
  async revoke(id: number, twins: number[]): Promise<AclHeader> {
    let acl = this.getAcl(id);
    for (const t of twins) acl = await this.setPermissions(id, t, '');
    return acl;
  }

  close(): void {
    this.catalog.close();
  }
}

function normalise(entries: Record<string | number, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [twin, perms] of Object.entries(entries)) {
    if (!/^\d+$/.test(twin)) throw new BcdbError('bad_request', `ACL entries are twin ids, not ${twin}`);
    const p = [...new Set(perms)]
      .filter((c) => c === 'r' || c === 'w' || c === 'd')
      .sort()
      .join('');
    if (p.length !== [...new Set(perms)].length)
      throw new BcdbError('bad_request', `permissions are a subset of "rwd", not "${perms}"`);
    if (p) out[twin] = p;
  }
  return out;
}
