/**
 * The local API's boundary: token or session required, CORS closed, malformed and oversized
 * bodies refused with {code, message}, the OpenAPI document served.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import WebSocket from 'ws';
import { startTwin, type TestTwin } from './api-helpers.ts';

let root: string;
let pb: RunningPhonebook;
let alice: TestTwin;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-api-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  alice = await startTwin(root, 'alice', pb.url, 'correct horse');
});
after(async () => {
  await alice?.daemon.stop();
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

test('the token file is private and the API answers with it', async () => {
  assert.equal(statSync(join(alice.home, 'api-token')).mode & 0o777, 0o600);
  const me = await alice.call('GET', '/api/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.json, { twin: alice.id, name: 'alice' });
});

test('no token, a wrong token or a wrong passphrase: 401 with a code', async () => {
  const tries: Record<string, string>[] = [
    {},
    { authorization: 'Bearer nope' },
    { authorization: `Basic ${alice.token}` },
  ];
  for (const headers of tries) {
    const res = await fetch(`${alice.base}/api/contacts`, { headers });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'unauthorized');
  }
  const login = await fetch(`${alice.base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: 'wrong' }),
  });
  assert.equal(login.status, 401);
  const ws = new WebSocket(`ws://127.0.0.1:${alice.daemon.api!.port}/api/events`);
  const status = await new Promise<number>((r) =>
    ws.once('unexpected-response', (_q, res) => r(res.statusCode!)),
  );
  assert.equal(status, 401);
});

test('logging in with the passphrase gives an HttpOnly SameSite=Strict session cookie', async () => {
  const login = await fetch(`${alice.base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: 'correct horse' }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie')!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const me = await fetch(`${alice.base}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
  assert.equal(me.status, 200);
});

test('a request from another origin is refused, and no CORS header is ever sent', async () => {
  const res = await fetch(`${alice.base}/api/me`, {
    headers: { authorization: `Bearer ${alice.token}`, origin: 'https://evil.example' },
  });
  assert.equal(res.status, 403);
  assert.equal(((await res.json()) as { code: string }).code, 'cross_origin');
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  const pre = await fetch(`${alice.base}/api/contacts`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
});

test('a request for another host name (DNS rebinding) is refused', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: alice.daemon.api!.port,
        path: '/api/me',
        headers: { host: `evil.example:${alice.daemon.api!.port}`, authorization: `Bearer ${alice.token}` },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
});

test('malformed JSON, a wrong shape and a 20 MB body: 4xx with {code, message}', async () => {
  const bad = await alice.call('POST', '/api/contacts', '{"name": ');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.code, 'bad_json');
  assert.equal(typeof bad.json.message, 'string');
  const shape = await alice.call('POST', '/api/contacts', { name: 42 });
  assert.equal(shape.status, 400);
  assert.equal(shape.json.code, 'bad_request');
  const extra = await alice.call('PUT', '/api/profile', { name: 'a', admin: true });
  assert.equal(extra.json.code, 'bad_request');
  const huge = await alice.call('POST', '/api/chats/2/messages', { text: 'x'.repeat(20 * 1024 * 1024) });
  assert.equal(huge.status, 413);
  assert.equal(huge.json.code, 'too_large');
  const missing = await alice.call('GET', '/api/nothing');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.code, 'not_found');
});

test('the OpenAPI document lists every route', async () => {
  const res = await fetch(`${alice.base}/api/openapi.json`);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.paths['/api/chats/{twin}/messages']?.post);
  assert.ok(doc.paths['/api/contacts']?.post);
  assert.ok(doc.paths['/api/events']?.get);
});
