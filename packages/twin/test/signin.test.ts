/**
 * One-time sign-in links and the web app's fallback page: a token works once, expires, and
 * guessing is rate limited together with passphrase logins; a twin without a built web app says
 * how to build it, under the same Content-Security-Policy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import Fastify from 'fastify';
import { MAX_ONCE_TOKENS, ONCE_TTL_MS, OnceTokens } from '../src/api/signin.ts';
import { serveWebApp } from '../src/api/web.ts';
import { startTwin, type TestTwin } from './api-helpers.ts';

let root: string;
let pb: RunningPhonebook;
let alice: TestTwin;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-signin-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  alice = await startTwin(root, 'alice', pb.url);
});
after(async () => {
  await alice?.daemon.stop();
  await pb?.close();
  rmSync(root, { recursive: true, force: true });
});

test('a token redeems once, not after its ten minutes, and the oldest give way to new ones', () => {
  const once = new OnceTokens();
  const now = Date.now();
  const a = once.issue(now);
  assert.equal(a.expires, now + ONCE_TTL_MS);
  assert.equal(once.redeem(`${a.token}x`, now), false);
  assert.equal(once.redeem(a.token, now + 1000), true);
  assert.equal(once.redeem(a.token, now + 1000), false, 'spent');
  const b = once.issue(now);
  assert.equal(once.redeem(b.token, now + ONCE_TTL_MS + 1), false, 'expired');
  const first = once.issue(now);
  for (let i = 0; i < MAX_ONCE_TOKENS; i++) once.issue(now);
  assert.equal(once.redeem(first.token, now), false, 'dropped for newer ones');
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${alice.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test('a browser session survives a restart of the twin; the file holds digests only; logout ends it', async () => {
  const once = async () => {
    const link = await alice.call('POST', '/api/session/link');
    const res = await post('/api/session/once', { token: link.json.token });
    assert.equal(res.status, 200);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  };
  const kept = await once();
  const ended = await once();
  const me = (cookie: string) => fetch(`${alice.base}/api/me`, { headers: { cookie } }).then((r) => r.status);
  assert.equal(await me(ended), 200);
  assert.equal(
    (await fetch(`${alice.base}/api/logout`, { method: 'POST', headers: { cookie: ended } })).status,
    200,
  );
  assert.equal(await me(ended), 401);
  const file = join(alice.home, 'sessions.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(kept.split('=')[1]!), 'no session id in the file');

  await alice.daemon.stop();
  alice = await startTwin(root, 'alice', pb.url);
  assert.equal(await me(kept), 200, 'still signed in');
  assert.equal(await me(ended), 401, 'still signed out');
  assert.equal(await me('twin_session=forged'), 401);
});

test('a link from the API signs in once; only an API holder makes links; guessing is rate limited', async () => {
  assert.equal((await post('/api/session/link', {})).status, 401, 'no link without the token or a session');
  const link = await alice.call('POST', '/api/session/link');
  assert.equal(link.status, 200);
  const url = new URL(link.json.url);
  assert.equal(url.origin, alice.base);
  assert.equal(url.pathname, '/signin');
  assert.equal(url.hash, `#once=${link.json.token}`);

  const signed = await post('/api/session/once', { token: link.json.token });
  assert.equal(signed.status, 200);
  assert.deepEqual(await signed.json(), { ok: true, twin: alice.id, name: 'alice' });
  const cookie = signed.headers.get('set-cookie')!.split(';')[0]!;
  const me = await fetch(`${alice.base}/api/me`, { headers: { cookie } });
  assert.equal(me.status, 200);
  // a session may make a link too (to sign in a second tab)
  assert.equal(
    (await fetch(`${alice.base}/api/session/link`, { method: 'POST', headers: { cookie } })).status,
    200,
  );

  for (const body of [{}, { token: '' }, { token: 'x'.repeat(300) }, { token: 1 }, { token: 'a', extra: 1 }])
    assert.equal((await post('/api/session/once', body)).status, 400, JSON.stringify(body));
  assert.equal((await post('/api/session/once', { token: link.json.token })).status, 401, 'used');
  const fresh = await alice.call('POST', '/api/session/link');
  for (let i = 0; i < 4; i++)
    assert.equal((await post('/api/session/once', { token: `guess${i}` })).status, 401);
  const limited = await post('/api/session/once', { token: fresh.json.token });
  assert.equal(limited.status, 429, 'five failures a minute: even a good token waits');
  assert.equal(((await limited.json()) as { code: string }).code, 'rate_limited');
  const spec = (await alice.call('GET', '/api/openapi.json')).json;
  assert.ok(spec.paths['/api/session/once'].post);
  assert.ok(spec.paths['/api/storage'].get);
});

test('without a built web app, every page says how to build it', async () => {
  const app = Fastify();
  serveWebApp(app, { root: undefined, port: () => 1 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as { port: number };
    for (const path of ['/', '/chats/bob']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(res.status, 503);
      assert.match(res.headers.get('content-security-policy')!, /default-src 'none'/);
      assert.match(await res.text(), /web app is not built.*npm run build --workspace @twin\/web/s);
    }
  } finally {
    await app.close();
  }
});

test('GET /api/storage without QSS: not configured', async () => {
  const r = await alice.call('GET', '/api/storage');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { configured: false, backends: [] });
});
