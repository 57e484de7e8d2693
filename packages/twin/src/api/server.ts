/**
 * The twin's local API: HTTP + WebSocket on loopback (fastify). Every route but login, health and
 * the OpenAPI document needs the API token or a login session (auth.ts); bodies, parameters and
 * queries are checked by the route's zod schemas; every failure is `{code, message}` with a 4xx
 * (5xx only for the twin's own faults). `GET /api/events` upgrades to a WebSocket that pushes
 * every TwinEvent as one JSON frame. The port is written to `<home>/api.json` for the CLI.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import websocket from '@fastify/websocket';
import { loadIdentity, readKeystore } from '@twin/identity';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TwinError, type TwinErrorCode } from '../errors.ts';
import type { TwinEvent } from '../experiences/events.ts';
import type { Experiences } from '../experiences/index.ts';
import { FILE_MODE } from '../home.ts';
import { apiToken, Sessions, sessionCookie } from './auth.ts';
import { contentRoutes } from './content.ts';
import { API_FILE, SESSIONS_FILE } from './files.ts';
import { openApi } from './openapi.ts';
import { type Route, routes } from './routes.ts';
import { SIGNIN_PATHS, serveSignin } from './signin.ts';
import { type StorageSource, storageRoutes } from './storage.ts';
import { findWebRoot, serveWebApp, WEB_ROUTE } from './web.ts';

/** The API's port unless `--api-port` says otherwise. */
export const DEFAULT_API_PORT = 8740;
/** Largest request body (a profile with its avatar fits). */
export const API_BODY_LIMIT = 1024 * 1024;
/** Events a slow WebSocket client may have unsent before it is disconnected. */
export const MAX_WS_BUFFERED = 4 * 1024 * 1024;

const STATUS: Partial<Record<string, number>> = {
  bad_request: 400,
  bad_json: 400,
  unauthorized: 401,
  cross_origin: 403,
  denied: 403,
  not_contact: 403,
  not_found: 404,
  already_contact: 409,
  too_large: 413,
  rate_limited: 429,
  unreachable: 502,
  unknown_twin: 404,
  bad_name: 400,
  exists: 409,
  no_thumbnail: 404,
  bad_range: 416,
  bad_hash: 502,
  changed: 409,
};

const PUBLIC = new Set(['/api/login', '/api/session/once', '/api/health', '/api/openapi.json']);

export interface ApiServer {
  port: number;
  token: string;
  /** True when this start created the token (the twin prints it then). */
  tokenCreated: boolean;
  close(): Promise<void>;
}

