/**
 * Files between twins over the bus: what an owner shares with the asking twin, the entries of a
 * shared folder, a file's bytes (a byte stream), and writing into a read-write share (a byte
 * stream the other way). The owner checks every request against its shares (files.ts `access`)
 * and whom it knows (a blocked twin, or one that is no contact, is refused); answers are
 * `{ok: true, ...}` or `{ok: false, code, message}` so the asking side learns the owner's code
 * (`denied`, `not_found`, `bad_name`) rather than a generic handler error.
 *
 * A file's bytes: the asker writes `{id, from}` (a chunk index) and ends; the owner answers a
 * header `{ok, size, chunkSize, chunks, sha256, name, mime}` and then, for each chunk from
 * `from`, its SHA-256 (32 bytes) and its bytes. The stream's credit holds the owner back to the
 * asker's pace (back-pressure). The asker verifies every chunk against its hash and the whole
 * file against `sha256`; when the connection breaks it opens a new stream from the first chunk
 * it has not verified (resume), up to MAX_RESUMES times, and refuses a file whose hash changed
 * meanwhile (`changed`).
 *
 * Frames inside a byte stream: JSON documents are `u32 length ‖ UTF-8 JSON`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NetworkError, type TwinBus, type TwinStream } from '@twin/network';
import { z } from 'zod';
import { TwinError, type TwinErrorCode } from '../errors.ts';
import { FILE_CHUNK, rechunk } from './blobs.ts';
import type { Contacts } from './contacts.ts';
import type { EventHub } from './events.ts';
import { checkName, type FileEntry, type Files, mimeOf, splitPath, type Upload } from './files.ts';
import { encode, parsePayload } from './protocol.ts';

export const FILE_COMMANDS = {
  shared: 'files.shared', // request: what the owner shares with the asker
  list: 'files.list', // request: entries of a shared folder
  get: 'files.get', // byte stream: a file's bytes from a chunk on
  put: 'files.put', // byte stream: a file written into a read-write shared folder
  thumbnail: 'files.thumbnail', // request: an image's thumbnail (small: it fits an envelope)
  notice: 'files.notice', // one-way, owner to grantee: {id, mode | null} (a share made, changed or revoked)
} as const;

const Notice = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{24}$/),
  mode: z.enum(['read', 'write']).nullable(),
});

/** Times a fetch reopens its stream after a broken connection. */
export const MAX_RESUMES = 8;
/** Wait before reopening (doubled each time, up to RESUME_MAX_WAIT_MS). */
export const RESUME_WAIT_MS = 200;
export const RESUME_MAX_WAIT_MS = 3_000;
/** Longest JSON document inside a byte stream. */
export const MAX_STREAM_JSON = 64 * 1024;
/** Largest file written into another twin's share. */
export const MAX_REMOTE_FILE = 1024 ** 4;
/** How long an owner is given to answer `files.shared` and `files.list`. */
export const FILES_REQUEST_TIMEOUT_MS = 5_000;
/** How long a reader that has every byte waits for the owner's end of the stream. */
export const END_WAIT_MS = 5_000;
/** Entries one answer of `files.shared` or `files.list` carries at most (an envelope holds 4 MiB). */
export const MAX_LISTED = 5_000;
/** How long an owner keeps a broken-off upload for its writer to resume. */
export const PARTIAL_UPLOAD_TTL_MS = 10 * 60_000;
/** Uploads into this twin's shares held at once. */
export const MAX_PARTIAL_UPLOADS = 64;
/** Chunks a writer keeps to send again after a resume (the owner is never further behind). */
export const RESEND_CHUNKS = 16;
/** How often a transfer tells local clients its progress. */
export const PROGRESS_EVERY_CHUNKS = 8;

/** Codes an owner may answer with; anything else reads as `bad_reply`. */
const REMOTE_CODES = new Set<TwinErrorCode>([
  'no_thumbnail',
  'bad_hash',
  'denied',
  'not_found',
  'bad_name',
  'bad_request',
  'exists',
  'too_large',
]);

