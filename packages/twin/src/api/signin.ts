/**
 * One-time sign-in links for the web app: `http://127.0.0.1:PORT/signin#once=TOKEN`. A holder of
 * the API (its token or a session) asks `POST /api/session/link` for one; the browser exchanges the
 * token with `POST /api/session/once {token}` for the same session cookie as a passphrase login.
 * A token works once, expires after ONCE_TTL_MS, is compared in constant time against every live
 * token's digest (only digests are kept), and failed exchanges count against the login rate limit.
 * The token travels in the URL's fragment, which browsers never send to a server or a Referer.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TwinError } from '../errors.ts';
import { type Sessions, sessionCookie } from './auth.ts';

/** How long a one-time sign-in token stays valid. */
export const ONCE_TTL_MS = 10 * 60_000;
/** Live one-time tokens held at once (the oldest is dropped first). */
export const MAX_ONCE_TOKENS = 32;
/** Bytes of randomness in a one-time token. */
const ONCE_TOKEN_BYTES = 32;

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class OnceTokens {
  private tokens: { digest: Buffer; expires: number }[] = [];

  issue(now = Date.now()): { token: string; expires: number } {
    const token = randomBytes(ONCE_TOKEN_BYTES).toString('base64url');
    const expires = now + ONCE_TTL_MS;
    this.tokens = this.tokens.filter((t) => t.expires > now);
    this.tokens.push({ digest: digest(token), expires });
    if (this.tokens.length > MAX_ONCE_TOKENS) this.tokens.shift();
    return { token, expires };
  }

  /** True (and the token is spent) when `token` is live; every live token is compared, in constant time. */
  redeem(token: string, now = Date.now()): boolean {
    const d = digest(token);
    let found = -1;
    this.tokens.forEach((t, i) => {
      if (timingSafeEqual(t.digest, d) && t.expires > now) found = i;
    });
    this.tokens = this.tokens.filter((t, i) => i !== found && t.expires > now);
    return found >= 0;
  }
}

/** The link's path and fragment (the web app's sign-in screen reads `once` from the fragment). */
export const signinUrl = (port: number, token: string) => `http://127.0.0.1:${port}/signin#once=${token}`;

const Once = z.strictObject({ token: z.string().min(1).max(256) });

/**
 * Registers `POST /api/session/once` (public: the token is the credential) and
 * `POST /api/session/link` (behind the API's authentication, like every other route).
 */
export function serveSignin(
  app: FastifyInstance,
  o: { sessions: Sessions; port: () => number; who: () => { twin: number; name: string } },
): void {
  const once = new OnceTokens();
  app.post('/api/session/once', async (req, reply) => {
    const parsed = Once.safeParse(req.body ?? {});
    if (!parsed.success) throw new TwinError('bad_request', 'body: expected {"token": "..."}');
    if (!o.sessions.mayTry()) throw new TwinError('rate_limited', 'too many failed sign-ins: wait a minute');
    if (!once.redeem(parsed.data.token)) {
      o.sessions.failed();
      throw new TwinError(
        'unauthorized',
        'this sign-in link was used already or has expired: ask for a new one (twin signin-link)',
      );
    }
    reply.header('set-cookie', sessionCookie(o.sessions.open()));
    return { ok: true, ...o.who() };
  });
  app.post('/api/session/link', async () => {
    const { token, expires } = once.issue();
    return { url: signinUrl(o.port(), token), token, expires };
  });
}

/** The two routes in the OpenAPI document. */
export const SIGNIN_PATHS: Record<string, unknown> = {
  '/api/session/once': {
    post: {
      summary:
        'exchange a one-time sign-in token (from a sign-in link) for the session cookie; a token works once and expires after 10 minutes',
      tags: ['auth'],
      security: [],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { token: { type: 'string' } }, required: ['token'] },
          },
        },
      },
      responses: { 200: { description: 'signed in: {ok, twin, name}' } },
    },
  },
  '/api/session/link': {
    post: {
      summary:
        'a fresh one-time sign-in link {url, token, expires} (http://127.0.0.1:PORT/signin#once=TOKEN)',
      tags: ['auth'],
      responses: { 200: { description: '{url, token, expires}' } },
    },
  },
};
