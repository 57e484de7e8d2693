/**
 * The experiences' store: one SQLite database in the twin's home (`experiences.sqlite`, WAL)
 * holding contacts, contact requests, blocked twins, the profile's BCDB ids and chat messages with
 * their full-text index (FTS5). It is synchronous on purpose: the bus runs a one-way message's
 * handler inside the inbox transaction, so what the handler writes here is written before the
 * message is acknowledged, and a message the store refuses (the handler throws) is not
 * acknowledged and not kept in the inbox either. Writes are idempotent by message id, so a crash
 * between this store's commit and the inbox's commit cannot apply a message twice.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';

export function experiencesPath(home: string): string {
  return join(home, 'experiences.sqlite');
}

export class ExperienceStore {
  readonly db: Database.Database;

  private constructor(path: string) {
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
      CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(text, content='messages', content_rowid='seq');
      CREATE TRIGGER IF NOT EXISTS messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
      END;
      CREATE TRIGGER IF NOT EXISTS messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
      END;
      CREATE TRIGGER IF NOT EXISTS messages_au AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
      END;
    `);
  }

  static open(path: string): ExperienceStore {
    return new ExperienceStore(path);
  }

  get(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  put(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
