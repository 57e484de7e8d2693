/**
 * Files: the twin's own folders and files, and what it shares of them with contacts.
 *
 * The index is in the experience store (SQLite): one row per file or folder with its parent,
 * kind, size and dates in the clear, and its name, type and hashes sealed at rest (vault.ts).
 * Uniqueness of a name in its folder is kept by a keyed hash of (parent, name), never the name.
 * The bytes are chunks in the twin's storage (blobs.ts), each chunk's SHA-256 and the whole
 * file's kept in the sealed metadata: what transfers between twins verify against.
 *
 * Shares: a file or folder is shared with a contact read-only or read-write; a share on a folder
 * covers everything under it. `access()` answers for a grantee what it may do with an entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { extname } from 'node:path';
import { TwinError } from '../errors.ts';
import {
  type BlobStore,
  type Blobs,
  FILE_CHUNK,
  rechunk,
  type StorageKind,
  WRITES_IN_FLIGHT,
} from './blobs.ts';
import type { EventHub } from './events.ts';
import type { ExperienceStore } from './store.ts';

/** Longest file or folder name (bytes of UTF-8). */
export const MAX_NAME_BYTES = 255;
/** Folders deep at most. */
export const MAX_DEPTH = 64;
/** Entries a search returns at most. */
export const MAX_SEARCH = 200;

/** Images a thumbnail is made of, and the largest such image (bytes). */
export const THUMBNAIL_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/avif']);
export const MAX_THUMBNAIL_SOURCE = 32 * 1024 * 1024;
/** A thumbnail fits in this square (pixels); images of more pixels than this are not decoded. */
export const THUMBNAIL_SIZE = 256;
export const MAX_THUMBNAIL_PIXELS = 50_000_000;

/** A WebP thumbnail of an image (sharp: libvips), or null when it is not one sharp can read. */
async function thumbnail(image: Buffer): Promise<Buffer | null> {
  try {
    const { default: sharp } = await import('sharp');
    return await sharp(image, { limitInputPixels: MAX_THUMBNAIL_PIXELS, animated: false })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 70 })
      .toBuffer();
  } catch {
    return null;
  }
}

export type ShareMode = 'read' | 'write';
export type FileKind = 'file' | 'folder';

export interface FileEntry {
  id: string;
  name: string;
  kind: FileKind;
  size: number;
  mime: string;
  created: number;
  modified: number;
  shares: { twin: number; mode: ShareMode }[];
  path?: string;
  /** A small WebP of an image is kept (`GET /api/files/:id/thumbnail`). */
  thumbnail: boolean;
}

/** What is sealed in a row: everything that would say what the file is. */
interface Meta {
  name: string;
  mime: string;
  storage?: StorageKind;
  sha256?: string;
  /** Concatenated SHA-256 of every chunk, base64. */
  hashes?: string;
  /** A thumbnail is stored under `<blob>:thumb`. */
  thumb?: boolean;
}

interface Row {
  id: string;
  parent: string;
  kind: FileKind;
  meta: string;
  size: number;
  created: number;
  modified: number;
  blob: string | null;
}

/** A file's bytes as stored, for reading and for transfers. */
export interface FileContent {
  id: string;
  name: string;
  mime: string;
  size: number;
  chunkSize: number;
  chunks: number;
  sha256: string;
  hash(index: number): Buffer;
}

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.pdf': 'application/pdf',
  '.json': 'application/json',
  '.zip': 'application/zip',
  '.mp4': 'video/mp4',
  '.mp3': 'audio/mpeg',
  '.html': 'text/html',
  '.csv': 'text/csv',
};

