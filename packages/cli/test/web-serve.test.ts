/**
 * The web app as `twin start --web-root DIR` serves it (a real twin process on a real port, a
 * build folder made here): index.html and assets with their types and caching, the strict
 * Content-Security-Policy, client-side routes falling back to index.html, and every traversal
 * attempt we could think of (dot segments raw and percent-encoded, backslashes, NUL, a symlink out
 * of the folder) answered without a byte of the file next to the build folder.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { TWIN } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'twin-web-'));
const web = join(root, 'web');
const SECRET = 'secret-next-to-the-build-folder';
const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/index-AbC_12-x.js"></script></head><body><div id="root"></div></body></html>\n';
const SCRIPT = 'console.log("app");\n';
let pb: RunningPhonebook;
let child: ChildProcess;
let base: string;
let token: string;

before(async () => {
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), INDEX);
  writeFileSync(join(web, 'assets', 'index-AbC_12-x.js'), SCRIPT);
  writeFileSync(join(web, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(root, 'secret.txt'), SECRET);
  symlinkSync(join(root, 'secret.txt'), join(web, 'link.txt'));
  symlinkSync(root, join(web, 'up'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  const home = join(root, 'alice');
  initIdentity({ home, name: 'alice' });
  child = spawn(
    process.execPath,
    [
      TWIN,
      'start',
      '--home',
      home,
      '--phonebook',
      pb.url,
      '--no-yggdrasil',
      '--api-port',
      '0',
      '--web-root',
      web,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  for (let i = 0; ; i++) {
    const m = /Web app on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
    if (m) {
      base = m[1]!;
      break;
    }
    if (child.exitCode !== null || i > 2400) throw new Error(`twin start did not come up: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  token = readFileSync(join(home, 'api-token'), 'utf8').trim();
});
after(async () => {
  if (child && child.exitCode === null)
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGTERM');
    });
  await pb?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A request with its path sent exactly as written (fetch would normalise dot segments). */
function raw(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('index.html and the assets: types, caching, ETag, and the security headers', async () => {
  const page = await raw('/');
  assert.equal(page.status, 200);
  assert.equal(page.body, INDEX);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.equal(page.headers['cache-control'], 'no-cache');
  const csp = String(page.headers['content-security-policy']);
  for (const d of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ])
    assert.ok(csp.includes(d), `${d} in ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal((await raw('/', { 'if-none-match': String(page.headers.etag) })).status, 304);
  assert.equal((await raw('/index.html')).body, INDEX);

  const script = await raw('/assets/index-AbC_12-x.js');
  assert.equal(script.status, 200);
  assert.equal(script.body, SCRIPT);
  assert.match(String(script.headers['content-type']), /^text\/javascript/);
  assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable');
  const logo = await raw('/assets/logo.svg');
  assert.equal(logo.headers['content-type'], 'image/svg+xml');
  assert.equal(logo.headers['cache-control'], 'no-cache', 'a name without a hash is revalidated');
  const head = await raw('/', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('client-side routes get index.html; a missing file is a 404; /api keeps its own answers', async () => {
  for (const path of ['/chats/bob', '/contacts', '/signin', '/files/Photos/2026']) {
    const r = await raw(path, { accept: 'text/html' });
    assert.equal(r.status, 200, path);
    assert.equal(r.body, INDEX, path);
  }
  assert.equal((await raw('/contacts/bob.smith', { accept: 'text/html,*/*' })).body, INDEX);
  const missing = await raw('/assets/index-gone1234.js');
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body).code, 'not_found');
  // the API: no token, 401; with it, an unknown route is a JSON 404, never the app
  assert.equal((await raw('/api/nothing')).status, 401);
  const api = await raw('/api/nothing', { authorization: `Bearer ${token}` });
  assert.equal(api.status, 404);
  assert.equal(JSON.parse(api.body).code, 'not_found');
  assert.equal((await raw('/', {}, 'POST')).status, 401, 'only GET and HEAD serve the app');
  assert.equal(
    (await raw('/', { host: 'evil.example' })).status,
    403,
    'DNS rebinding: another Host is refused',
  );
});

test('no path reaches a file outside the build folder', async () => {
  const attempts = [
    '/../secret.txt',
    '/..%2fsecret.txt',
    '/..%2f..%2fetc/passwd',
    '/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e%5c%2e%2e%5csecret.txt',
    '/..\\secret.txt',
    '//etc/passwd',
    '/%2fetc%2fpasswd',
    '/link.txt',
    '/up/secret.txt',
    '/up%2fsecret.txt',
    '/index.html%00.js',
    '/%252e%252e%252fsecret.txt',
  ];
  for (const path of attempts) {
    for (const accept of ['*/*', 'text/html']) {
      const r = await raw(path, { accept });
      assert.ok(!r.body.includes(SECRET), `${path} leaked the file`);
      assert.ok(!/root:.*:0:0:/.test(r.body), `${path} leaked /etc/passwd`);
      assert.ok(
        r.status === 404 || r.status === 400 || r.body === INDEX,
        `${path}: ${r.status} ${r.body.slice(0, 80)}`,
      );
    }
  }
  assert.equal((await raw('/%E0%A4%A')).status, 400, 'bad percent-encoding');
});
