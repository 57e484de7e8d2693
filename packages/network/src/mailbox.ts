/**
 * The bus's durable state in one SQLite file (WAL):
 * - outbox: one-way messages this twin sends, kept (as their exact signed frames, so a retry is
 *   byte-identical) until acknowledged or expired, with per-destination sequence numbers;
 * - inbox: messages received, keyed by (sender, seq), so each is stored — and handed to the
 *   application — exactly once, even when the sender retransmits after a crash of either side.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type DeliveryStatus = 'queued' | 'delivered' | 'expired';

export interface OutboxMessage {
  id: string;
  to: number;
  seq: number;
  command: string;
  frame: Buffer;
  created: number;
  ttl: number;
  attempts: number;
}

export interface InboxMessage {
  from: number;
  seq: number;
  id: string;
  command: string;
  payload: Buffer;
  received: number;
}

export class Mailbox {
  readonly db: Database.Database;
  private readonly q: Record<string, Database.Statement>;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY, dest INTEGER NOT NULL, seq INTEGER NOT NULL, command TEXT NOT NULL,
        frame BLOB NOT NULL, created INTEGER NOT NULL, ttl INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'queued', updated INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (status, dest, seq);
      CREATE TABLE IF NOT EXISTS sequences (dest INTEGER PRIMARY KEY, next INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS inbox (
        sender INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, command TEXT NOT NULL,
        payload BLOB NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (sender, seq)
      );
      CREATE TABLE IF NOT EXISTS senders (sender INTEGER PRIMARY KEY, last INTEGER NOT NULL);
    `);
    this.q = {
      nextSeq: this.db.prepare(
        'INSERT INTO sequences (dest, next) VALUES (?, 2) ON CONFLICT(dest) DO UPDATE SET next = next + 1 RETURNING next - 1 AS seq',
      ),
      enqueue: this.db.prepare(
        'INSERT INTO outbox (id, dest, seq, command, frame, created, ttl, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      queued: this.db.prepare(
        "SELECT id, dest AS 'to', seq, command, frame, created, ttl, attempts FROM outbox WHERE status = 'queued' AND dest = ? ORDER BY seq LIMIT ?",
      ),
      destinations: this.db.prepare("SELECT DISTINCT dest FROM outbox WHERE status = 'queued'"),
      mark: this.db.prepare("UPDATE outbox SET status = ?, updated = ? WHERE id = ? AND status = 'queued'"),
      attempt: this.db.prepare(
        "UPDATE outbox SET attempts = attempts + 1, updated = ? WHERE dest = ? AND status = 'queued'",
      ),
      status: this.db.prepare('SELECT status FROM outbox WHERE id = ?'),
      last: this.db.prepare('SELECT last FROM senders WHERE sender = ?'),
      setLast: this.db.prepare(
        'INSERT INTO senders (sender, last) VALUES (?, ?) ON CONFLICT(sender) DO UPDATE SET last = excluded.last',
      ),
      store: this.db.prepare(
        'INSERT INTO inbox (sender, seq, id, command, payload, received) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      inbox: this.db.prepare(
        "SELECT sender AS 'from', seq, id, command, payload, received FROM inbox WHERE sender = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
    };
  }

  /** Reserves the next sequence number towards `dest` and stores the frame built for it, atomically. */
  enqueue(
    dest: number,
    build: (seq: number) => { id: string; command: string; frame: Buffer; created: number; ttl: number },
  ): OutboxMessage {
    return this.db.transaction(() => {
      const { seq } = this.q.nextSeq!.get(dest) as { seq: number };
      const m = build(seq);
      this.q.enqueue!.run(m.id, dest, seq, m.command, m.frame, m.created, m.ttl, Date.now());
      return { ...m, to: dest, seq, attempts: 0 };
    })();
  }

  queued(dest: number, limit: number): OutboxMessage[] {
    return this.q.queued!.all(dest, limit) as OutboxMessage[];
  }

  destinations(): number[] {
    return (this.q.destinations!.all() as { dest: number }[]).map((r) => r.dest);
  }

  /** Marks messages delivered or expired (only ones still queued); returns the ids that changed. */
  mark(ids: string[], status: Exclude<DeliveryStatus, 'queued'>): string[] {
    const now = Date.now();
    return this.db.transaction(() => ids.filter((id) => this.q.mark!.run(status, now, id).changes === 1))();
  }

  attempted(dest: number): void {
    this.q.attempt!.run(Date.now(), dest);
  }

  status(id: string): DeliveryStatus | null {
    return (this.q.status!.get(id) as { status: DeliveryStatus } | undefined)?.status ?? null;
  }

  /**
   * Stores a received message unless it is a duplicate (seq at or below the last one stored from
   * that sender). `deliver` runs inside the same transaction: whatever it writes to this database
   * commits with the message, exactly once. Returns false for a duplicate.
   */
  receive(m: InboxMessage, deliver?: (m: InboxMessage) => void): boolean {
    return this.db.transaction(() => {
      const last = (this.q.last!.get(m.from) as { last: number } | undefined)?.last ?? 0;
      if (m.seq <= last) return false;
      this.q.store!.run(m.from, m.seq, m.id, m.command, m.payload, m.received);
      this.q.setLast!.run(m.from, m.seq);
      deliver?.(m);
      return true;
    })();
  }

  inbox(from: number, afterSeq = 0, limit = 1000): InboxMessage[] {
    return this.q.inbox!.all(from, afterSeq, limit) as InboxMessage[];
  }

  close(): void {
    this.db.close();
  }
}
