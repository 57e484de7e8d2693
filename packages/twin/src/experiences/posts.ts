/**
 * Posts: text with images, a feed of this twin's posts and its contacts', likes, comments and
 * replies to comments.
 *
 * A post lives on its author's twin, with its likes and comments. Contacts pull them
 * (`posts.list`, a bus request the author answers only for a contact that is not blocked) and
 * keep a sealed copy, so the feed opens offline with what was last pulled. Likes and comments are
 * one-way bus messages to the author (exactly once, even while the author is offline; a comment's
 * text sealed to the author's key, so no outbox holds it in the clear); the author applies them
 * from contacts only. A post's images are files of the author's; a contact may fetch an image of
 * a post (transfer.ts asks `mayRead`). A new post and a deleted one are announced to contacts by
 * one-way notices carrying only the post's id; their next pull brings the rest.
 */
import { randomBytes } from 'node:crypto';
import type { InboxMessage, TwinBus } from '@twin/network';
import { z } from 'zod';
import { TwinError } from '../errors.ts';
import type { Contacts } from './contacts.ts';
import type { EventHub } from './events.ts';
import type { Files } from './files.ts';
import { encode, parsePayload } from './protocol.ts';
import type { Sealer } from './sealer.ts';
import type { ExperienceStore } from './store.ts';

export const POST_COMMANDS = {
  list: 'posts.list', // request: the author's posts as the asking contact sees them
  like: 'posts.like', // one-way, to the author
  comment: 'posts.comment', // one-way, to the author (sealed)
  created: 'posts.created', // one-way notice to contacts: {id}
  deleted: 'posts.deleted', // one-way notice to contacts: {id}
} as const;

/** Longest post text and comment text (characters). */
export const MAX_POST_TEXT = 10_000;
export const MAX_COMMENT_TEXT = 2_000;
/** Images on one post. */
export const MAX_POST_IMAGES = 10;
/** Posts an author hands out per pull, newest first. */
export const MAX_PULL = 100;
/** Comments of each post a pull carries (the latest), and the bytes a pull answers at most. */
export const MAX_PULL_COMMENTS = 200;
export const PULL_BYTES = 2 * 1024 * 1024;
/** Comments kept per post. */
export const MAX_COMMENTS = 1_000;
/** How long the feed waits for a contact's twin before showing its cached posts. */
export const FEED_PULL_TIMEOUT_MS = 3_000;

const postId = z.string().regex(/^[0-9a-f]{24}$/);
const Image = z.strictObject({ file: postId, name: z.string().max(1024), mime: z.string().max(255) });
const Comment = z.strictObject({
  id: postId,
  author: z.number().int().positive(),
  authorName: z.string().max(64),
  text: z.string().max(MAX_COMMENT_TEXT),
  created: z.number().int().nonnegative(),
  replyTo: postId.optional(),
});
const Post = z.strictObject({
  id: postId,
  author: z.number().int().positive(),
  authorName: z.string().max(64),
  text: z.string().max(MAX_POST_TEXT),
  images: z.array(Image).max(MAX_POST_IMAGES),
  created: z.number().int().nonnegative(),
  likes: z.strictObject({ count: z.number().int().nonnegative(), mine: z.boolean() }),
  comments: z.array(Comment).max(MAX_COMMENTS),
});
export type Post = z.infer<typeof Post>;
export type PostComment = z.infer<typeof Comment>;

const ListAnswer = z.union([
  z.strictObject({ ok: z.literal(true), posts: z.array(Post).max(MAX_PULL) }),
  z.strictObject({ ok: z.literal(false), code: z.string().max(64), message: z.string().max(1000) }),
]);
const Like = z.strictObject({ id: postId, on: z.boolean() });
const CommentIn = z.strictObject({
  id: postId,
  comment: postId,
  text: z.string().min(1).max(MAX_COMMENT_TEXT),
  replyTo: postId.nullable(),
  created: z.number().int().nonnegative(),
});
const Notice = z.strictObject({ id: postId });

