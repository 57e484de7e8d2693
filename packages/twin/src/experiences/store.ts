/**
 * The experiences' store: one SQLite database in the twin's home (`experiences.sqlite`, WAL)
 * holding contacts, contact requests, blocked twins, the profile's BCDB ids, groups and chat
 * messages with their full-text index (FTS5). Texts are sealed at rest and the index holds keyed
 * tokens, not words (vault.ts). It is synchronous on purpose: the bus runs a one-way message's
 * handler inside the inbox transaction, so what the handler writes here is written before the
 * message is acknowledged, and a message the store refuses (the handler throws) is not
 * acknowledged and not kept in the inbox either. Writes are idempotent by message id, so a crash
 * between this store's commit and the inbox's commit cannot apply a message twice.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Attachment } from './protocol.ts';
import { Vault } from './vault.ts';

export function experiencesPath(home: string): string {
  return join(home, 'experiences.sqlite');
}

export class ExperienceStore {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    path: string,
    /** Seals texts at rest and makes the search index's keyed tokens. */
    readonly vault: Vault,
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS contacts (
        twin INTEGER PRIMARY KEY, name TEXT NOT NULL, since INTEGER NOT NULL,
        profile TEXT, last_seen INTEGER
      );
      CREATE TABLE IF NOT EXISTS requests (
        twin INTEGER NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        name TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (twin, direction)
      );
      CREATE TABLE IF NOT EXISTS blocked (twin INTEGER PRIMARY KEY, name TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS groups (id TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS group_deliveries (bus_id TEXT PRIMARY KEY, message TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        chat TEXT NOT NULL,
        author INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        text TEXT NOT NULL,
        reply_to TEXT,
        edited INTEGER,
        deleted INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        bus_id TEXT,
        reactions TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX IF NOT EXISTS messages_by_chat ON messages (chat, seq);
      CREATE INDEX IF NOT EXISTS messages_by_bus_id ON messages (bus_id);
      CREATE INDEX IF NOT EXISTS messages_unread ON messages (chat, state);
      CREATE TABLE IF NOT EXISTS message_files (file TEXT NOT NULL, chat TEXT NOT NULL, message TEXT NOT NULL,
        PRIMARY KEY (file, message));
      CREATE INDEX IF NOT EXISTS message_files_by_chat ON message_files (chat);
      CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(tokens, content='', contentless_delete=1);
    `);
    this.migrate();
  }

  /** Adds the columns later versions need to a store an earlier version made. */
  private migrate(): void {
    const columns = (this.db.pragma('table_info(messages)') as { name: string }[]).map((c) => c.name);
    if (!columns.includes('attachments')) this.db.exec('ALTER TABLE messages ADD COLUMN attachments TEXT');
  }

  static open(path: string, vault: Vault): ExperienceStore {
    return new ExperienceStore(path, vault);
  }

  /** Stores a message (its text sealed, its words indexed as keyed tokens); false when its id is known. */
  insertMessage(m: {
    id: string;
    chat: string;
    author: number;
    sent: number;
    text: string;
    replyTo: string | null;
    state: string;
    /** Files the message carries (sealed at rest; their ids indexed for the chat's ACL). */
    attachments?: Attachment[];
  }): boolean {
    const files = m.attachments?.length ? this.vault.seal(JSON.stringify(m.attachments)) : null;
    const r = this.sql(
      'INSERT INTO messages (id, chat, author, sent, text, reply_to, state, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
    ).run(m.id, m.chat, m.author, m.sent, this.vault.seal(m.text), m.replyTo, m.state, files);
    if (r.changes === 0) return false;
    for (const a of m.attachments ?? [])
      this.sql('INSERT OR IGNORE INTO message_files (file, chat, message) VALUES (?, ?, ?)').run(
        a.file,
        m.chat,
        m.id,
      );
    this.index(Number(r.lastInsertRowid), m.text);
    return true;
  }

  /** Replaces a message's text (an edit, or '' when deleted for everyone). */
  setText(id: string, text: string, change: { edited?: number; deleted?: boolean }): void {
    const row = this.sql('SELECT seq FROM messages WHERE id = ?').get(id) as { seq: number } | undefined;
    if (!row) return;
    if (change.deleted) {
      this.sql(
        "UPDATE messages SET text = '', deleted = 1, reactions = '{}', attachments = NULL WHERE seq = ?",
      ).run(row.seq);
      this.sql('DELETE FROM message_files WHERE message = ?').run(id);
    } else
      this.sql('UPDATE messages SET text = ?, edited = ? WHERE seq = ?').run(
        this.vault.seal(text),
        change.edited ?? Date.now(),
        row.seq,
      );
    this.sql('DELETE FROM messages_fts WHERE rowid = ?').run(row.seq);
    if (!change.deleted) this.index(row.seq, text);
  }

  private index(seq: number, text: string): void {
    const tokens = this.vault.tokens(text);
    if (tokens) this.sql('INSERT INTO messages_fts (rowid, tokens) VALUES (?, ?)').run(seq, tokens);
  }

  /** Seqs of messages holding every word of `query`, newest first. */
  search(query: string, limit: number): number[] {
    const words = Vault.words(query);
    if (words.length === 0) return [];
    const match = words.map((w) => `"${this.vault.token(w)}"`).join(' ');
    return (
      this.sql('SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?').all(
        match,
        limit,
      ) as { rowid: number }[]
    ).map((r) => r.rowid);
  }

  /** Chats in which this twin (`self`) sent a message carrying `file`. */
  chatsSharing(file: string, self: number): string[] {
    return (
      this.sql(
        'SELECT DISTINCT mf.chat FROM message_files mf JOIN messages m ON m.id = mf.message WHERE mf.file = ? AND m.author = ?',
      ).all(file, self) as { chat: string }[]
    ).map((r) => r.chat);
  }

  /** Whether a message in `chat` by `author` carries `file`. */
  carries(chat: string, author: number, file: string): boolean {
    return (
      this.sql(
        'SELECT 1 FROM message_files mf JOIN messages m ON m.id = mf.message WHERE mf.file = ? AND mf.chat = ? AND m.author = ?',
      ).get(file, chat, author) !== undefined
    );
  }

  /** A prepared statement, compiled once per SQL text. */
  sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  get(key: string): string | undefined {
    return (this.sql('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  put(key: string, value: string): void {
    this.sql(
      'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
