/**
 * The SQLite index of a BCDB (WAL): objects, their tags (every tag indexed), ACLs, and the last
 * 0-db record applied. It is a cache of the 0-db records: `apply` is the only way in, used both
 * for new writes and when replaying records after a crash or for a rebuild.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BcdbError } from './errors.ts';
import { DEFAULT_PAGE_SIZE, MAX_CACHED_STATEMENTS, MAX_PAGE_SIZE, MAX_QUERY_TAGS } from './limits.ts';
import type { AclHeader, ObjectHeader, RecordHeader } from './record.ts';

/** An object as the index knows it: its current header (without the record kind) and where its data is. */
export type ObjectMeta = Omit<ObjectHeader, 'kind' | 'deleted'> & {
  size: number;
  /** The 0-db key holding the current version. */
  zkey: Buffer;
};

export interface FindQuery {
  collection: string;
  /** Tag equality, all must match (AND). */
  tags?: Record<string, string>;
  /** One tag whose value starts with `value`. */
  prefix?: { key: string; value: string };
  order?: 'asc' | 'desc';
  limit?: number;
  /** From a previous page. */
  cursor?: string;
}

export interface Page {
  objects: ObjectMeta[];
  /** Null on the last page. */
  cursor: string | null;
}

/** A row of the objects table: tags are stored as JSON. */
type ObjectRow = Omit<ObjectMeta, 'tags'> & { tags: string };

const toMeta = (r: ObjectRow): ObjectMeta => ({ ...r, tags: JSON.parse(r.tags) as Record<string, string> });

/**
 * The SQLite index (see the module doc): written only through `apply`/`applyMany`, read by
 * `object`, `acl`, `acls`, `find`. Find statements are prepared per query shape and cached
 * (at most MAX_CACHED_STATEMENTS).
 */
export class Catalog {
  readonly db: Database.Database;
  private readonly q: Record<string, Database.Statement>;
  /** Prepared find statements by SQL text: one per query shape, at most MAX_CACHED_STATEMENTS. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS objects (
        id INTEGER PRIMARY KEY, collection TEXT NOT NULL, acl INTEGER NOT NULL, version INTEGER NOT NULL,
        created INTEGER NOT NULL, updated INTEGER NOT NULL, size INTEGER NOT NULL, zkey BLOB NOT NULL, tags TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS objects_by_time ON objects (collection, updated, id);
      CREATE TABLE IF NOT EXISTS tags (object INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (object, key));
      CREATE INDEX IF NOT EXISTS tags_by_value ON tags (key, value, object);
      CREATE TABLE IF NOT EXISTS acls (id INTEGER PRIMARY KEY, entries TEXT NOT NULL, version INTEGER NOT NULL, updated INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS collections (collection TEXT PRIMARY KEY, acl INTEGER NOT NULL);
    `);
    this.q = {
      getObject: this.db.prepare('SELECT * FROM objects WHERE id = ?'),
      putObject: this.db.prepare(
        'INSERT INTO objects (id, collection, acl, version, created, updated, size, zkey, tags) VALUES (@id, @collection, @acl, @version, @created, @updated, @size, @zkey, @tags) ON CONFLICT(id) DO UPDATE SET collection = excluded.collection, acl = excluded.acl, version = excluded.version, updated = excluded.updated, size = excluded.size, zkey = excluded.zkey, tags = excluded.tags',
      ),
      delObject: this.db.prepare('DELETE FROM objects WHERE id = ?'),
      delTags: this.db.prepare('DELETE FROM tags WHERE object = ?'),
      putTag: this.db.prepare('INSERT INTO tags (object, key, value) VALUES (?, ?, ?)'),
      getAcl: this.db.prepare('SELECT * FROM acls WHERE id = ?'),
      putAcl: this.db.prepare(
        'INSERT INTO acls (id, entries, version, updated) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET entries = excluded.entries, version = excluded.version, updated = excluded.updated',
      ),
      listAcls: this.db.prepare('SELECT * FROM acls ORDER BY id'),
      getState: this.db.prepare('SELECT value FROM state WHERE key = ?'),
      setState: this.db.prepare(
        'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      putCollection: this.db.prepare(
        'INSERT INTO collections (collection, acl) VALUES (?, ?) ON CONFLICT(collection) DO UPDATE SET acl = excluded.acl',
      ),
      getCollection: this.db.prepare('SELECT acl FROM collections WHERE collection = ?'),
    };
  }

  state(key: string): number {
    return (this.q.getState!.get(key) as { value: number } | undefined)?.value ?? 0;
  }

  private setState(key: string, value: number): void {
    this.q.setState!.run(key, value);
  }

  /** Applies one 0-db record (sequence number `seq`, stored under `zkey`), atomically with its bookkeeping. */
  apply(seq: number, zkey: Buffer, header: RecordHeader, size: number): void {
    this.applyMany([{ seq, zkey, header, size }]);
  }

  /** Applies consecutive records in one transaction (group commit). */
  applyMany(records: { seq: number; zkey: Buffer; header: RecordHeader; size: number }[]): void {
    this.db.transaction(() => {
      let nextObject = this.state('nextObject');
      let nextAcl = this.state('nextAcl');
      for (const r of records) {
        const h = r.header;
        if (h.kind === 'object') {
          this.applyObject(h, r.zkey, r.size);
          nextObject = Math.max(nextObject, h.id + 1);
        } else if (h.kind === 'acl') {
          this.applyAcl(h);
          nextAcl = Math.max(nextAcl, h.id + 1);
        } else {
          this.q.putCollection!.run(h.collection, h.acl);
        }
      }
      // bookkeeping once per batch, in the same transaction
      this.setState('nextObject', nextObject);
      this.setState('nextAcl', nextAcl);
      this.setState('applied', records[records.length - 1]!.seq);
    })();
  }