export function mimeOf(name: string, declared?: string): string {
  const d = declared?.split(';')[0]?.trim().toLowerCase();
  if (d && d !== 'application/octet-stream' && /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(d)) return d;
  return MIME[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** A file or folder name; TwinError `bad_name` otherwise. */
export function checkName(name: string): string {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (
    bytes < 1 ||
    bytes > MAX_NAME_BYTES ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    name.includes('\\') ||
    /[\u0000-\u001f\u007f]/.test(name) ||
    Buffer.from(name, 'utf8').toString('utf8') !== name
  )
    throw new TwinError(
      'bad_name',
      `"${name.slice(0, 40)}" is not a valid name (1-255 bytes, no "/", "\\", NUL or control characters, not "." or "..")`,
    );
  return name;
}

/** The names of a path ('/Photos/2026' → ['Photos', '2026']), each checked. */
export function splitPath(path: string): string[] {
  if (!path.startsWith('/')) throw new TwinError('bad_name', `a path starts with "/": ${path.slice(0, 40)}`);
  const names = path.split('/').filter((n) => n !== '');
  if (names.length > MAX_DEPTH)
    throw new TwinError('bad_name', `paths are ${MAX_DEPTH} folders deep at most`);
  return names.map(checkName);
}

/**
 * A file's chunks being stored: each hashed and written (WRITES_IN_FLIGHT at once); the whole
 * file's SHA-256 kept running. Nothing is visible until Files.commit(); abort() deletes the chunks.
 */
export class Upload {
  readonly blob = randomBytes(12).toString('hex');
  /** Bytes and chunks appended so far. */
  size = 0;
  index = 0;
  /** An image small enough is kept whole meanwhile for its thumbnail. */
  image: Buffer[] | null;
  private readonly chunkHashes: Buffer[] = [];
  private readonly whole = createHash('sha256');
  private digest: string | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    readonly store: BlobStore,
    readonly mime: string,
  ) {
    this.image = THUMBNAIL_TYPES.has(mime) ? [] : null;
  }

  /** The SHA-256 of what was appended (hex); appending after it is asked for is refused. */
  sha256(): string {
    this.digest ??= this.whole.digest('hex');
    return this.digest;
  }

  hashes(): string {
    return Buffer.concat(this.chunkHashes).toString('base64');
  }

  /** Stores the next chunk (resolves once it is queued; a failed write throws here or at flush()). */
  async append(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.digest !== undefined) throw new TwinError('bad_request', 'the upload is complete');
    this.whole.update(chunk);
    if (this.image)
      this.image = this.size + chunk.length <= MAX_THUMBNAIL_SOURCE ? [...this.image, chunk] : null;
    this.chunkHashes.push(createHash('sha256').update(chunk).digest());
    this.size += chunk.length;
    const p: Promise<void> = this.store
      .write(`${this.blob}:${this.index++}`, chunk)
      .catch((e) => {
        this.failure ??= e;
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    if (this.inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits until every chunk appended is stored; throws the first write's failure. */
  async flush(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Deletes every chunk written. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    for (let i = 0; i < this.index; i++) await this.store.delete(`${this.blob}:${i}`);
  }
}

export class Files {
  constructor(
    private readonly store: ExperienceStore,
    private readonly blobs: Blobs,
    private readonly events: EventHub,
    private readonly self: number,
  ) {
    store.db.exec(`
      CREATE TABLE IF NOT EXISTS files (
        id TEXT PRIMARY KEY,
        parent TEXT NOT NULL,
        tag TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
        meta TEXT NOT NULL,
        size INTEGER NOT NULL,
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        blob TEXT
      );
      CREATE INDEX IF NOT EXISTS files_by_parent ON files (parent);
      CREATE TABLE IF NOT EXISTS shares (
        file TEXT NOT NULL, twin INTEGER NOT NULL, mode TEXT NOT NULL CHECK (mode IN ('read', 'write')),
        at INTEGER NOT NULL, PRIMARY KEY (file, twin)
      );
      CREATE INDEX IF NOT EXISTS shares_by_twin ON shares (twin);
    `);
  }

  private tag(parent: string, name: string): string {
    return this.store.vault.token(`file:${parent}/${name}`);
  }

  private meta(r: Row): Meta {
    return JSON.parse(this.store.vault.open(r.meta)) as Meta;
  }

  private row(id: string): Row | undefined {
    return this.store.sql('SELECT * FROM files WHERE id = ?').get(id) as Row | undefined;
  }

  private mustRow(id: string): Row {
    const r = this.row(id);
    if (!r) throw new TwinError('not_found', `no file or folder ${id}`);
    return r;
  }

  private child(parent: string, name: string): Row | undefined {
    return this.store.sql('SELECT * FROM files WHERE tag = ?').get(this.tag(parent, name)) as Row | undefined;
  }

  entry(r: Row, path?: string): FileEntry {
    const m = this.meta(r);
    const shares = this.store.sql('SELECT twin, mode FROM shares WHERE file = ? ORDER BY twin').all(r.id) as {
      twin: number;
      mode: ShareMode;
    }[];
    return {
      id: r.id,
      name: m.name,
      kind: r.kind,
      size: r.size,
      mime: r.kind === 'folder' ? 'inode/directory' : m.mime,
      created: r.created,
      modified: r.modified,
      shares,
      thumbnail: m.thumb === true,
      ...(path !== undefined ? { path } : {}),
    };
  }

  get(id: string): FileEntry {
    return this.entry(this.mustRow(id));
  }

  /** The folder at `names` under `from` ('' is the root): its id; created with `create`. */
  folder(names: string[], create = false, from = ''): string {
    let at = from;
    for (const name of names) {
      const r = this.child(at, name);
      if (r) {
        if (r.kind !== 'folder') throw new TwinError('exists', `"${name}" is a file, not a folder`);
        at = r.id;
        continue;
      }
      if (!create) throw new TwinError('not_found', `no folder "${name}"`);
      at = this.insert(at, name, 'folder', { name, mime: 'inode/directory' }, 0, null).id;
    }
    return at;
  }

  private insert(
    parent: string,
    name: string,
    kind: FileKind,
    meta: Meta,
    size: number,
    blob: string | null,
  ): Row {
    const id = randomBytes(12).toString('hex');
    const now = Date.now();
    this.store
      .sql(
        'INSERT INTO files (id, parent, tag, kind, meta, size, created, modified, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        id,
        parent,
        this.tag(parent, name),
        kind,
        this.store.vault.seal(JSON.stringify(meta)),
        size,
        now,
        now,
        blob,
      );
    return this.row(id)!;
  }

  /** `POST /api/folders`: the folder at `path`, parents created. */
  mkdir(path: string): FileEntry {
    const names = splitPath(path);
    if (names.length === 0) throw new TwinError('bad_name', 'the root folder always exists');
    return this.get(this.folder(names, true));
  }

  /** Entries of the folder `id` ('' is the root), folders first, then by name. */
  listIn(id: string): FileEntry[] {
    if (id !== '' && this.mustRow(id).kind !== 'folder')
      throw new TwinError('not_found', `${id} is not a folder`);
    const rows = this.store.sql('SELECT * FROM files WHERE parent = ?').all(id) as Row[];
    return rows
      .map((r) => this.entry(r))
      .sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'folder' ? -1 : 1));
  }

  list(path: string): { path: string; entries: FileEntry[] } {
    const names = splitPath(path);
    return { path: `/${names.join('/')}`, entries: this.listIn(this.folder(names)) };
  }

  /** The path of an entry ('/a/b'). */
  pathOf(id: string): string {
    const names: string[] = [];
    let at = id;
    for (let depth = 0; at !== '' && depth <= MAX_DEPTH; depth++) {
      const r = this.mustRow(at);
      names.unshift(this.meta(r).name);
      at = r.parent;
    }
    return `/${names.join('/')}`;
  }

  /** Files and folders whose name holds `q` (case-insensitive); names are decrypted on this side only. */
  search(q: string): FileEntry[] {
    const needle = q.toLowerCase();
    const rows = this.store.sql('SELECT * FROM files ORDER BY modified DESC').all() as Row[];
    const out: FileEntry[] = [];
    for (const r of rows) {
      if (!this.meta(r).name.toLowerCase().includes(needle)) continue;
      const parent = r.parent === '' ? '' : this.pathOf(r.parent);
      out.push(this.entry(r, parent === '/' ? '/' : parent || '/'));
      if (out.length >= MAX_SEARCH) break;
    }
    return out;
  }

  /**
   * Stores `source` as the file `name` in folder `parent` (replacing a file of that name), chunk
   * by chunk as it arrives, hashing each. On failure nothing is visible and written chunks go.
   */
  async write(
    parent: string,
    name: string,
    source: AsyncIterable<Uint8Array>,
    mime: string,
  ): Promise<FileEntry> {
    checkName(name);
    if (this.child(parent, name)?.kind === 'folder') throw new TwinError('exists', `"${name}" is a folder`);
    const upload = this.begin(mime);
    try {
      for await (const chunk of rechunk(source)) await upload.append(chunk);
      await upload.flush();
    } catch (e) {
      await upload.abort();
      throw e;
    }
    return this.commit(upload, parent, name);
  }

  /** A file being stored chunk by chunk (write(), or a write into a share that may resume). */
  begin(mime: string): Upload {
    return new Upload(this.blobs.current(), mime);
  }

  /** Makes a stored upload the file `name` in folder `parent` (replacing a file of that name). */
  async commit(upload: Upload, parent: string, name: string): Promise<FileEntry> {
    await upload.flush();
    const now = this.child(parent, name);
    if (now?.kind === 'folder') {
      await upload.abort();
      throw new TwinError('exists', `"${name}" is a folder`);
    }
    const thumb = upload.image ? await thumbnail(Buffer.concat(upload.image)) : null;
    if (thumb) await upload.store.write(`${upload.blob}:thumb`, thumb);
    const meta: Meta = {
      name,
      mime: upload.mime,
      storage: upload.store.kind,
      sha256: upload.sha256(),
      hashes: upload.hashes(),
      ...(thumb ? { thumb: true } : {}),
    };
    let row: Row;
    // re-read: another upload of the same name may have finished meanwhile
    if (now) {
      this.store
        .sql('UPDATE files SET meta = ?, size = ?, modified = ?, blob = ? WHERE id = ?')
        .run(this.store.vault.seal(JSON.stringify(meta)), upload.size, Date.now(), upload.blob, now.id);
      void this.dropBlob(now);
      row = this.mustRow(now.id);
    } else row = this.insert(parent, name, 'file', meta, upload.size, upload.blob);
    return this.entry(row);
  }

  /** `PUT /api/files/content?path=`: parents created. */
  async put(path: string, source: AsyncIterable<Uint8Array>, declaredMime?: string): Promise<FileEntry> {
    const names = splitPath(path);
    const name = names.pop();
    if (name === undefined) throw new TwinError('bad_name', 'a file needs a name');
    return this.write(this.folder(names, true), name, source, mimeOf(name, declaredMime));
  }

  private async dropBlob(r: Row): Promise<void> {
    if (!r.blob) return;
    const m = this.meta(r);
    const chunks = Math.ceil(r.size / FILE_CHUNK);
    try {
      const store = this.blobs.of(m.storage ?? 'zdb');
      for (let i = 0; i < chunks; i++) await store.delete(`${r.blob}:${i}`);
      if (m.thumb) await store.delete(`${r.blob}:thumb`);
    } catch {
      // storage gone: nothing to free
    }
  }

  /** A file's thumbnail (WebP); TwinError `no_thumbnail` when it has none. */
  async thumbnail(id: string): Promise<Buffer> {
    const r = this.mustRow(id);
    const m = this.meta(r);
    if (!m.thumb || !r.blob) throw new TwinError('no_thumbnail', `${id} has no thumbnail (not an image)`);
    return this.blobs.of(m.storage ?? 'zdb').read(`${r.blob}:thumb`);
  }

  /** A file's content description (for reading and transfers). */
  content(id: string): FileContent {
    const r = this.mustRow(id);
    if (r.kind !== 'file') throw new TwinError('not_found', `${id} is a folder`);
    const m = this.meta(r);
    const hashes = Buffer.from(m.hashes ?? '', 'base64');
    return {
      id,
      name: m.name,
      mime: m.mime,
      size: r.size,
      chunkSize: FILE_CHUNK,
      chunks: Math.ceil(r.size / FILE_CHUNK),
      sha256: m.sha256 ?? '',
      hash: (i) => hashes.subarray(i * 32, i * 32 + 32),
    };
  }

  /** The chunks of a file from chunk `from`, in order, reading one ahead. */
  async *chunks(id: string, from = 0): AsyncGenerator<Buffer> {
    const r = this.mustRow(id);
    const c = this.content(id);
    const store = this.blobs.of(this.meta(r).storage ?? 'zdb');
    let next: Promise<Buffer> | undefined = from < c.chunks ? store.read(`${r.blob}:${from}`) : undefined;
    for (let i = from; i < c.chunks; i++) {
      const chunk: Buffer = await next!;
      next = i + 1 < c.chunks ? store.read(`${r.blob}:${i + 1}`) : undefined;
      next?.catch(() => {}); // awaited on the next turn, or dropped when the reader stops
      yield chunk;
    }
  }

  /** Bytes `start` to `end` (inclusive) of a file. */
  async *range(id: string, start: number, end: number): AsyncGenerator<Buffer> {
    const first = Math.floor(start / FILE_CHUNK);
    let at = first * FILE_CHUNK;
    for await (const chunk of this.chunks(id, first)) {
      const from = Math.max(0, start - at);
      const to = Math.min(chunk.length, end + 1 - at);
      if (to > from) yield chunk.subarray(from, to);
      at += chunk.length;
      if (at > end) return;
    }
  }

  /** Renames and/or moves an entry (`parent` a folder id, '' the root). */
  move(id: string, change: { name?: string; parent?: string }): FileEntry {
    const r = this.mustRow(id);
    const m = this.meta(r);
    const name = change.name === undefined ? m.name : checkName(change.name);
    const parent = change.parent ?? r.parent;
    if (parent !== '') {
      // a folder never goes into itself or under itself
      for (let at = parent, depth = 0; at !== '' && depth <= MAX_DEPTH; depth++) {
        if (at === id) throw new TwinError('bad_request', 'a folder cannot move into itself');
        const p = this.mustRow(at);
        if (p.kind !== 'folder') throw new TwinError('not_found', 'the new parent is not a folder');
        at = p.parent;
      }
    }
    const other = this.child(parent, name);
    if (other && other.id !== id) throw new TwinError('exists', `"${name}" is already there`);
    this.store
      .sql('UPDATE files SET parent = ?, tag = ?, meta = ?, modified = ? WHERE id = ?')
      .run(
        parent,
        this.tag(parent, name),
        this.store.vault.seal(JSON.stringify({ ...m, name })),
        Date.now(),
        id,
      );
    return this.get(id);
  }

  /** Deletes an entry (a folder with everything under it), its bytes and its shares. */
  async delete(id: string): Promise<void> {
    const r = this.mustRow(id);
    const rows: Row[] = [];
    const walk = (x: Row) => {
      rows.push(x);
      if (x.kind === 'folder')
        for (const c of this.store.sql('SELECT * FROM files WHERE parent = ?').all(x.id) as Row[]) walk(c);
    };
    walk(r);
    const drop = this.store.db.transaction(() => {
      for (const x of rows) {
        this.store.sql('DELETE FROM files WHERE id = ?').run(x.id);
        this.store.sql('DELETE FROM shares WHERE file = ?').run(x.id);
      }
    });
    drop();
    for (const x of rows) await this.dropBlob(x);
  }

  // --- shares ---

  share(id: string, twin: number, mode: ShareMode): FileEntry {
    this.mustRow(id);
    this.store
      .sql(
        'INSERT INTO shares (file, twin, mode, at) VALUES (?, ?, ?, ?) ON CONFLICT(file, twin) DO UPDATE SET mode = excluded.mode',
      )
      .run(id, twin, mode, Date.now());
    const e = this.get(id);
    this.events.publish({ type: 'file.shared', id, owner: this.self, twin, mode });
    return e;
  }

  unshare(id: string, twin: number): boolean {
    this.mustRow(id);
    const gone = this.store.sql('DELETE FROM shares WHERE file = ? AND twin = ?').run(id, twin).changes > 0;
    if (gone) this.events.publish({ type: 'file.unshared', id, owner: this.self, twin });
    return gone;
  }

  /** What `twin` may do with entry `id`: the widest share on it or a folder above it; null: nothing. */
  access(twin: number, id: string): ShareMode | null {
    let mode: ShareMode | null = null;
    const share = this.store.sql('SELECT mode FROM shares WHERE file = ? AND twin = ?');
    for (let at = id, depth = 0; at !== '' && depth <= MAX_DEPTH; depth++) {
      const r = this.row(at);
      if (!r) return null;
      const s = share.get(at, twin) as { mode: ShareMode } | undefined;
      if (s?.mode === 'write') return 'write';
      if (s) mode = 'read';
      at = r.parent;
    }
    return mode;
  }

  /** Entries shared with `twin` directly, with the mode and when. */
  sharedWith(twin: number): (FileEntry & { mode: ShareMode; sharedAt: number })[] {
    const rows = this.store
      .sql(
        'SELECT f.*, s.mode AS share_mode, s.at AS share_at FROM shares s JOIN files f ON f.id = s.file WHERE s.twin = ? ORDER BY s.at',
      )
      .all(twin) as (Row & { share_mode: ShareMode; share_at: number })[];
    return rows.map((r) => ({ ...this.entry(r), shares: [], mode: r.share_mode, sharedAt: r.share_at }));
  }

  /** Forgets every share with a twin (it is no contact any more). */
  unshareAll(twin: number): void {
    this.store.sql('DELETE FROM shares WHERE twin = ?').run(twin);
  }

  /** The folder at `names` under the shared folder `root` (no creating), for a grantee. */
  under(root: string, names: string[]): string {
    return this.folder(names, false, root);
  }

  parentOf(id: string): string {
    return this.mustRow(id).parent;
  }
}
