/**
 * One process per data directory: a zdb holds `zdb.lock` in its data and index directories for
 * as long as it runs, and a second one (another process, or another server in this process) is
 * refused instead of appending to the same files. The lock is the operating system's (an SQLite
 * database in exclusive locking mode, i.e. a POSIX record lock on the file): it ends with the
 * process that holds it, so a crashed zdb never blocks its restart, and it holds across
 * containers sharing the directory. SQLite is loaded only when a lock is taken.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { EngineError } from './types.ts';

export const LOCK_FILE = 'zdb.lock';

export interface DirectoryLock {
  release(): void;
}

/** Locks each directory (created when missing); throws EngineError('locked') when one is held. */
export async function lockDirectories(dirs: string[]): Promise<DirectoryLock> {
  const { default: Database } = await import('better-sqlite3');
  const held: BetterSqlite3.Database[] = [];
  const release = () => {
    for (const db of held.splice(0)) if (db.open) db.close();
  };
  try {
    for (const dir of new Set(dirs.map((d) => resolve(d)))) {
      mkdirSync(dir, { recursive: true });
      const db = new Database(join(dir, LOCK_FILE), { timeout: 0 });
      held.push(db);
      try {
        db.pragma('locking_mode = EXCLUSIVE');
        db.pragma('journal_mode = MEMORY');
        db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lock (pid INTEGER); COMMIT');
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_BUSY')
          throw new EngineError('locked', `${dir} is in use by another zdb (it holds ${LOCK_FILE})`);
        throw e;
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  return { release };
}