  private applyObject(h: ObjectHeader, zkey: Buffer, size: number): void {
    if (h.version > 1) this.q.delTags!.run(h.id); // a first version has no tags to replace
    if (h.deleted) {
      this.q.delObject!.run(h.id);
      return;
    }
    this.q.putObject!.run({ ...h, size, zkey, tags: JSON.stringify(h.tags) });
    for (const [k, v] of Object.entries(h.tags)) this.q.putTag!.run(h.id, k, v);
  }

  private applyAcl(h: AclHeader): void {
    this.q.putAcl!.run(h.id, JSON.stringify(h.entries), h.version, h.updated);
  }

  /** The ACL granted on a whole collection, if any. */
  collectionAcl(collection: string): number | null {
    return (this.q.getCollection!.get(collection) as { acl: number } | undefined)?.acl ?? null;
  }

  object(id: number): ObjectMeta | null {
    const r = this.q.getObject!.get(id) as ObjectRow | undefined;
    return r ? toMeta(r) : null;
  }

  acl(id: number): AclHeader | null {
    const r = this.q.getAcl!.get(id) as
      | { id: number; entries: string; version: number; updated: number }
      | undefined;
    return r
      ? {
          kind: 'acl',
          id: r.id,
          entries: JSON.parse(r.entries) as Record<string, string>,
          version: r.version,
          updated: r.updated,
        }
      : null;
  }

  acls(): AclHeader[] {
    return (
      this.q.listAcls!.all() as { id: number; entries: string; version: number; updated: number }[]
    ).map((r) => ({
      kind: 'acl',
      id: r.id,
      entries: JSON.parse(r.entries) as Record<string, string>,
      version: r.version,
      updated: r.updated,
    }));
  }

  /**
   * Objects of a collection matching every tag (and the prefix), ordered by update time, paged.
   * The query starts from the first tag's index entries (selective) and checks the other tags by
   * primary key, instead of walking the whole collection.
   */
  find(q: FindQuery): Page {
    const tags = Object.entries(q.tags ?? {});
    if (tags.length > MAX_QUERY_TAGS)
      throw new BcdbError(
        'bad_request',
        `a query matches at most ${MAX_QUERY_TAGS} tags, not ${tags.length}`,
      );
    const joins: string[] = [];
    const where: string[] = ['o.collection = ?'];
    const joinArgs: (string | number)[] = [];
    const args: (string | number)[] = [q.collection];
    let from = 'objects o';
    if (tags.length > 0) {
      const [k0, v0] = tags[0]!;
      // CROSS JOIN pins the join order: start from the tag index, never from the time index.
      from = 'tags t0 CROSS JOIN objects o ON o.id = t0.object';
      where.push('t0.key = ?', 't0.value = ?');
      args.push(k0, v0);
      tags.slice(1).forEach(([k, v], i) => {
        joins.push(
          `JOIN tags t${i + 1} ON t${i + 1}.object = o.id AND t${i + 1}.key = ? AND t${i + 1}.value = ?`,
        );
        joinArgs.push(k, v);
      });
    }
    if (q.prefix) {
      joins.push('JOIN tags tp ON tp.object = o.id AND tp.key = ? AND tp.value >= ? AND tp.value < ?');
      joinArgs.push(q.prefix.key, q.prefix.value, `${q.prefix.value}\uffff`);
    }
    const desc = (q.order ?? 'desc') === 'desc';
    if (q.cursor) {
      const [updated, id] = q.cursor.split(':').map(Number);
      if (!Number.isFinite(updated) || !Number.isFinite(id)) throw new BcdbError('bad_request', 'bad cursor');
      where.push(
        desc
          ? '(o.updated < ? OR (o.updated = ? AND o.id < ?))'
          : '(o.updated > ? OR (o.updated = ? AND o.id > ?))',
      );
      args.push(updated!, updated!, id!);
    }
    const wanted = Number.isFinite(q.limit) ? Math.trunc(q.limit!) : DEFAULT_PAGE_SIZE;
    const limit = Math.min(Math.max(wanted, 1), MAX_PAGE_SIZE);
    const dir = desc ? 'DESC' : 'ASC';
    // The SQL depends only on the query's shape (how many tags, prefix, cursor, order): every
    // value, the limit included, is a bound parameter, so the statement cache stays small.
    const sql = `SELECT o.* FROM ${from} ${joins.join(' ')} WHERE ${where.join(' AND ')} ORDER BY o.updated ${dir}, o.id ${dir} LIMIT ?`;
    const rows = (this.statement(sql).all(...joinArgs, ...args, limit + 1) as ObjectRow[]).map(toMeta);
    const more = rows.length > limit;
    const objects = more ? rows.slice(0, limit) : rows;
    const last = objects[objects.length - 1];
    return { objects, cursor: more && last ? `${last.updated}:${last.id}` : null };
  }

  /** The prepared statement for `sql`, from the bounded cache (the oldest is dropped when full). */
  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS)
        this.statements.delete(this.statements.keys().next().value!);
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** How many prepared find statements are cached (bounded by MAX_CACHED_STATEMENTS). */
  get cachedStatements(): number {
    return this.statements.size;
  }

  /** Drops every row (before a rebuild from 0-db). */
  clear(): void {
    this.db.exec(
      'DELETE FROM objects; DELETE FROM tags; DELETE FROM acls; DELETE FROM state; DELETE FROM collections;',
    );
  }

  close(): void {
    this.db.close();
  }
}