interface OwnBody {
  text: string;
  images: z.infer<typeof Image>[];
}

const newId = () => randomBytes(12).toString('hex');

export class Posts {
  constructor(
    private readonly store: ExperienceStore,
    private readonly bus: TwinBus,
    private readonly contacts: Contacts,
    private readonly files: Files,
    private readonly events: EventHub,
    private readonly sealer: Sealer,
    private readonly self: number,
    private readonly selfName: string,
  ) {
    store.db.exec(`
      CREATE TABLE IF NOT EXISTS posts (
        author INTEGER NOT NULL, id TEXT NOT NULL, created INTEGER NOT NULL,
        body TEXT NOT NULL, fetched INTEGER,
        PRIMARY KEY (author, id)
      );
      CREATE INDEX IF NOT EXISTS posts_by_created ON posts (created);
      CREATE TABLE IF NOT EXISTS post_images (file TEXT NOT NULL, post TEXT NOT NULL, PRIMARY KEY (file, post));
      CREATE TABLE IF NOT EXISTS post_likes (post TEXT NOT NULL, twin INTEGER NOT NULL, PRIMARY KEY (post, twin));
      CREATE TABLE IF NOT EXISTS post_comments (
        id TEXT PRIMARY KEY, post TEXT NOT NULL, author INTEGER NOT NULL,
        text TEXT NOT NULL, reply_to TEXT, created INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS post_comments_by_post ON post_comments (post, created);
    `);
  }

  /** Registers the bus handlers; call before the bus starts. */
  serve(): void {
    this.bus.handle(POST_COMMANDS.list, (_payload, { from }) => {
      if (!this.contacts.isContact(from) || this.contacts.isBlocked(from))
        return encode({ ok: false, code: 'denied', message: 'posts are shown to contacts only' });
      // newest first, the latest comments of each, within PULL_BYTES (an envelope holds 4 MiB)
      const posts: Post[] = [];
      let bytes = 0;
      for (const p of this.own(from, undefined, MAX_PULL)) {
        const q = { ...p, comments: p.comments.slice(-MAX_PULL_COMMENTS) };
        bytes += Buffer.byteLength(JSON.stringify(q));
        if (bytes > PULL_BYTES) break;
        posts.push(q);
      }
      return encode({ ok: true, posts });
    });
    this.bus.onMessage(POST_COMMANDS.like, (m) => {
      if (!this.fromContact(m)) return;
      const p = parsePayload(Like, m.payload);
      if (!this.ownPost(p.id)) return;
      if (p.on)
        this.store.sql('INSERT OR IGNORE INTO post_likes (post, twin) VALUES (?, ?)').run(p.id, m.from);
      else this.store.sql('DELETE FROM post_likes WHERE post = ? AND twin = ?').run(p.id, m.from);
      this.events.publish({ type: 'post.liked', author: this.self, id: p.id, twin: m.from, on: p.on });
    });
    this.bus.onMessage(POST_COMMANDS.comment, (m) => {
      if (!this.fromContact(m)) return;
      const p = this.sealer.open(CommentIn, m.payload);
      if (!this.ownPost(p.id)) return;
      this.addComment(p.id, p.comment, m.from, p.text, p.replyTo, p.created);
    });
    this.bus.onMessage(POST_COMMANDS.created, (m) => {
      if (!this.fromContact(m)) return;
      const p = parsePayload(Notice, m.payload);
      this.events.publish({ type: 'post.created', author: m.from, id: p.id });
    });
    this.bus.onMessage(POST_COMMANDS.deleted, (m) => {
      if (!this.fromContact(m)) return;
      const p = parsePayload(Notice, m.payload);
      this.store.sql('DELETE FROM posts WHERE author = ? AND id = ?').run(m.from, p.id);
      this.events.publish({ type: 'post.deleted', author: m.from, id: p.id });
    });
    this.contacts.onChange((twin, isContact) => {
      if (!isContact) this.store.sql('DELETE FROM posts WHERE author = ?').run(twin);
    });
  }

