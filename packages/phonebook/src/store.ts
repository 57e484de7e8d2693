/** The ledger on disk: one SQLite table of entries (WAL; every append committed before it is acknowledged). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LedgerEntry } from './types.ts';

interface Row {
  height: number;
  tx: string;
  signature: string;
  proof: string | null;
  prev: string;
  hash: string;
}

const toEntry = (r: Row): LedgerEntry => ({
  height: r.height,
  tx: r.tx,
  signature: r.signature,
  ...(r.proof ? { proof: r.proof } : {}),
  prev: r.prev,
  hash: r.hash,
});

/** The ledger's entries in SQLite: `open` by constructing, append, read ranges, `close()`. */
export class LedgerStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly range: Database.Statement;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'ledger.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS entries (
      height INTEGER PRIMARY KEY,
      tx TEXT NOT NULL,
      signature TEXT NOT NULL,
      proof TEXT,
      prev TEXT NOT NULL,
      hash TEXT NOT NULL
    )`);
    this.insert = this.db.prepare(
      'INSERT INTO entries (height, tx, signature, proof, prev, hash) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.range = this.db.prepare('SELECT * FROM entries WHERE height >= ? ORDER BY height LIMIT ?');
  }

  append(e: LedgerEntry): void {
    this.insert.run(e.height, e.tx, e.signature, e.proof ?? null, e.prev, e.hash);
  }

  entries(from: number, limit: number): LedgerEntry[] {
    return (this.range.all(from, limit) as Row[]).map(toEntry);
  }

  *all(): Generator<LedgerEntry> {
    for (const r of this.db.prepare('SELECT * FROM entries ORDER BY height').iterate() as Iterable<Row>)
      yield toEntry(r);
  }

  close(): void {
    this.db.close();
  }
}
