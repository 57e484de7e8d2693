/**
 * A twin's home directory: it holds the keystore, the BCDB (0-db files and SQLite index) and the
 * mailbox, so only the twin's user may read it. `prepareHome` creates it (or tightens it) to
 * 0700, every file in it to 0600, and sets this process's umask to 0o077 so that whatever the
 * twin and its libraries create later (0-db data and index files, SQLite -wal/-shm) is private
 * too. `HomeLock` is held by a running twin; commands that need the twin stopped take it too.
 */
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IdentityError, makeDirectory } from '@twin/identity';
import Database from 'better-sqlite3';
import { TwinError } from './errors.ts';

/** The modes of a twin's home directory and of every file in it. */
export const HOME_MODE = 0o700;
export const FILE_MODE = 0o600;
/** Every file the twin creates from now on: no access for group and others. */
export const TWIN_UMASK = 0o077;
/** The file a running twin holds an OS lock on. */
export const LOCK_FILE = 'twin.lock';

function tighten(path: string, mode: number): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink() || (st.mode & 0o777 & ~mode) === 0) return;
  try {
    chmodSync(path, st.mode & mode);
  } catch (e) {
    throw new TwinError(
      'home_insecure',
      `${path} is readable by other users and cannot be made private (${(e as NodeJS.ErrnoException).code}): chmod it or choose another --home`,
    );
  }
}

function tightenTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      tighten(path, HOME_MODE);
      tightenTree(path);
    } else if (entry.isFile() || entry.isSocket()) tighten(path, FILE_MODE);
  }
}

/** Creates or tightens `home` (0700, files 0600) and sets the umask; refuses what it cannot fix. */
export function prepareHome(home: string): string {
  const dir = resolve(home);
  process.umask(TWIN_UMASK);
  try {
    makeDirectory(dir, HOME_MODE);
    tighten(dir, HOME_MODE);
    tightenTree(dir);
  } catch (e) {
    if (e instanceof TwinError) throw e;
    if (e instanceof IdentityError)
      throw new TwinError('home_invalid', `cannot use ${dir} as a twin home: ${e.message}`, { cause: e });
    const err = e as NodeJS.ErrnoException;
    throw new TwinError('home_invalid', `cannot use ${dir} as a twin home: ${err.code ?? err.message}`);
  }
  return dir;
}

/**
 * The lock on a twin's home: an exclusive SQLite lock on `<home>/twin.lock`. The kernel holds it
 * for the process (fcntl), so it is released when the process ends in any way, SIGKILL included:
 * a killed twin never leaves a lock that blocks the next start.
 */
export class HomeLock {
  private constructor(private readonly db: Database.Database) {}

  static acquire(home: string, purpose: string): HomeLock {
    const path = join(home, LOCK_FILE);
    const db = new Database(path, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lock (pid INTEGER); COMMIT');
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY')
        throw new TwinError(
          'twin_running',
          `the twin at ${home} is running: stop it before ${purpose} (it holds ${LOCK_FILE})`,
        );
      throw e;
    }
    return new HomeLock(db);
  }

  /** True when a twin process holds the lock on `home`. */
  static held(home: string): boolean {
    try {
      HomeLock.acquire(home, 'checking').release();
      return false;
    } catch (e) {
      if (e instanceof TwinError && e.code === 'twin_running') return true;
      throw e;
    }
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}
