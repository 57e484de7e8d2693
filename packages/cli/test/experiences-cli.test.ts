/**
 * The scenario with real `twin start` processes (alice, bob, carol) and a real phonebook, through
 * the CLI and the API: a contact request accepted; a chat both ways with a reply, an edit, a
 * delete, a reaction and read receipts; bob stopped while alice sends 20 messages, which bob
 * receives once each, in order, after his restart, and alice sees delivered, then read.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import WebSocket from 'ws';
import { TWIN, twin } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the CLI and the API print
type Json = any;

let root: string;
let pb: RunningPhonebook;
const running = new Map<string, { child: ChildProcess; port: number }>();

async function start(name: string): Promise<number> {
  const home = join(root, name);
  const child = spawn(
    process.execPath,
    [TWIN, 'start', '--home', home, '--phonebook', pb.url, '--no-yggdrasil', '--api-port', '0'],
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
  for (let i = 0; i < 1200; i++) {
    const m = /API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (m) {
      running.set(name, { child, port: Number(m[1]) });
      return Number(m[1]);
    }
    if (child.exitCode !== null) throw new Error(`twin start ${name} exited: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`twin start ${name} did not come up: ${err}`);
}

async function stop(name: string): Promise<void> {
  const t = running.get(name)!;
  running.delete(name);
  await new Promise<void>((r) => {
    t.child.once('exit', () => r());
    t.child.kill('SIGTERM');
  });
}

const home = (name: string) => join(root, name);

/** `twin <args> --home <name's home> --json`, parsed; fails the test on a non-zero exit. */
async function cli(name: string, ...args: string[]): Promise<Json> {
  const r = await twin(...args, '--home', home(name), '--json');
  assert.equal(r.code, 0, `twin ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function api(
  name: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const token = readFileSync(join(home(name), 'api-token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${running.get(name)!.port}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/**
 * POSTs a body of `size` bytes as the API sees it: the headers declare the size and no byte of the
 * body is sent, since the API must refuse it on the declared size alone, before reading any of it
 * (sending it too races the answer against the server closing a connection it stopped reading).
 */
function postLarge(name: string, path: string, size: number): Promise<{ status: number; code: string }> {
  const token = readFileSync(join(home(name), 'api-token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: running.get(name)!.port,
        method: 'POST',
        path,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': String(size),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode!, code: (JSON.parse(text) as { code: string }).code });
        });
      },
    );
    req.on('error', reject);
    req.flushHeaders();
  });
}

async function until(f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ids: Record<string, number> = {};

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-exp-cli-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  for (const name of ['alice', 'bob', 'carol']) initIdentity({ home: home(name), name });
  await Promise.all(['alice', 'bob', 'carol'].map(start));
  for (const name of ['alice', 'bob', 'carol'])
    ids[name] = (await cli(name, 'chat', 'list')) && (await api(name, 'GET', '/api/me')).json.twin;
});
after(async () => {
  for (const t of running.values()) t.child.kill('SIGKILL');
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

test('contact request → accept, through the CLI', async () => {
  assert.equal(
    (await cli('alice', 'contacts', 'add', 'bob', '--message', 'hi bob, alice here')).status,
    'requested',
  );
  await until(async () => (await api('bob', 'GET', '/api/contacts/requests')).json.requests.length === 1);
  const [req] = (await cli('bob', 'contacts', 'requests')).requests;
  assert.deepEqual([req.name, req.direction, req.message], ['alice', 'in', 'hi bob, alice here']);
  await cli('bob', 'contacts', 'accept', 'alice');
  await until(async () => (await api('alice', 'GET', '/api/contacts')).json.contacts.length === 1);
  assert.equal((await cli('alice', 'contacts', 'list')).contacts[0].name, 'bob');
});

test('chat both ways with a reply, an edit, a delete, a reaction and read receipts', async () => {
  const hello = await cli('alice', 'chat', 'send', 'bob', 'hello bob');
  await until(
    async () => (await api('bob', 'GET', `/api/chats/${ids.alice}/messages`)).json.messages.length === 1,
  );
  const reply = await cli('bob', 'chat', 'reply', 'alice', hello.id, 'hello alice');
  await until(async () =>
    (await api('alice', 'GET', `/api/chats/${ids.bob}/messages`)).json.messages.some(
      (m: Json) => m.id === reply.id,
    ),
  );
  await cli('alice', 'chat', 'edit', 'bob', hello.id, 'hello bob!');
  await cli('bob', 'chat', 'react', 'alice', hello.id, '🎉');
  const oops = await cli('alice', 'chat', 'send', 'bob', 'wrong window');
  await cli('alice', 'chat', 'delete', 'bob', oops.id);
  await until(async () => {
    const h = (await api('bob', 'GET', `/api/chats/${ids.alice}/messages`)).json.messages;
    const m = h.find((x: Json) => x.id === hello.id);
    const gone = h.find((x: Json) => x.id === oops.id);
    return m?.text === 'hello bob!' && m.edited !== null && gone?.deleted === true && gone.text === '';
  });
  await until(async () => {
    const m = (await api('alice', 'GET', `/api/chats/${ids.bob}/messages`)).json.messages.find(
      (x: Json) => x.id === hello.id,
    );
    return m.reactions['🎉']?.[0] === ids.bob;
  });
  assert.equal((await cli('bob', 'chat', 'list')).chats[0].unread, 2);
  await cli('bob', 'chat', 'read', 'alice');
  await until(
    async () =>
      (await api('alice', 'GET', `/api/chats/${ids.bob}/messages`)).json.messages.find(
        (x: Json) => x.id === hello.id,
      ).state === 'read',
  );
  assert.equal((await cli('bob', 'chat', 'list')).chats[0].unread, 0);
  const found = await cli('alice', 'chat', 'search', 'hello');
  assert.deepEqual(found.messages.map((m: Json) => m.id).sort(), [hello.id, reply.id].sort());
});

test('bob stopped: 20 messages reach him once each, in order, after his restart; alice sees delivered, then read', async () => {
  const events: { type: string; id?: string; state?: string }[] = [];
  const token = readFileSync(join(home('alice'), 'api-token'), 'utf8').trim();
  const ws = new WebSocket(`ws://127.0.0.1:${running.get('alice')!.port}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on('message', (d) => events.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  await stop('bob');
  assert.match(
    (await twin('chat', 'history', 'alice', '--home', home('bob'))).stderr,
    /^twin: twin is not running at .*twin start --home/,
  );
  const sent: string[] = [];
  for (let i = 1; i <= 20; i++)
    sent.push(
      (await api('alice', 'POST', `/api/chats/${ids.bob}/messages`, { text: `offline ${i}/20` })).json.id,
    );
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(events.filter((e) => e.type === 'receipt').length, 0);
  await start('bob');
  await until(
    async () => events.filter((e) => e.type === 'receipt' && e.state === 'delivered').length === 20,
  );
  const got = (await api('bob', 'GET', `/api/chats/${ids.alice}/messages?limit=200`)).json.messages.reverse();
  const offline = got.filter((m: Json) => m.text.startsWith('offline '));
  assert.deepEqual(
    offline.map((m: Json) => m.id),
    sent,
    'all 20, once each, in order',
  );
  assert.deepEqual(
    offline.map((m: Json) => m.text),
    sent.map((_, i) => `offline ${i + 1}/20`),
  );
  await cli('bob', 'chat', 'read', 'alice');
  await until(async () => events.filter((e) => e.type === 'receipt' && e.state === 'read').length >= 20);
  for (const id of sent) {
    const delivered = events.findIndex((e) => e.type === 'receipt' && e.id === id && e.state === 'delivered');
    const read = events.findIndex((e) => e.type === 'receipt' && e.id === id && e.state === 'read');
    assert.ok(delivered >= 0 && read > delivered, `${id}: delivered, then read`);
  }
  ws.close();
});

