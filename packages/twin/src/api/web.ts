/**
 * The web app (packages/web, built by Vite to static files), served by the twin at `/` from the
 * API's own origin. The files are indexed once, when the twin starts, by walking the build folder
 * (regular files only, no symlinks): a request is answered only with a file whose exact path is in
 * that index, so no URL, however encoded, reaches a file outside the folder. Any other GET that is
 * not under /api and names no file gets index.html (client-side routing). Vite's
 * hashed assets (`name-HASH.ext`) are cached as immutable; everything else is revalidated. Every
 * answer carries a strict Content-Security-Policy (no inline script, nothing from other origins).
 * When no build is found, every page says how to build it (503).
 */
import { createReadStream, existsSync, lstatSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The route pattern that serves the app; its non-/api paths need no authentication. */
export const WEB_ROUTE = '/*';
/** Files indexed at most (a build has a few dozen). */
export const MAX_WEB_FILES = 10_000;
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** The app's policy: its own scripts, styles and API only; images also from data:/blob: URLs. */
export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self' data:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "manifest-src 'self'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};
/** Vite's default asset names: `[name]-[hash].[ext]`, the hash 8 characters of base64url. */
const HASHED = /^\/assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

interface WebFile {
  path: string;
  size: number;
  etag: string;
}

/** The built web app: @twin/web's dist/, or packages/web/dist found above this file; undefined if neither is built. */
export function findWebRoot(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@twin/web/package.json');
    const dist = join(dirname(pkg), 'dist');
    if (existsSync(join(dist, 'index.html'))) return dist;
  } catch {
    // not installed as a package: look for the repository's folder
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const dist = join(dir, 'packages', 'web', 'dist');
    if (existsSync(join(dist, 'index.html'))) return dist;
    dir = dirname(dir);
  }
  return undefined;
}

/** URL path (`/assets/x.js`) → file, for every regular file under `root`. */
export function indexWebRoot(root: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path, `${prefix}${name}/`);
      else if (st.isFile() && files.size < MAX_WEB_FILES)
        files.set(`${prefix}${name}`, {
          path,
          size: st.size,
          etag: `"${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"`,
        });
    }
  };
  walk(root, '/');
  return files;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Digital Twin</title></head>
<body><h1>The web app is not built</h1>
<p>This twin is running and its API answers under <code>/api</code>, but the web app's files were not found.</p>
<p>Build it in the repository with <code>npm run build --workspace @twin/web</code> (<code>npm ci</code> builds it too),
then reload this page.</p></body></html>
`;

const isApi = (path: string) => path === '/api' || path.startsWith('/api/');

/**
 * Serves the app at WEB_ROUTE (GET and HEAD). `root` undefined: the "not built" page. Paths under
 * /api that reach this route have no API route: 404 `not_found` as JSON.
 */
export function serveWebApp(app: FastifyInstance, o: { root?: string; port: () => number }): void {
  const files = o.root ? indexWebRoot(o.root) : new Map<string, WebFile>();
  const index = files.get('/index.html');
  app.get(WEB_ROUTE, async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.url.split('?')[0]!;
    if (isApi(raw)) return reply.status(404).send({ code: 'not_found', message: `no route GET ${raw}` });
    reply.header('content-security-policy', contentSecurityPolicy(o.port()));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
    let path: string;
    try {
      path = decodeURIComponent(raw);
    } catch {
      return reply
        .status(400)
        .send({ code: 'bad_request', message: 'the path is not valid percent-encoding' });
    }
    if (!index)
      return reply
        .status(503)
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(NOT_BUILT);
    let file = files.get(path === '/' ? '/index.html' : path);
    if (!file) {
      // A dot segment, a backslash or a NUL is never a page of the app.
      if (/(^|\/)\.\.?(\/|$)|[\\\0]/.test(path))
        return reply.status(404).send({ code: 'not_found', message: 'no such file' });
      // A missing file (a name with an extension, not asked for as a page) is a 404, not the app:
      // a stale script must fail visibly. Pages (Accept: text/html) always get the app.
      if (extname(path) !== '' && !String(req.headers.accept ?? '').includes('text/html'))
        return reply.status(404).send({ code: 'not_found', message: 'no such file' });
      file = index;
    }
    reply.header('etag', file.etag);
    reply.header('cache-control', HASHED.test(path) && file !== index ? IMMUTABLE : 'no-cache');
    reply.type(TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream');
    if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
    reply.header('content-length', file.size);
    if (req.method === 'HEAD') return reply.send();
    return reply.send(createReadStream(file.path));
  });
}
