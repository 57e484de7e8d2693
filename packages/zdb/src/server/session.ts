/** A connected client's state: its namespace, its rights, its pending auth challenge. */
import type { Namespace } from '../engine/types.ts';

export interface Session {
  id: number;
  ns: Namespace;
  /** Selected with the namespace password (or the namespace has none). */
  granted: boolean;
  admin: boolean;
  /** Nonce of the last `AUTH SECURE CHALLENGE`, consumed by the next secure AUTH/SELECT. */
  nonce: string | null;
  commands: number;
}

export function createSession(id: number, ns: Namespace): Session {
  return { id, ns, granted: true, admin: false, nonce: null, commands: 0 };
}
