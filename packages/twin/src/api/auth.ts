/**
 * Who may call the local API: a holder of the token in `<home>/api-token` (mode 0600, so only the
 * twin's user can read it), sent as `Authorization: Bearer <token>`; or a browser that logged in
 * with the keystore's passphrase and holds the session cookie (HttpOnly, SameSite=Strict). A
 * request that carries an Origin header other than the API's own is refused (no CORS at all).
 * Live sessions are kept in `<home>/sessions.json` (0600) as SHA-256 digests of their ids, so a
 * browser stays signed in across a restart of its twin, and the file gives nobody a cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_MODE } from '../home.ts';
import { TOKEN_FILE } from './files.ts';

export const SESSION_COOKIE = 'twin_session';
/** How long a login session lasts. */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
/** Sessions held at once (the oldest is dropped first). */
export const MAX_SESSIONS = 64;
/** Failed logins tolerated per LOGIN_WINDOW_MS before every login is refused until it passes. */
export const MAX_FAILED_LOGINS = 5;
export const LOGIN_WINDOW_MS = 60_000;

/** The API token, created (and reported as new) on first use. */
export function apiToken(home: string): { token: string; created: boolean } {
  const path = join(home, TOKEN_FILE);
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), created: false };
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: FILE_MODE, flag: 'wx' });
  return { token, created: true };
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** A session id as it is kept (in memory and in the sessions file): its SHA-256, never the id itself. */
const sessionKey = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');

export class Sessions {
  /** sessionKey(id) → expiry (ms). */
  private readonly sessions = new Map<string, number>();
  private failures: number[] = [];

  /**
   * `file` (optional): where the live sessions are kept across restarts of the twin, as digests
   * (a browser stays signed in when its twin restarts; the file cannot be turned into a cookie).
   */
  constructor(
    private readonly token: string,
    private readonly file?: string,
  ) {
    if (!file || !existsSync(file)) return;
    try {
      const kept = JSON.parse(readFileSync(file, 'utf8')) as { sessions?: unknown };
      const now = Date.now();
      if (Array.isArray(kept.sessions))
        for (const entry of kept.sessions.slice(-MAX_SESSIONS)) {
          const [key, expires] = entry as [unknown, unknown];
          if (typeof key === 'string' && typeof expires === 'number' && expires > now)
            this.sessions.set(key, Math.min(expires, now + SESSION_TTL_MS));
        }
    } catch {
      // an unreadable file: every browser signs in again, nothing else is lost
    }
  }

  private save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ sessions: [...this.sessions] })}\n`, { mode: FILE_MODE });
    renameSync(tmp, this.file);
  }

  /** True for the token in a Bearer header, or a live session cookie. */
  allows(authorization: string | undefined, cookie: string | undefined): boolean {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (bearer && same(bearer, this.token)) return true;
    const session = cookieValue(cookie, SESSION_COOKIE);
    if (!session) return false;
    const key = sessionKey(session);
    const expires = this.sessions.get(key);
    if (expires === undefined) return false;
    if (expires < Date.now()) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }

  /** False while too many logins failed recently. */
  mayTry(): boolean {
    const now = Date.now();
    this.failures = this.failures.filter((t) => now - t < LOGIN_WINDOW_MS);
    return this.failures.length < MAX_FAILED_LOGINS;
  }

  failed(): void {
    this.failures.push(Date.now());
  }

  open(): string {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    for (const [key, expires] of this.sessions) if (expires < now) this.sessions.delete(key);
    this.sessions.set(sessionKey(id), now + SESSION_TTL_MS);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.save();
    return id;
  }

  close(cookie: string | undefined): void {
    const session = cookieValue(cookie, SESSION_COOKIE);
    if (session && this.sessions.delete(sessionKey(session))) this.save();
  }
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