export async function startApi(o: {
  home: string;
  port?: number;
  host?: string;
  experiences: Experiences;
  version?: string;
  /** The web app's build folder (default: found with findWebRoot()); false: none served. */
  web?: string | false;
  /** The twin's QSS, for GET /api/storage. */
  storage?: () => StorageSource;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}): Promise<ApiServer> {
  const { token, created } = apiToken(o.home);
  const sessions = new Sessions(token, join(o.home, SESSIONS_FILE));
  const app: FastifyInstance = Fastify({ bodyLimit: API_BODY_LIMIT, logger: false });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  const table = [...routes(o.experiences), ...storageRoutes(o.storage ?? (() => ({})))];
  const spec = openApi(table, o.version ?? '0.1.0');
  Object.assign(spec.paths as Record<string, unknown>, SIGNIN_PATHS);
  let port = 0;

  app.addHook('onRequest', async (req) => {
    // DNS rebinding: a page whose name now points at 127.0.0.1 still sends its own Host.
    const host = req.headers.host;
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)
      throw new TwinError('cross_origin', `requests for host ${host} are refused`);
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      origin !== `http://127.0.0.1:${port}` &&
      origin !== `http://localhost:${port}`
    )
      throw new TwinError('cross_origin', `requests from ${origin} are refused`);
    const path = req.url.split('?')[0]!;
    if (PUBLIC.has(path)) return;
    // The web app's files are public; an /api path without a route is not (401 before 404).
    if (req.routeOptions.url === WEB_ROUTE && path !== '/api' && !path.startsWith('/api/')) return;
    if (!sessions.allows(req.headers.authorization, req.headers.cookie))
      throw new TwinError('unauthorized', 'give the token in <home>/api-token as a Bearer token, or log in');
  });

  app.setErrorHandler((err: FastifyError | TwinError, _req, reply) => {
    const code = typeof err.code === 'string' ? err.code : '';
    if (err instanceof TwinError || (code && STATUS[code])) {
      return reply.status(STATUS[code] ?? 400).send({ code, message: err.message });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status === 413)
      return reply.status(413).send({ code: 'too_large', message: 'the body is too large' });
    if (status === 415) return reply.status(415).send({ code: 'bad_request', message: 'bodies are JSON' });
    if (status === 400 && (err instanceof SyntaxError || code.startsWith('FST_ERR_CTP')))
      return reply.status(400).send({ code: 'bad_json', message: 'the body is not valid JSON' });
    if (status < 500) return reply.status(status).send({ code: code || 'bad_request', message: err.message });
    o.log('api error', { error: err.message, code });
    return reply.status(500).send({ code: 'internal', message: 'the twin failed to answer' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/api/health', async () => ({ ok: true }));
  app.get('/api/openapi.json', async () => spec);
  const Login = z.strictObject({ passphrase: z.string().min(1).max(1024) });
  app.post('/api/login', async (req, reply) => {
    const { passphrase } = parse(Login, req.body, 'body');
    if (!sessions.mayTry()) throw new TwinError('rate_limited', 'too many failed logins: wait a minute');
    if (!passphraseOpens(o.home, passphrase, o.experiences)) {
      sessions.failed();
      throw new TwinError('unauthorized', 'wrong passphrase (or the keystore has none: use the API token)');
    }
    reply.header('set-cookie', sessionCookie(sessions.open()));
    return { ok: true };
  });
  app.post('/api/logout', async (req, reply) => {
    sessions.close(req.headers.cookie);
    reply.header('set-cookie', sessionCookie('').replace(/Max-Age=\d+/, 'Max-Age=0'));
    return { ok: true };
  });
  app.get('/api/events', { websocket: true }, (socket) => {
    const push = (e: TwinEvent) => {
      if (socket.bufferedAmount > MAX_WS_BUFFERED) socket.terminate();
      else socket.send(JSON.stringify(e));
    };
    o.experiences.events.on('event', push);
    socket.on('close', () => o.experiences.events.off('event', push));
    socket.on('message', () => {}); // clients have nothing to say on this socket
  });
  for (const r of table) register(app, r);
  await app.register(contentRoutes(o.experiences));
  serveSignin(app, {
    sessions,
    port: () => port,
    who: () => ({ twin: o.experiences.self, name: o.experiences.name }),
  });
  if (o.web !== false) serveWebApp(app, { root: o.web ?? findWebRoot(), port: () => port });

  const host = o.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: o.port ?? DEFAULT_API_PORT });
  } catch (e) {
    // Only the default port gives way (another twin on this machine has it): any free port then.
    if (o.port !== undefined || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    await app.listen({ host, port: 0 });
  }
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  writeFileSync(join(o.home, API_FILE), `${JSON.stringify({ port, pid: process.pid })}\n`, {
    mode: FILE_MODE,
  });
  return {
    port,
    token,
    tokenCreated: created,
    close: () => app.close(),
  };
}

function register(app: FastifyInstance, r: Route): void {
  app.route({
    method: r.method,
    url: r.url,
    handler: async (req) => {
      const input = {
        params: r.params ? parse(r.params, req.params, 'path') : {},
        query: r.query ? parse(r.query, req.query, 'query') : {},
        body: r.body ? parse(r.body, req.body ?? {}, 'body') : {},
      };
      return (await r.handler(input)) ?? { ok: true };
    },
  });
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const code: TwinErrorCode = issue?.code === 'too_big' ? 'too_large' : 'bad_request';
  throw new TwinError(
    code,
    `${where}${issue?.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue?.message}`,
  );
}

/** True when `passphrase` unlocks this home's keystore; an unencrypted keystore has none: false. */
function passphraseOpens(home: string, passphrase: string, x: Experiences): boolean {
  try {
    if (!readKeystore(home).sealed) return false;
    return loadIdentity(home, passphrase).name === x.name;
  } catch {
    return false;
  }
}
