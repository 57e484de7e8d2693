/**
 * `twin demo` as a person runs it (`npm start`), in a temporary folder on free ports: three real
 * `twin start` processes come up; each printed link signs a browser in once; alice finds bob by
 * name and asks him to be a contact, and bob sees the request; the settings screen's QSS status
 * shows the demo's backends; the web app (or the "not built" page) comes with its CSP and its
 * client-side routes; a twin that exits is reported with the command that restarts it, and that
 * command works; Ctrl-C stops every process; a restart keeps the twins; a taken port is one line
 * naming the flag.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePortRange } from '@twin/twin';
import { TWIN, twin } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the demo and the API print
type Json = any;

interface DemoTwin {
  name: string;
  twin: number;
  url: string;
  link: string;
  pid: number;
  home: string;
  restart: string;
  command: string[];
}

const root = mkdtempSync(join(tmpdir(), 'twin-demo-'));
const dir = join(root, 'demo');
const spawned: ChildProcess[] = [];
after(() => {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** How long the demo may take to bring its three twins up on a loaded machine. */
const DEMO_START_MS = 240_000;

const listen = (port: number) =>
  new Promise<Server | undefined>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(s));
  });

const ports = { api: await freePortRange(3), phonebook: await freePortRange(1), zdb: await freePortRange(9) };
const flags = [
  ...['--dir', dir, '--api-port', String(ports.api), '--phonebook-port', String(ports.phonebook)],
  ...['--zdb-port', String(ports.zdb)],
];

