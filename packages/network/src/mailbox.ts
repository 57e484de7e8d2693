/**
 * The bus's durable state in one SQLite file (WAL):
 * - outbox: one-way messages this twin sends, kept (as their exact signed frames, so a retry is
 *   byte-identical) until acknowledged or expired. Each destination has a sender epoch (random,
 *   made when this outbox first writes to it) and sequence numbers 1, 2, 3 … within it;
 * - inbox: messages received, keyed by (sender, epoch, seq) and holding the digest of the signed
 *   bytes, so each is stored — and handed to the application — exactly once, even when the sender
 *   retransmits after a crash of either side, or lost its whole state and starts a new epoch.
 *
 * Why an epoch: a twin restored from its mnemonic onto a fresh home has a fresh outbox whose
 * sequence numbers start at 1 again. Keyed by (sender, seq) alone those would look like
 * duplicates of the messages sent before the restore and be acknowledged without being stored.
 * A fresh outbox draws a fresh random epoch, so its messages occupy new slots.
 *
 * What is a duplicate: a message whose slot (sender, epoch, seq) is already stored with the same
 * digest, i.e. the same signed bytes (a retry). The same slot with other bytes is a conflict —
 * the sender's outbox was rolled back (say, restored from a backup) and reuses numbers — and is
 * refused, never acknowledged: the sender moves those messages to a new epoch. A slot that is
 * not stored is stored, whatever was stored before or after it, so a message refused once
 * (transiently) and retried after later ones were stored is delivered, not mistaken for a
 * duplicate: there is no high-water mark.
 *
 * State a stranger can make this twin hold: the dedupe record of a message is its inbox row — the
 * message itself — and nothing else; epochs cost one row each in `epochs`, written only with a
 * stored message. A sender (who must be a registered twin, authenticated by its key) can fill an
 * inbox only with messages it signed, exactly as without epochs. The inbox must therefore keep a
 * row (at least slot, id and digest) for as long as its sender may retry it (the message's ttl,
 * at most a day); dropping payloads is fine, dropping rows earlier is not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type DeliveryStatus = 'queued' | 'delivered' | 'expired';

/** How long a write waits for another process (the daemon or a CLI) holding the database. */
export const MAILBOX_BUSY_TIMEOUT_MS = 5_000;

/** The epoch of messages from senders that predate epochs (and of inbox rows stored before them). */
export const LEGACY_EPOCH = '';

/** A new random sender epoch: 64 bits, hex. */
export function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

export interface OutboxMessage {
  id: string;
  to: number;
  epoch: string;
  seq: number;
  command: string;
  frame: Buffer;
  created: number;
  ttl: number;
  attempts: number;
}

export interface InboxMessage {
  from: number;
  /** The sender's epoch: a sender that lost its state starts a new one. */
  epoch: string;
  /** Position within the sender's epoch, from 1. */
  seq: number;
  id: string;
  command: string;
  payload: Buffer;
  received: number;
}

/** What `Mailbox.receive` did with a message. */
export type ReceiveOutcome = 'stored' | 'duplicate' | 'conflict';

/** Messages sealed for consecutive slots from (`epoch`, `seq`): the bus signs them. */
export type SealMany = (
  epoch: string,
  seq: number,
) => { id: string; command: string; frame: Buffer; created: number; ttl: number }[];

/** A message to (re)seal for a slot: the bus signs it. */
export type SealFor = (
  epoch: string,
  seq: number,
) => { id: string; command: string; frame: Buffer; created: number; ttl: number };