  /** A one-way message from a contact (a blocked twin's and a stranger's are dropped, acknowledged). */
  private fromContact(m: InboxMessage): boolean {
    return this.contacts.isContact(m.from) && !this.contacts.isBlocked(m.from);
  }

  private ownPost(id: string): boolean {
    return this.store.sql('SELECT 1 FROM posts WHERE author = ? AND id = ?').get(this.self, id) !== undefined;
  }

  private addComment(
    post: string,
    id: string,
    author: number,
    text: string,
    replyTo: string | null,
    created: number,
  ): void {
    const count = (
      this.store.sql('SELECT count(*) AS n FROM post_comments WHERE post = ?').get(post) as { n: number }
    ).n;
    if (count >= MAX_COMMENTS) return;
    if (
      replyTo !== null &&
      !this.store.sql('SELECT 1 FROM post_comments WHERE id = ? AND post = ?').get(replyTo, post)
    )
      replyTo = null;
    const r = this.store
      .sql(
        'INSERT OR IGNORE INTO post_comments (id, post, author, text, reply_to, created) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(id, post, author, this.store.vault.seal(text), replyTo, created);
    if (r.changes)
      this.events.publish({ type: 'post.commented', author: this.self, id: post, comment: id, twin: author });
  }

  private nameOf(twin: number, names: Map<number, string>): string {
    return twin === this.self ? this.selfName : (names.get(twin) ?? String(twin));
  }

  /** This twin's posts as `viewer` sees them (likes' `mine` is the viewer's). */
  private own(viewer: number, before: number | undefined, limit: number): Post[] {
    const names = new Map(this.contacts.list().map((c) => [c.twin, c.name]));
    const rows = this.store
      .sql(
        'SELECT id, created, body FROM posts WHERE author = ? AND created < ? ORDER BY created DESC LIMIT ?',
      )
      .all(this.self, before ?? Number.MAX_SAFE_INTEGER, limit) as {
      id: string;
      created: number;
      body: string;
    }[];
    return rows.map((r) => {
      const body = JSON.parse(this.store.vault.open(r.body)) as OwnBody;
      const likes = this.store.sql('SELECT twin FROM post_likes WHERE post = ?').all(r.id) as {
        twin: number;
      }[];
      const comments = this.store
        .sql('SELECT * FROM post_comments WHERE post = ? ORDER BY created, id')
        .all(r.id) as {
        id: string;
        author: number;
        text: string;
        reply_to: string | null;
        created: number;
      }[];
      return {
        id: r.id,
        author: this.self,
        authorName: this.selfName,
        text: body.text,
        images: body.images,
        created: r.created,
        likes: { count: likes.length, mine: likes.some((l) => l.twin === viewer) },
        comments: comments.map((c) => ({
          id: c.id,
          author: c.author,
          authorName: this.nameOf(c.author, names),
          text: this.store.vault.open(c.text),
          created: c.created,
          ...(c.reply_to ? { replyTo: c.reply_to } : {}),
        })),
      };
    });
  }

  /** `POST /api/posts`: images are this twin's own files (ids). */
  async create(text: string, images: { file: string }[] = []): Promise<Post> {
    if (text.length > MAX_POST_TEXT)
      throw new TwinError('too_large', `a post holds ${MAX_POST_TEXT} characters at most`);
    if (text.trim() === '' && images.length === 0)
      throw new TwinError('bad_request', 'a post needs text or an image');
    const imgs = images.map(({ file }) => {
      const e = this.files.get(file);
      if (e.kind !== 'file' || !e.mime.startsWith('image/'))
        throw new TwinError('bad_request', `${file} is not an image (${e.mime})`);
      return { file, name: e.name, mime: e.mime };
    });
    const id = newId();
    const created = Date.now();
    this.store.db.transaction(() => {
      this.store
        .sql('INSERT INTO posts (author, id, created, body) VALUES (?, ?, ?, ?)')
        .run(
          this.self,
          id,
          created,
          this.store.vault.seal(JSON.stringify({ text, images: imgs } satisfies OwnBody)),
        );
      for (const i of imgs)
        this.store.sql('INSERT OR IGNORE INTO post_images (file, post) VALUES (?, ?)').run(i.file, id);
    })();
    this.events.publish({ type: 'post.created', author: this.self, id });
    for (const c of this.contacts.list()) await this.bus.send(c.twin, POST_COMMANDS.created, encode({ id }));
    return this.own(this.self, created + 1, 1)[0]!;
  }

  /** Deletes one of this twin's posts with its likes and comments; contacts are told. */
  async delete(id: string): Promise<void> {
    if (!this.ownPost(id)) throw new TwinError('not_found', `no post ${id} of this twin`);
    this.store.db.transaction(() => {
      this.store.sql('DELETE FROM posts WHERE author = ? AND id = ?').run(this.self, id);
      this.store.sql('DELETE FROM post_images WHERE post = ?').run(id);
      this.store.sql('DELETE FROM post_likes WHERE post = ?').run(id);
      this.store.sql('DELETE FROM post_comments WHERE post = ?').run(id);
    })();
    this.events.publish({ type: 'post.deleted', author: this.self, id });
    for (const c of this.contacts.list()) await this.bus.send(c.twin, POST_COMMANDS.deleted, encode({ id }));
  }

  /** May `twin` fetch file `file` as an image of one of this twin's posts? */
  mayRead(twin: number, file: string): boolean {
    if (!this.contacts.isContact(twin)) return false;
    return this.store.sql('SELECT 1 FROM post_images WHERE file = ?').get(file) !== undefined;
  }

  /** Pulls one contact's posts into the cache; false when it did not answer. */
  private async pull(twin: number): Promise<boolean> {
    let reply: Buffer;
    try {
      reply = await this.bus.request(twin, POST_COMMANDS.list, encode({}), {
        timeoutMs: FEED_PULL_TIMEOUT_MS,
      });
    } catch {
      return false;
    }
    let a: z.infer<typeof ListAnswer>;
    try {
      a = parsePayload(ListAnswer, reply);
    } catch {
      return false;
    }
    if (!a.ok) return false;
    const now = Date.now();
    this.store.db.transaction(() => {
      this.store.sql('DELETE FROM posts WHERE author = ?').run(twin);
      for (const p of a.posts) {
        if (p.author !== twin) continue; // a twin speaks for its own posts only
        this.store
          .sql('INSERT OR REPLACE INTO posts (author, id, created, body, fetched) VALUES (?, ?, ?, ?, ?)')
          .run(twin, p.id, p.created, this.store.vault.seal(JSON.stringify(p)), now);
      }
    })();
    return true;
  }

  /**
   * `GET /api/posts/feed`: this twin's posts and its contacts' (pulled fresh unless `cached`;
   * contacts that do not answer show what was pulled last), newest first; `next` is the cursor
   * of the next page.
   */
  async feed(o: { before?: number; limit?: number; cached?: boolean } = {}): Promise<{
    posts: Post[];
    next?: number;
    stale: number[];
  }> {
    const limit = Math.min(Math.max(1, o.limit ?? 20), 100);
    const stale: number[] = [];
    const contacts = this.contacts.list().filter((c) => !this.contacts.isBlocked(c.twin));
    if (!o.cached && o.before === undefined)
      await Promise.all(
        contacts.map(async (c) => {
          if (!(await this.pull(c.twin))) stale.push(c.twin);
        }),
      );
    const allowed = new Set([this.self, ...contacts.map((c) => c.twin)]);
    const rows = this.store
      .sql(
        'SELECT author, id, created, body FROM posts WHERE created < ? ORDER BY created DESC, id DESC LIMIT ?',
      )
      .all(o.before ?? Number.MAX_SAFE_INTEGER, limit * 4 + 16) as {
      author: number;
      id: string;
      created: number;
      body: string;
    }[];
    const posts: Post[] = [];
    for (const r of rows) {
      if (!allowed.has(r.author)) continue;
      if (r.author === this.self)
        posts.push(...this.own(this.self, r.created + 1, 50).filter((p) => p.id === r.id));
      else posts.push(JSON.parse(this.store.vault.open(r.body)) as Post);
      if (posts.length >= limit) break;
    }
    const last = posts[posts.length - 1];
    return {
      posts,
      ...(posts.length === limit && last ? { next: last.created } : {}),
      stale: stale.sort((a, b) => a - b),
    };
  }

  /** The post as this twin has it (own, or the cached copy). */
  private post(author: number, id: string): Post {
    if (author === this.self) {
      const row = this.store.sql('SELECT created FROM posts WHERE author = ? AND id = ?').get(author, id) as
        | { created: number }
        | undefined;
      const p = row && this.own(this.self, row.created + 1, 50).find((x) => x.id === id);
      if (!p) throw new TwinError('not_found', `no post ${id}`);
      return p;
    }
    const row = this.store.sql('SELECT body FROM posts WHERE author = ? AND id = ?').get(author, id) as
      | { body: string }
      | undefined;
    if (!row) throw new TwinError('not_found', `no post ${id} of twin ${author} (open the feed first)`);
    return JSON.parse(this.store.vault.open(row.body)) as Post;
  }

  private recache(author: number, p: Post): void {
    this.store
      .sql('UPDATE posts SET body = ? WHERE author = ? AND id = ?')
      .run(this.store.vault.seal(JSON.stringify(p)), author, p.id);
  }

  /** Likes (or takes back the like of) a post; another twin's post: sent to it (queued while it is offline). */
  async like(author: number, id: string, on: boolean): Promise<Post['likes']> {
    const p = this.post(author, id);
    if (author === this.self) {
      if (on)
        this.store.sql('INSERT OR IGNORE INTO post_likes (post, twin) VALUES (?, ?)').run(id, this.self);
      else this.store.sql('DELETE FROM post_likes WHERE post = ? AND twin = ?').run(id, this.self);
      this.events.publish({ type: 'post.liked', author, id, twin: this.self, on });
      return this.post(author, id).likes;
    }
    if (!this.contacts.isContact(author))
      throw new TwinError('not_contact', `twin ${author} is not a contact`);
    await this.bus.send(author, POST_COMMANDS.like, encode({ id, on }));
    if (p.likes.mine !== on) {
      p.likes = { count: Math.max(0, p.likes.count + (on ? 1 : -1)), mine: on };
      this.recache(author, p);
    }
    return p.likes;
  }

  /** Comments on a post (a reply when `replyTo` names a comment of it). */
  async comment(author: number, id: string, text: string, replyTo: string | null): Promise<PostComment> {
    if (text.trim() === '' || text.length > MAX_COMMENT_TEXT)
      throw new TwinError('too_large', `a comment holds 1 to ${MAX_COMMENT_TEXT} characters`);
    const p = this.post(author, id);
    if (replyTo !== null && !p.comments.some((c) => c.id === replyTo))
      throw new TwinError('not_found', `no comment ${replyTo} on this post`);
    const comment: PostComment = {
      id: newId(),
      author: this.self,
      authorName: this.selfName,
      text,
      created: Date.now(),
      ...(replyTo ? { replyTo } : {}),
    };
    if (author === this.self) {
      this.addComment(id, comment.id, this.self, text, replyTo, comment.created);
      return comment;
    }
    if (!this.contacts.isContact(author))
      throw new TwinError('not_contact', `twin ${author} is not a contact`);
    const payload = { id, comment: comment.id, text, replyTo, created: comment.created };
    await this.bus.send(author, POST_COMMANDS.comment, await this.sealer.seal(author, payload));
    p.comments.push(comment);
    this.recache(author, p);
    return comment;
  }

  /** The image `file` of a post: its owner and whether it is this twin's own. */
  image(author: number, id: string, file: string): { own: boolean } {
    const p = this.post(author, id);
    if (!p.images.some((i) => i.file === file))
      throw new TwinError('not_found', `no image ${file} on this post`);
    return { own: author === this.self };
  }
}
