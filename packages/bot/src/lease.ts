/**
 * The 3Bot's lease: at most one running 3Bot acts for a twin home at a time. An exclusive lock
 * on an SQLite file (`<home>/bot/lease`) held for the life of the process: the operating system
 * drops it when the process dies, so a crashed 3Bot never leaves a stale lease behind.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BotError } from './errors.ts';

export class BotLease {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lease at `file`; throws BotError `lease_held` when another 3Bot holds it. */
  static acquire(file: string): BotLease {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lease (pid INTEGER); COMMIT');
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY')
        throw new BotError('lease_held', `another 3Bot is running for this twin (it holds ${file})`);
      throw e;
    }
    return new BotLease(db);
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}