const fileId = z.string().regex(/^[0-9a-f]{24}$/);
const relPath = z.string().max(4096);

const Failure = z.strictObject({
  ok: z.literal(false),
  code: z.string().max(64),
  message: z.string().max(1000),
});
const RemoteEntry = z.strictObject({
  id: fileId,
  name: z.string().max(1024),
  kind: z.enum(['file', 'folder']),
  size: z.number().int().nonnegative(),
  mime: z.string().max(255),
  created: z.number().int().nonnegative(),
  modified: z.number().int().nonnegative(),
  shares: z.array(z.strictObject({ twin: z.number().int(), mode: z.enum(['read', 'write']) })).max(0),
  thumbnail: z.boolean(),
});
const SharedItem = RemoteEntry.extend({ mode: z.enum(['read', 'write']), sharedAt: z.number().int() });
const SharedAnswer = z.union([
  z.strictObject({ ok: z.literal(true), items: z.array(SharedItem).max(MAX_LISTED) }),
  Failure,
]);
const ListAsk = z.strictObject({ id: fileId, path: relPath });
const ListAnswer = z.union([
  z.strictObject({ ok: z.literal(true), entries: z.array(RemoteEntry).max(MAX_LISTED) }),
  Failure,
]);
const ThumbnailAnswer = z.union([
  z.strictObject({ ok: z.literal(true), webp: z.string().max(1024 * 1024) }),
  Failure,
]);
const GetAsk = z.strictObject({ id: fileId, from: z.number().int().nonnegative() });
const Header = z.union([
  z.strictObject({
    ok: z.literal(true),
    size: z.number().int().nonnegative(),
    chunkSize: z.literal(FILE_CHUNK),
    chunks: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    name: z.string().max(1024),
    mime: z.string().max(255),
  }),
  Failure,
]);
export type RemoteFile = Extract<z.infer<typeof Header>, { ok: true }>;
const PutAsk = z.strictObject({
  folder: fileId,
  path: relPath,
  name: z.string().max(1024),
  size: z.number().int().nonnegative().max(MAX_REMOTE_FILE),
  mime: z.string().max(255),
  /** The writer's id for this upload, and whether it resumes one broken off. */
  upload: fileId,
  resume: z.boolean(),
});
/** After a written file's last chunk: the SHA-256 of the whole file. */
const Trailer = z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const PutAnswer = z.union([
  z.strictObject({
    ok: z.literal(true),
    /** On opening: the chunk to send next (0, or where a resumed upload stands). */
    from: z.number().int().nonnegative().optional(),
    entry: RemoteEntry.optional(),
  }),
  Failure,
]);

/** An upload into a share the owner holds while its writer may resume it. */
interface Partial {
  upload: Upload;
  folder: string;
  name: string;
  size: number;
  key: string;
  expiry: NodeJS.Timeout | undefined;
  /** The stream serving it now (a resumed one takes over from a broken one). */
  serving: symbol;
}

const ok = (x: Record<string, unknown> = {}) => ({ ok: true as const, ...x });
function failure(e: unknown): z.infer<typeof Failure> {
  if (e instanceof TwinError && REMOTE_CODES.has(e.code))
    return { ok: false, code: e.code, message: e.message };
  return { ok: false, code: 'bad_request', message: 'the owner could not answer' };
}
function refused(twin: number, f: z.infer<typeof Failure>): TwinError {
  const code = REMOTE_CODES.has(f.code as TwinErrorCode) ? (f.code as TwinErrorCode) : 'bad_reply';
  return new TwinError(code, `twin ${twin}: ${f.message}`);
}
/** An entry as another twin sees it: no shares. */
const forPeer = (e: FileEntry) => ({ ...e, shares: [] });