export class Mailbox {
  readonly db: Database.Database;
  private readonly q: Record<string, Database.Statement>;
  /** Transactions made once (better-sqlite3 builds a new wrapper on every `transaction()` call). */
  private readonly receiveTx: Mailbox['storeMessage'];
  private readonly enqueueTx: (dest: number, build: SealMany) => OutboxMessage[];

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${MAILBOX_BUSY_TIMEOUT_MS}`);
    this.db.transaction(() => this.migrate())();
    this.q = {
      sequence: this.db.prepare('SELECT epoch, next FROM sequences WHERE dest = ?'),
      setSequence: this.db.prepare(
        'INSERT INTO sequences (dest, epoch, next) VALUES (?, ?, ?) ON CONFLICT(dest) DO UPDATE SET epoch = excluded.epoch, next = excluded.next',
      ),
      enqueue: this.db.prepare(
        'INSERT INTO outbox (id, dest, epoch, seq, command, frame, created, ttl, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      queued: this.db.prepare(
        "SELECT id, dest AS 'to', epoch, seq, command, frame, created, ttl, attempts FROM outbox WHERE status = 'queued' AND dest = ? ORDER BY rowid LIMIT ?",
      ),
      reseal: this.db.prepare(
        "UPDATE outbox SET epoch = ?, seq = ?, frame = ?, updated = ? WHERE id = ? AND status = 'queued'",
      ),
      destinations: this.db.prepare("SELECT DISTINCT dest FROM outbox WHERE status = 'queued'"),
      // `+status`: look the ids up by the primary key; on `status` SQLite would pick the queue
      // index and scan every queued row for each batch marked
      mark: this.db.prepare(
        "UPDATE outbox SET status = ?, updated = ?, attempts = attempts + ? WHERE id IN (SELECT value FROM json_each(?)) AND +status = 'queued' RETURNING id",
      ),
      attempt: this.db.prepare(
        "UPDATE outbox SET attempts = attempts + 1, updated = ? WHERE dest = ? AND status = 'queued'",
      ),
      attemptSome: this.db.prepare(
        "UPDATE outbox SET attempts = attempts + 1, updated = ? WHERE id IN (SELECT value FROM json_each(?)) AND +status = 'queued'",
      ),
      status: this.db.prepare('SELECT status FROM outbox WHERE id = ?'),
      slot: this.db.prepare('SELECT id, digest FROM inbox WHERE sender = ? AND epoch = ? AND seq = ?'),
      epoch: this.db.prepare('INSERT OR IGNORE INTO epochs (sender, epoch, first) VALUES (?, ?, ?)'),
      store: this.db.prepare(
        'INSERT INTO inbox (sender, epoch, seq, id, digest, command, payload, received, head, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      envelope: this.db.prepare(
        'SELECT head, payload, signature FROM inbox WHERE sender = ? AND epoch = ? AND seq = ?',
      ),
      inbox: this.db.prepare(
        `SELECT i.sender AS 'from', i.epoch, i.seq, i.id, i.command, i.payload, i.received
           FROM inbox i JOIN epochs e ON e.sender = i.sender AND e.epoch = i.epoch
          WHERE i.sender = ? AND i.seq > ? ORDER BY e.ordinal, i.seq LIMIT ?`,
      ),
    };
    this.receiveTx = this.db.transaction((...a: Parameters<Mailbox['storeMessage']>) =>
      this.storeMessage(...a),
    );
    this.enqueueTx = this.db.transaction((dest: number, build: SealMany) => this.storeSealed(dest, build));
  }

  /** Creates the schema, or brings a mailbox written before sender epochs up to date. */
  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY, dest INTEGER NOT NULL, seq INTEGER NOT NULL, command TEXT NOT NULL,
        frame BLOB NOT NULL, created INTEGER NOT NULL, ttl INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'queued', updated INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS sequences (dest INTEGER PRIMARY KEY, next INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS epochs (
        ordinal INTEGER PRIMARY KEY AUTOINCREMENT, sender INTEGER NOT NULL, epoch TEXT NOT NULL,
        first INTEGER NOT NULL, UNIQUE (sender, epoch)
      );
    `);
    const columns = (table: string) =>
      (this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    if (!columns('outbox').includes('epoch')) {
      // Frames queued before epochs carry none: the receiver files them under the legacy epoch,
      // where its earlier copies of them are.
      this.db.exec(`ALTER TABLE outbox ADD COLUMN epoch TEXT NOT NULL DEFAULT '${LEGACY_EPOCH}'`);
      this.db.exec('DROP INDEX IF EXISTS outbox_queue');
    }
    this.db.exec('CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (status, dest)');
    if (!columns('sequences').includes('epoch')) {
      // New messages start a fresh epoch towards every destination.
      this.db.exec('DELETE FROM sequences');
      this.db.exec('ALTER TABLE sequences ADD COLUMN epoch TEXT NOT NULL');
    }
    const inbox = columns('inbox');
    if (inbox.length > 0 && !inbox.includes('epoch'))
      this.db.exec('ALTER TABLE inbox RENAME TO inbox_legacy');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS inbox (
        sender INTEGER NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
        digest BLOB, command TEXT NOT NULL, payload BLOB NOT NULL, received INTEGER NOT NULL,
        PRIMARY KEY (sender, epoch, seq)
      );
    `);
    if (!columns('inbox').includes('head')) {
      // The signed envelope, kept so a stored message can be verified again later.
      this.db.exec('ALTER TABLE inbox ADD COLUMN head BLOB');
      this.db.exec('ALTER TABLE inbox ADD COLUMN signature BLOB');
    }
    if (inbox.length > 0 && !inbox.includes('epoch')) {
      this.db.exec(`
        INSERT INTO inbox (sender, epoch, seq, id, digest, command, payload, received)
          SELECT sender, '${LEGACY_EPOCH}', seq, id, NULL, command, payload, received FROM inbox_legacy;
        INSERT OR IGNORE INTO epochs (sender, epoch, first)
          SELECT DISTINCT sender, '${LEGACY_EPOCH}', 0 FROM inbox_legacy;
        DROP TABLE inbox_legacy;
        DROP TABLE IF EXISTS senders;
      `);
    }
  }

  /** Takes the next slot (epoch, seq) towards `dest`, a fresh epoch if there is none yet. */
  private nextSlot(dest: number): { epoch: string; seq: number } {
    const slot = this.peekSlot(dest);
    this.q.setSequence!.run(dest, slot.epoch, slot.seq + 1);
    return slot;
  }

  /** The slot the next message towards `dest` would take (a fresh epoch if there is none yet). */
  private peekSlot(dest: number): { epoch: string; seq: number } {
    const row = this.q.sequence!.get(dest) as { epoch: string; next: number } | undefined;
    return row ? { epoch: row.epoch, seq: row.next } : { epoch: newEpoch(), seq: 1 };
  }

  /** Reserves the next slot towards `dest` and stores the frame sealed for it, atomically. */
  enqueue(dest: number, build: SealFor): OutboxMessage {
    return this.enqueueAll(dest, (epoch, seq) => [build(epoch, seq)])[0]!;
  }

  /**
   * Stores messages sealed together towards `dest`, atomically, with one read and one write of
   * the destination's sequence: `build` gets the epoch and the first free sequence number and
   * returns the messages sealed for consecutive slots from there (as many as it sealed).
   */
  enqueueAll(dest: number, build: SealMany): OutboxMessage[] {
    return this.enqueueTx(dest, build);
  }

  /** `enqueueAll`'s work, run inside its transaction. */
  private storeSealed(dest: number, build: SealMany): OutboxMessage[] {
    const { epoch, seq } = this.peekSlot(dest);
    const built = build(epoch, seq);
    const now = Date.now();
    const out = built.map((m, i) => {
      this.q.enqueue!.run(m.id, dest, epoch, seq + i, m.command, m.frame, m.created, m.ttl, now);
      return { ...m, to: dest, epoch, seq: seq + i, attempts: 0 };
    });
    if (out.length > 0) this.q.setSequence!.run(dest, epoch, seq + out.length);
    return out;
  }

  /**
   * Moves queued messages that the receiver refused as conflicting to a new epoch: this outbox's
   * slots towards `dest` collide with ones the receiver already holds (the outbox was rolled
   * back), so the epoch towards `dest` is replaced and each message resealed, in queue order, with
   * its id, command, payload and ttl unchanged. Returns how many were resealed.
   */
  reseal(
    dest: number,
    ids: string[],
    build: (m: OutboxMessage, epoch: string, seq: number) => Buffer,
  ): number {
    return this.db.transaction(() => {
      const wanted = new Set(ids);
      const messages = this.queued(dest, Number.MAX_SAFE_INTEGER).filter((m) => wanted.has(m.id));
      if (messages.length === 0) return 0;
      // The current epoch is the rolled-back one: later messages follow these into the new epoch.
      this.q.setSequence!.run(dest, newEpoch(), 1);
      let count = 0;
      for (const m of messages) {
        const { epoch, seq } = this.nextSlot(dest);
        count += this.q.reseal!.run(epoch, seq, build(m, epoch, seq), Date.now(), m.id).changes;
      }
      return count;
    })();
  }

  queued(dest: number, limit: number): OutboxMessage[] {
    return this.q.queued!.all(dest, limit) as OutboxMessage[];
  }

  destinations(): number[] {
    return (this.q.destinations!.all() as { dest: number }[]).map((r) => r.dest);
  }

  /**
   * Marks messages delivered or expired (only ones still queued); returns the ids that changed, in
   * the given order. `attempted`: the mark is the outcome of a delivery attempt, counted with it.
   */
  mark(ids: string[], status: Exclude<DeliveryStatus, 'queued'>, attempted = false): string[] {
    if (ids.length === 0) return [];
    const rows = this.q.mark!.all(status, Date.now(), attempted ? 1 : 0, JSON.stringify(ids)) as {
      id: string;
    }[];
    const changed = new Set(rows.map((r) => r.id));
    return ids.filter((id) => changed.has(id));
  }

  /**
   * Counts a delivery attempt of the given queued messages (or of every one queued towards a
   * destination). The bus counts an attempt with its outcome: a crash in between loses the count.
   */
  attempted(which: number | string[]): void {
    const now = Date.now();
    if (typeof which === 'number') this.q.attempt!.run(now, which);
    else if (which.length > 0) this.q.attemptSome!.run(now, JSON.stringify(which));
  }

  status(id: string): DeliveryStatus | null {
    return (this.q.status!.get(id) as { status: DeliveryStatus } | undefined)?.status ?? null;
  }

  /**
   * Stores a received message unless its slot (sender, epoch, seq) is already taken. `signed` is
   * the exact signed bytes of the envelope: a taken slot holding the same bytes is a duplicate
   * (acknowledge, don't deliver again); other bytes are a conflict (refuse). `deliver` runs inside
   * the same transaction: whatever it writes to this database commits with the message, exactly
   * once; if it throws, nothing is stored and the error propagates. With `signature`, the signed
   * envelope is kept too (see `envelope()`).
   */
  receive(
    m: InboxMessage,
    signed: Uint8Array,
    deliver?: (m: InboxMessage) => void,
    signature?: Uint8Array,
  ): ReceiveOutcome {
    const digest = createHash('sha256').update(signed).digest();
    return this.receiveTx(m, signed, digest, deliver, signature);
  }

  /** `receive`'s work, run inside its transaction (a savepoint when one is open). */
  private storeMessage(
    m: InboxMessage,
    signed: Uint8Array,
    digest: Buffer,
    deliver: ((m: InboxMessage) => void) | undefined,
    signature: Uint8Array | undefined,
  ): ReceiveOutcome {
    const taken = this.q.slot!.get(m.from, m.epoch, m.seq) as
      | { id: string; digest: Buffer | null }
      | undefined;
    if (taken) {
      const same = taken.digest ? digest.equals(taken.digest) : taken.id === m.id;
      return same ? 'duplicate' : 'conflict';
    }
    this.q.epoch!.run(m.from, m.epoch, m.received);
    const head = signature ? signed.subarray(0, signed.length - m.payload.length) : null;
    this.q.store!.run(
      m.from,
      m.epoch,
      m.seq,
      m.id,
      digest,
      m.command,
      m.payload,
      m.received,
      head,
      signature ?? null,
    );
    deliver?.(m);
    return 'stored';
  }

  /**
   * The signed envelope (frame) of a stored message, as its sender signed it: anyone can verify
   * it against the sender's key long after the connection it came on is gone. Null when the
   * message is not stored or was stored without its signature (before signatures were kept).
   */
  envelope(from: number, epoch: string, seq: number): Buffer | null {
    const row = this.q.envelope!.get(from, epoch, seq) as
      | { head: Buffer | null; payload: Buffer; signature: Buffer | null }
      | undefined;
    return row?.head && row.signature ? Buffer.concat([row.head, row.payload, row.signature]) : null;
  }

  /**
   * Messages received from `from`, epoch by epoch (in the order their first message arrived), each
   * in sequence order; `afterSeq` skips the first sequence numbers of every epoch.
   */
  inbox(from: number, afterSeq = 0, limit = 1000): InboxMessage[] {
    return this.q.inbox!.all(from, afterSeq, limit) as InboxMessage[];
  }

  close(): void {
    this.db.close();
  }
}