/** Starts `twin demo --json`; resolves with its three lines, once printed. */
async function startDemo(): Promise<{
  child: ChildProcess;
  twins: DemoTwin[];
  ms: number;
  stderr: () => string;
}> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [TWIN, 'demo', '--json', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const deadline = Date.now() + DEMO_START_MS;
  while (out.split('\n').filter(Boolean).length < 3) {
    if (child.exitCode !== null) throw new Error(`twin demo exited ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`twin demo did not come up: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const twins = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DemoTwin);
  return { child, twins, ms: performance.now() - t0, stderr: () => err };
}

/** SIGINT (Ctrl-C) and the exit code. */
function interrupt(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(what: string, f: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Signs in with a link the way the web app does; returns the session cookie. */
async function signIn(link: string): Promise<string> {
  const url = new URL(link);
  assert.equal(url.pathname, '/signin');
  const token = new URLSearchParams(url.hash.slice(1)).get('once')!;
  const res = await fetch(`${url.origin}/api/session/once`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = res.headers.get('set-cookie')!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  // the same token a second time: refused
  const again = await fetch(`${url.origin}/api/session/once`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  assert.equal(again.status, 401);
  assert.equal(((await again.json()) as Json).code, 'unauthorized');
  return cookie.split(';')[0]!;
}

async function call(t: DemoTwin, cookie: string, method: string, path: string, body?: unknown) {
  const res = await fetch(new URL(path, t.url), {
    method,
    headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

test('a taken port is one line naming the port and the flag, and nothing is started', async () => {
  const held = await listen(ports.api + 1);
  assert.ok(held, 'the port is free before the test takes it');
  try {
    const r = await twin('demo', ...flags);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${ports.api + 1} \\(bob's web app\\) is in use: .*--api-port`));
    assert.match(r.stderr, /\(port_in_use\)/);
    assert.equal(existsSync(join(dir, 'alice')), false, 'no twin was created');
    // the twins' ports follow --api-port: it cannot be 0 (any port) nor leave carol past 65535
    for (const bad of ['0', '65534']) {
      const r = await twin('demo', '--dir', dir, '--api-port', bad);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr.trim(),
        /^twin: option '--api-port <port>' argument '\d+' is invalid\. expected a port from 1 to 65533$/,
      );
    }
  } finally {
    await new Promise((r) => held!.close(r));
  }
});

test('the demo brings up alice, bob and carol; links sign in once; alice asks bob by name; Ctrl-C stops all; a restart keeps them', async (ctx) => {
  const first = await startDemo();
  ctx.diagnostic(`twin demo: first start, all three links printed in ${(first.ms / 1000).toFixed(1)} s`);
  const [alice, bob, carol] = first.twins as [DemoTwin, DemoTwin, DemoTwin];
  assert.deepEqual(
    first.twins.map((t) => [t.name, t.twin, t.url]),
    [
      ['alice', 1, `http://127.0.0.1:${ports.api}/`],
      ['bob', 2, `http://127.0.0.1:${ports.api + 1}/`],
      ['carol', 3, `http://127.0.0.1:${ports.api + 2}/`],
    ],
  );
  for (const t of first.twins) {
    assert.ok(alive(t.pid), `${t.name}'s twin runs`);
    assert.equal(t.home, join(dir, t.name));
    assert.deepEqual(t.command.slice(1, 3), [TWIN, 'start']);
    assert.ok(t.restart.includes(`start --home ${t.home}`), t.restart);
  }

  // each link signs in once, as that twin
  const cookies = new Map<string, string>();
  for (const t of first.twins) {
    const cookie = await signIn(t.link);
    cookies.set(t.name, cookie);
    const me = await call(t, cookie, 'GET', '/api/me');
    assert.deepEqual(me.json, { twin: t.twin, name: t.name });
  }
  const ca = cookies.get('alice')!;
  const cb = cookies.get('bob')!;

  // strangers who find each other by name
  assert.deepEqual((await call(alice, ca, 'GET', '/api/contacts')).json.contacts, []);
  const found = await call(alice, ca, 'GET', '/api/lookup/bob');
  assert.equal(found.status, 200);
  assert.equal(found.json.twin, bob.twin);
  const asked = await call(alice, ca, 'POST', '/api/contacts', { name: 'bob', message: 'hi bob' });
  assert.equal(asked.status, 200, JSON.stringify(asked.json));
  await waitFor('bob to see the request', async () => {
    const r = await call(bob, cb, 'GET', '/api/contacts/requests');
    return r.json.requests.some((q: Json) => q.twin === alice.twin && q.direction === 'in');
  });

  // the settings screen's storage: the demo's nine backends, three groups, all up
  const storage = await call(carol, cookies.get('carol')!, 'GET', '/api/storage');
  assert.equal(storage.status, 200);
  assert.equal(storage.json.configured, true);
  assert.equal(storage.json.backends.length, 9);
  assert.deepEqual(
    [...new Set(storage.json.backends.filter((b: Json) => b.role === 'data').map((b: Json) => b.group))],
    ['site-a', 'site-b', 'site-c'],
  );
  for (const b of storage.json.backends) {
    assert.equal(b.namespace, 'carol');
    assert.equal(b.state, 'ok');
  }
  assert.equal((await call(carol, cookies.get('carol')!, 'GET', '/api/storage?x=1')).status, 400);
  assert.equal((await fetch(new URL('/api/storage', carol.url))).status, 401);

  // the web app (or, unbuilt, the page that says how to build it) with its policy and client routes
  const page = await fetch(alice.url);
  const built = existsSync(new URL('../../web/dist/index.html', import.meta.url));
  assert.equal(page.status, built ? 200 : 503);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  assert.match(page.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self'/);
  const html = await page.text();
  if (!built) assert.match(html, /not built/);
  const route = await fetch(new URL('/chats/bob', alice.url), { headers: { accept: 'text/html' } });
  assert.equal(await route.text(), html, 'a client-side route gets the app');

  // a twin that exits is reported with the command that restarts it; the others keep running
  process.kill(bob.pid, 'SIGTERM');
  await waitFor('the demo to report bob', () => /bob's twin exited/.test(first.stderr()));
  const report = first
    .stderr()
    .split('\n')
    .find((l) => l.includes("bob's twin exited"))!;
  assert.ok(report.endsWith(bob.restart), report);
  assert.equal((await call(alice, ca, 'GET', '/api/me')).status, 200, 'alice still answers');
  assert.equal(first.child.exitCode, null, 'the demo still runs');
  const again = spawn(bob.command[0]!, bob.command.slice(1), { stdio: 'ignore' });
  spawned.push(again);
  await waitFor('bob to come back', async () => {
    try {
      return (await fetch(new URL('/api/health', bob.url))).ok;
    } catch {
      return false;
    }
  });
  assert.equal(
    (await call(bob, cb, 'GET', '/api/me')).status,
    200,
    'a restarted twin keeps its browser sessions',
  );
  await new Promise<void>((r) => {
    again.once('exit', () => r());
    again.kill('SIGTERM');
  });

  // Ctrl-C: everything stops, no process left behind
  assert.equal(await interrupt(first.child), 0, first.stderr());
  for (const t of first.twins) assert.equal(alive(t.pid), false, `${t.name}'s twin stopped`);
  assert.match(first.stderr(), /demo stopped; data kept in/);

  // a restart keeps the twins, their keys and what they hold
  const keys = (name: string) =>
    JSON.parse(readFileSync(join(dir, name, 'keystore.json'), 'utf8')).signingPublicKey;
  const before = first.twins.map((t) => keys(t.name));
  const second = await startDemo();
  ctx.diagnostic(`twin demo: restart, all three links printed in ${(second.ms / 1000).toFixed(1)} s`);
  assert.deepEqual(
    second.twins.map((t) => [t.name, t.twin]),
    first.twins.map((t) => [t.name, t.twin]),
  );
  assert.deepEqual(
    second.twins.map((t) => keys(t.name)),
    before,
  );
  assert.doesNotMatch(second.stderr(), /identity created/);
  const bob2 = second.twins[1]!;
  const cb2 = await signIn(bob2.link);
  const requests = await call(bob2, cb2, 'GET', '/api/contacts/requests');
  assert.ok(requests.json.requests.some((q: Json) => q.twin === alice.twin));
  assert.equal(await interrupt(second.child), 0, second.stderr());
  for (const t of second.twins) assert.equal(alive(t.pid), false, `${t.name}'s twin stopped`);
});