test('through a running twin: no token 401, malformed JSON 400, a 20 MB message 413, a non-contact refused', async () => {
  const port = running.get('alice')!.port;
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/chats`)).status, 401);
  const bad = await api('alice', 'POST', `/api/chats/${ids.bob}/messages`, '{"text":');
  assert.deepEqual([bad.status, bad.json.code], [400, 'bad_json']);
  const huge = await postLarge('alice', `/api/chats/${ids.bob}/messages`, 20 * 1024 * 1024);
  assert.deepEqual([huge.status, huge.code], [413, 'too_large']);
  assert.equal((await api('alice', 'GET', '/api/search?q=xxxxxxxx')).json.messages.length, 0);
  const stranger = await twin('chat', 'send', 'alice', 'hello?', '--home', home('carol'));
  assert.equal(stranger.code, 1);
  assert.match(stranger.stderr, /^twin: .*not a contact.*\(not_contact\)\n$/);
  assert.equal(
    (await api('alice', 'GET', '/api/search?q=hello%3F')).json.messages.every(
      (m: Json) => m.author !== ids.carol,
    ),
    true,
  );
});

test('every experience command says in one line that the twin is not running', async () => {
  const stopped = join(root, 'nobody');
  for (const args of [
    ['contacts', 'list'],
    ['contacts', 'add', 'bob'],
    ['chat', 'send', 'bob', 'hi'],
    ['chat', 'search', 'hi'],
    ['profile', 'get'],
    ['profile', 'set', '--status', 'away'],
  ]) {
    const r = await twin(...args, '--home', stopped);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(
      r.stderr,
      /^twin: twin is not running at .*: start it with `twin start --home .*` \(twin_not_running\)\n$/,
    );
  }
});