/** Reads exact byte counts and JSON documents from a byte stream. */
export class StreamReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private parts: Buffer[] = [];
  private held = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes; TwinError `bad_reply` when the stream ends first. */
  async exactly(n: number): Promise<Buffer> {
    while (this.held < n) {
      const r = await this.it.next();
      if (r.done) throw new TwinError('bad_reply', 'the byte stream ended early');
      const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      this.parts.push(b);
      this.held += b.length;
    }
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length ? [rest] : [];
    this.held = rest.length;
    return out;
  }

  async json<T>(schema: z.ZodType<T>): Promise<T> {
    const length = (await this.exactly(4)).readUInt32BE(0);
    if (length > MAX_STREAM_JSON)
      throw new TwinError('too_large', 'a JSON document in the stream is too large');
    return parsePayload(schema, await this.exactly(length));
  }
}

export async function writeJson(s: TwinStream, value: unknown): Promise<void> {
  const body = encode(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  await s.write(Buffer.concat([head, body]));
}

export class Transfers {
  private readonly partials = new Map<string, Partial>();

  constructor(
    private readonly bus: TwinBus,
    private readonly files: Files,
    private readonly contacts: Contacts,
    private readonly events: EventHub,
    /** Further grants to read a file (chat attachments, post images): true lets `twin` read it. */
    private readonly mayAlsoRead: (twin: number, id: string) => boolean,
  ) {}

  private mayRead(twin: number, id: string): boolean {
    if (this.contacts.isBlocked(twin)) return false;
    return this.files.access(twin, id) !== null || this.mayAlsoRead(twin, id);
  }

  /** Registers the owner's side; call before the bus starts. */
  serve(): void {
    this.bus.handle(FILE_COMMANDS.shared, (_payload, { from }) => {
      if (this.contacts.isBlocked(from)) return encode(ok({ items: [] }));
      return encode(ok({ items: this.files.sharedWith(from).slice(0, MAX_LISTED) }));
    });
    this.bus.handle(FILE_COMMANDS.list, (payload, { from }) => {
      try {
        const ask = parsePayload(ListAsk, payload);
        if (this.contacts.isBlocked(from) || this.files.access(from, ask.id) === null)
          throw new TwinError('denied', 'this is not shared with you');
        const folder = this.files.under(ask.id, ask.path === '' ? [] : splitPath(ask.path));
        // an envelope holds 4 MiB: a larger folder is listed in part (folders first, then by name)
        return encode(ok({ entries: this.files.listIn(folder).slice(0, MAX_LISTED).map(forPeer) }));
      } catch (e) {
        return encode(failure(e));
      }
    });
    this.bus.handle(FILE_COMMANDS.thumbnail, async (payload, { from }) => {
      try {
        const { id } = parsePayload(z.strictObject({ id: fileId }), payload);
        if (!this.mayRead(from, id)) throw new TwinError('denied', 'this file is not shared with you');
        return encode(ok({ webp: (await this.files.thumbnail(id)).toString('base64') }));
      } catch (e) {
        return encode(failure(e));
      }
    });
    this.bus.onMessage(FILE_COMMANDS.notice, (m) => {
      if (!this.contacts.isContact(m.from) || this.contacts.isBlocked(m.from)) return;
      const n = parsePayload(Notice, m.payload);
      if (n.mode)
        this.events.publish({ type: 'file.shared', id: n.id, owner: m.from, twin: m.from, mode: n.mode });
      else this.events.publish({ type: 'file.unshared', id: n.id, owner: m.from, twin: m.from });
    });
    this.bus.handleStream(FILE_COMMANDS.get, (s, { from }) => this.serveGet(s, from));
    this.bus.handleStream(FILE_COMMANDS.put, (s, { from }) => this.servePut(s, from));
  }

  private async serveGet(s: TwinStream, from: number): Promise<void> {
    const r = new StreamReader(s);
    let ask: z.infer<typeof GetAsk>;
    let c: ReturnType<Files['content']>;
    try {
      ask = await r.json(GetAsk);
      if (!this.mayRead(from, ask.id)) throw new TwinError('denied', 'this file is not shared with you');
      c = this.files.content(ask.id);
    } catch (e) {
      await writeJson(s, failure(e));
      return;
    }
    await writeJson(
      s,
      ok({
        size: c.size,
        chunkSize: c.chunkSize,
        chunks: c.chunks,
        sha256: c.sha256,
        name: c.name,
        mime: c.mime,
      }),
    );
    let i = ask.from;
    for await (const chunk of this.files.chunks(ask.id, ask.from)) {
      await s.write(c.hash(i++));
      await s.write(chunk);
    }
  }

  private async servePut(s: TwinStream, from: number): Promise<void> {
    const r = new StreamReader(s);
    let ask: z.infer<typeof PutAsk>;
    let partial: Partial;
    try {
      ask = await r.json(PutAsk);
      checkName(ask.name);
      if (!this.contacts.isContact(from) || this.files.access(from, ask.folder) !== 'write')
        throw new TwinError('denied', 'you may not write into this share');
      const folder = this.files.under(ask.folder, ask.path === '' ? [] : splitPath(ask.path));
      const key = `${from}:${ask.upload}`;
      const known = this.partials.get(key);
      if (ask.resume) {
        if (!known || known.size !== ask.size || known.name !== ask.name || known.folder !== folder)
          throw new TwinError('not_found', 'no such upload to resume (it expired, or it finished)');
        partial = known;
        await partial.upload.flush(); // what it reports as stored, is
      } else {
        if (known) throw new TwinError('exists', 'this upload is already under way');
        if (this.partials.size >= MAX_PARTIAL_UPLOADS)
          throw new TwinError('too_large', 'too many uploads at once');
        partial = {
          upload: this.files.begin(mimeOf(ask.name, ask.mime)),
          folder,
          name: ask.name,
          size: ask.size,
          key,
          expiry: undefined,
          serving: Symbol(),
        };
        this.partials.set(key, partial);
      }
    } catch (e) {
      await writeJson(s, failure(e));
      return;
    }
    // a resumed stream takes over: the broken one, if its handler still runs, stops appending
    const serving = Symbol();
    partial.serving = serving;
    clearTimeout(partial.expiry);
    await writeJson(s, ok({ from: partial.upload.index }));
    const chunks = Math.ceil(partial.size / FILE_CHUNK);
    const u = partial.upload;
    const transfer = `${from}:${ask.upload}`;
    try {
      for (let i = u.index; i < chunks; i++) {
        const hash = await r.exactly(32);
        const data = await r.exactly(i === chunks - 1 ? partial.size - i * FILE_CHUNK : FILE_CHUNK);
        if (partial.serving !== serving) return;
        if (!createHash('sha256').update(data).digest().equals(hash))
          throw new TwinError('bad_hash', `chunk ${i} does not match its hash`);
        await u.append(data);
        if (u.index % PROGRESS_EVERY_CHUNKS === 0)
          this.events.publish({ type: 'transfer.progress', id: transfer, done: u.size, total: partial.size });
      }
      // the whole file against the writer's trailer, before anything becomes visible
      const { sha256 } = await r.json(Trailer);
      if (partial.serving !== serving) return;
      if (sha256 !== u.sha256()) throw new TwinError('bad_hash', 'the file does not match its SHA-256');
      this.partials.delete(partial.key);
      const entry = await this.files.commit(u, partial.folder, partial.name);
      this.events.publish({ type: 'transfer.progress', id: transfer, done: u.size, total: partial.size });
      await writeJson(s, ok({ entry: forPeer(entry) }));
    } catch (e) {
      if (partial.serving !== serving) return;
      if (e instanceof NetworkError || (e instanceof TwinError && e.code === 'bad_reply')) {
        // the connection broke: what was verified is kept for a resume, for a while
        partial.expiry = setTimeout(() => this.dropPartial(partial), PARTIAL_UPLOAD_TTL_MS);
        partial.expiry.unref();
        return;
      }
      await this.dropPartial(partial);
      await writeJson(s, failure(e)).catch(() => {});
    }
  }

  private async dropPartial(p: Partial): Promise<void> {
    if (this.partials.get(p.key) === p) this.partials.delete(p.key);
    clearTimeout(p.expiry);
    await p.upload.abort();
  }

  /** Shares an entry with a contact, which is told (a one-way notice: exactly once, even offline now). */
  async share(id: string, twin: number, mode: 'read' | 'write'): Promise<FileEntry> {
    if (!this.contacts.isContact(twin)) throw new TwinError('not_contact', `twin ${twin} is not a contact`);
    const entry = this.files.share(id, twin, mode);
    await this.bus.send(twin, FILE_COMMANDS.notice, encode({ id, mode }));
    return entry;
  }

  /** Revokes a share; the contact is told. False when there was none. */
  async unshare(id: string, twin: number): Promise<boolean> {
    if (!this.files.unshare(id, twin)) return false;
    if (this.contacts.isContact(twin))
      await this.bus.send(twin, FILE_COMMANDS.notice, encode({ id, mode: null }));
    return true;
  }

  /** `GET /api/shared`: what every contact shares with this twin (contacts that do not answer are listed apart). */
  async sharedWithMe(): Promise<{
    items: (z.infer<typeof SharedItem> & { owner: number; ownerName: string })[];
    unreachable: number[];
  }> {
    const contacts = this.contacts.list();
    const items: (z.infer<typeof SharedItem> & { owner: number; ownerName: string })[] = [];
    const unreachable: number[] = [];
    await Promise.all(
      contacts.map(async (c) => {
        try {
          const reply = await this.bus.request(c.twin, FILE_COMMANDS.shared, encode({}), {
            timeoutMs: FILES_REQUEST_TIMEOUT_MS,
          });
          const a = parsePayload(SharedAnswer, reply);
          if (a.ok) for (const it of a.items) items.push({ ...it, owner: c.twin, ownerName: c.name });
        } catch {
          unreachable.push(c.twin);
        }
      }),
    );
    items.sort((a, b) => b.sharedAt - a.sharedAt);
    return { items, unreachable: unreachable.sort((a, b) => a - b) };
  }

  /** Entries of a folder another twin shares with this one (`path` below the shared folder). */
  async listShared(owner: number, id: string, path: string): Promise<FileEntry[]> {
    if (path !== '') splitPath(path);
    let reply: Buffer;
    try {
      reply = await this.bus.request(owner, FILE_COMMANDS.list, encode({ id, path }), {
        timeoutMs: FILES_REQUEST_TIMEOUT_MS,
      });
    } catch (e) {
      throw new TwinError('unreachable', `twin ${owner} could not be asked: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const a = parsePayload(ListAnswer, reply);
    if (!a.ok) throw refused(owner, a);
    return a.entries;
  }

  /** Another twin's image's thumbnail (WebP), asked from its twin (ACL-checked there). */
  async thumbnail(owner: number, id: string): Promise<Buffer> {
    let reply: Buffer;
    try {
      reply = await this.bus.request(owner, FILE_COMMANDS.thumbnail, encode({ id }), {
        timeoutMs: FILES_REQUEST_TIMEOUT_MS,
      });
    } catch (e) {
      throw new TwinError('unreachable', `twin ${owner} could not be asked: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const a = parsePayload(ThumbnailAnswer, reply);
    if (!a.ok) throw refused(owner, a);
    return Buffer.from(a.webp, 'base64');
  }

  private async open(
    owner: number,
    id: string,
    from: number,
  ): Promise<{ s: TwinStream; r: StreamReader; h: RemoteFile }> {
    let s: TwinStream;
    try {
      s = await this.bus.openStream(owner, FILE_COMMANDS.get);
    } catch (e) {
      throw new TwinError('unreachable', `twin ${owner} could not be reached: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      await writeJson(s, { id, from });
      await s.end();
      const r = new StreamReader(s);
      const h = await r.json(Header);
      if (!h.ok) throw refused(owner, h);
      return { s, r, h };
    } catch (e) {
      s.abort();
      throw e instanceof NetworkError ? new TwinError('unreachable', e.message, { cause: e }) : e;
    }
  }

  /**
   * Another twin's file, bytes `start`..`end` (inclusive; default all), fetched over a byte stream
   * verified chunk by chunk (and as a whole when it starts at 0) and resumed after a broken
   * connection. Resolves once the owner accepted; the bytes come from `bytes`.
   */
  async fetch(
    owner: number,
    id: string,
    range: { start?: number; end?: number } = {},
  ): Promise<{ file: RemoteFile; start: number; end: number; bytes: AsyncGenerator<Buffer> }> {
    const start = range.start ?? 0;
    const first = Math.floor(start / FILE_CHUNK);
    let cur = await this.open(owner, id, first);
    const file = cur.h;
    const end = Math.min(range.end ?? file.size - 1, file.size - 1);
    if (start > 0 && start > end) {
      cur.s.abort();
      throw new TwinError('bad_request', `range ${start}-${end} is outside the file (${file.size} bytes)`);
    }
    const events = this.events;
    const transfer = `${owner}:${id}`;
    const self = this;
    async function* bytes(): AsyncGenerator<Buffer> {
      const whole = first === 0 ? createHash('sha256') : null;
      let next = first;
      let resumes = 0;
      let at = first * FILE_CHUNK;
      let finished = false;
      try {
        while (next < file.chunks && at <= end) {
          let data: Buffer;
          try {
            const hash = await cur.r.exactly(32);
            data = await cur.r.exactly(next === file.chunks - 1 ? file.size - next * FILE_CHUNK : FILE_CHUNK);
            if (!createHash('sha256').update(data).digest().equals(hash))
              throw new TwinError(
                'bad_hash',
                `chunk ${next} of ${id} from twin ${owner} does not match its hash`,
              );
          } catch (e) {
            const broken = e instanceof NetworkError || (e instanceof TwinError && e.code === 'bad_reply');
            if (!broken || resumes >= MAX_RESUMES) throw e;
            cur.s.abort();
            cur = await self.reopen(owner, id, next, ++resumes);
            if (cur.h.sha256 !== file.sha256 || cur.h.size !== file.size)
              throw new TwinError('changed', `${id} changed on twin ${owner} during the transfer`);
            events.publish({ type: 'transfer.resumed', id: transfer, chunk: next, attempt: resumes });
            continue;
          }
          whole?.update(data);
          next++;
          // the last bytes are handed on only once the whole file is verified
          if (whole && next === file.chunks && whole.digest('hex') !== file.sha256)
            throw new TwinError('bad_hash', `${id} from twin ${owner} does not match its SHA-256`);
          const from = Math.max(0, start - at);
          const to = Math.min(data.length, end + 1 - at);
          at += data.length;
          if ((next % PROGRESS_EVERY_CHUNKS === 0 || next === file.chunks) && whole)
            events.publish({
              type: 'transfer.progress',
              id: transfer,
              done: Math.min(at, file.size),
              total: file.size,
            });
          if (to > from) yield data.subarray(from, to);
        }
        finished = true;
      } finally {
        // a complete transfer reads the owner's end; anything else (an error, a reader that
        // stopped early) aborts the stream so the owner stops sending
        const s = cur.s;
        if (finished && next === file.chunks) {
          const t = setTimeout(() => s.abort(), END_WAIT_MS);
          await s.done().catch(() => {});
          clearTimeout(t);
        } else s.abort();
      }
    }
    return { file, start, end, bytes: bytes() };
  }

  /** Opens the stream again from chunk `from`, waiting while the other twin cannot be reached. */
  private async reopen(
    owner: number,
    id: string,
    from: number,
    attempt: number,
  ): Promise<Awaited<ReturnType<Transfers['open']>>> {
    let wait = Math.min(RESUME_WAIT_MS * 2 ** (attempt - 1), RESUME_MAX_WAIT_MS);
    for (let tries = 0; ; tries++) {
      await new Promise((r) => setTimeout(r, wait));
      try {
        return await this.open(owner, id, from);
      } catch (e) {
        if (!(e instanceof TwinError && e.code === 'unreachable') || tries >= MAX_RESUMES) throw e;
        wait = Math.min(wait * 2, RESUME_MAX_WAIT_MS);
      }
    }
  }

  /** Writes a file into a folder (or a folder below it, `path`) that `owner` shares read-write with this twin. */
  async put(
    owner: number,
    folder: string,
    path: string,
    name: string,
    size: number,
    mime: string,
    source: AsyncIterable<Uint8Array>,
  ): Promise<FileEntry> {
    checkName(name);
    if (path !== '') splitPath(path);
    const upload = randomBytes(12).toString('hex');
    const ask = { folder, path, name, size, mime, upload };
    /** The last chunks sent, kept to send again after a resume. */
    const kept: { index: number; data: Buffer }[] = [];
    let cur = await this.openPut(owner, { ...ask, resume: false });
    let resumes = 0;
    const transfer = `${owner}:${upload}`;
    const send = async (data: Buffer) => {
      await cur.s.write(createHash('sha256').update(data).digest());
      await cur.s.write(data);
    };
    /**
     * Runs `step` (sending on `cur`); when the connection breaks, reopens the upload (the owner
     * says which chunk it needs next), sends again the kept chunks from there, and runs `step`
     * again (a chunk's step sees that the resend covered it).
     */
    const robust = async (step: () => Promise<void>) => {
      let reopen = false;
      for (;;) {
        try {
          if (reopen) {
            cur = await this.openPut(owner, { ...ask, resume: true });
            reopen = false;
            const from = cur.from;
            if (from < (kept[0]?.index ?? from))
              throw new TwinError('changed', `twin ${owner} lost chunks this twin no longer holds`);
            this.events.publish({ type: 'transfer.resumed', id: transfer, chunk: from, attempt: resumes });
            for (const k of kept) if (k.index >= from) await send(k.data);
          }
          await step();
          return;
        } catch (e) {
          const broken = e instanceof NetworkError || (e instanceof TwinError && e.code === 'unreachable');
          if (!broken || resumes >= MAX_RESUMES) throw e;
          cur.s.abort();
          resumes++;
          reopen = true;
          await new Promise((r) =>
            setTimeout(r, Math.min(RESUME_WAIT_MS * 2 ** (resumes - 1), RESUME_MAX_WAIT_MS)),
          );
        }
      }
    };
    try {
      let sent = 0;
      let index = 0;
      const whole = createHash('sha256');
      for await (const chunk of rechunk(source)) {
        sent += chunk.length;
        whole.update(chunk);
        if (sent > size)
          throw new TwinError('bad_request', `the body is longer than its declared ${size} bytes`);
        const i = index++;
        kept.push({ index: i, data: chunk });
        if (kept.length > RESEND_CHUNKS) kept.shift();
        let first = true;
        await robust(async () => {
          if (!first) return; // a resume sent it again already
          first = false;
          await send(chunk);
        });
      }
      if (sent !== size)
        throw new TwinError('bad_request', `the body is ${sent} bytes, not the declared ${size}`);
      const trailer = { sha256: whole.digest('hex') };
      await robust(async () => {
        await writeJson(cur.s, trailer);
        await cur.s.end();
      });
      const done = await cur.r.json(PutAnswer);
      if (!done.ok) throw refused(owner, done);
      if (!done.entry) throw new TwinError('bad_reply', `twin ${owner} stored the file but did not say so`);
      return done.entry;
    } catch (e) {
      cur.s.abort();
      throw e instanceof NetworkError ? new TwinError('unreachable', e.message, { cause: e }) : e;
    }
  }

  private async openPut(
    owner: number,
    ask: z.infer<typeof PutAsk>,
  ): Promise<{ s: TwinStream; r: StreamReader; from: number }> {
    let s: TwinStream;
    try {
      s = await this.bus.openStream(owner, FILE_COMMANDS.put);
    } catch (e) {
      throw new TwinError('unreachable', `twin ${owner} could not be reached: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const r = new StreamReader(s);
    try {
      await writeJson(s, ask);
      const go = await r.json(PutAnswer);
      if (!go.ok) throw refused(owner, go);
      return { s, r, from: go.from ?? 0 };
    } catch (e) {
      s.abort();
      throw e instanceof NetworkError ? new TwinError('unreachable', e.message, { cause: e }) : e;
    }
  }
}
