/**
 * Files and posts with real `twin start` processes (alice, bob, carol) and a real phonebook,
 * through the CLI and the API: a large file shared read-only and fetched by bob with the same
 * SHA-256; a fetch whose TCP connections are cut half-way resumes (alice and bob publish the
 * address of a TCP relay in this test, so the test can cut every connection between them);
 * bob cannot write into a read-only share, carol (not granted) cannot list it; alice's post is in
 * bob's feed and not in carol's (no contact); no file in alice's or bob's home holds a file name
 * or a post text written here; path-traversal names are refused; a twin that does not run is one
 * line.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import WebSocket from 'ws';
import { freePort, TWIN, twin } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the CLI and the API print
type Json = any;

/**
 * Size of the shared file (MiB): TWIN_TEST_FILE_MIB, default 64 so that the test stays near a
 * minute on a loaded 2-core machine; TWIN_TEST_FILE_MIB=200 runs the 200 MiB (it passes,
 * in about 80 s there).
 */
const FILE_MIB = Number(process.env.TWIN_TEST_FILE_MIB ?? 64);

let root: string;
let pb: RunningPhonebook;
const running = new Map<string, { child: ChildProcess; port: number }>();
const relays: Relay[] = [];

/** A TCP relay on loopback to `target`; `cut()` destroys every connection it carries. */
class Relay {
  readonly sockets = new Set<Socket>();
  server!: Server;
  port = 0;
  cuts = 0;

  async start(target: number): Promise<void> {
    this.server = createServer((a) => {
      const b = connect(target, '127.0.0.1');
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        this.sockets.add(x);
        x.pipe(y);
        x.on('error', () => y.destroy());
        x.on('close', () => {
          this.sockets.delete(x);
          y.destroy();
        });
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.cuts++;
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}

const home = (name: string) => join(root, name);

async function start(name: string, relayed: boolean): Promise<void> {
  const args = [
    TWIN,
    'start',
    '--home',
    home(name),
    '--phonebook',
    pb.url,
    '--no-yggdrasil',
    '--api-port',
    '0',
  ];
  if (relayed) {
    const port = await freePort();
    const relay = new Relay();
    await relay.start(port);
    relays.push(relay);
    args.push('--listen', `/ip4/127.0.0.1/tcp/${port}`, '--announce', `/ip4/127.0.0.1/tcp/${relay.port}`);
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
      return;
    }
    if (child.exitCode !== null) throw new Error(`twin start ${name} exited: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`twin start ${name} did not come up: ${err}`);
}

async function cli(name: string, ...args: string[]): Promise<Json> {
  const r = await twin(...args, '--home', home(name), '--json');
  assert.equal(r.code, 0, `twin ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A CLI run that must fail: its one-line error. */
async function fails(name: string, ...args: string[]): Promise<string> {
  const r = await twin(...args, '--home', home(name));
  assert.notEqual(r.code, 0, `twin ${args.join(' ')} should fail: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return lines[0]!;
}

const token = (name: string) => readFileSync(join(home(name), 'api-token'), 'utf8').trim();

async function api(
  name: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`http://127.0.0.1:${running.get(name)!.port}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token(name)}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function until(f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TEXTS = {
  folder: 'Quarterly-archive-folder',
  file: 'expedition-footage.bin',
  locked: 'Read-only-drop-box',
  post: 'alice writes about the northern lights',
};

let bigPath: string;
let bigSha: string;
let bigId: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-files-cli-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  for (const name of ['alice', 'bob', 'carol']) initIdentity({ home: home(name), name });
  await Promise.all([start('alice', true), start('bob', true), start('carol', false)]);
  await cli('alice', 'contacts', 'add', 'bob');
  await until(async () => (await api('bob', 'GET', '/api/contacts/requests')).json.requests.length === 1);
  await cli('bob', 'contacts', 'accept', 'alice');
  await until(async () => (await api('alice', 'GET', '/api/contacts')).json.contacts.length === 1);
  // the large file, written in 1 MiB pieces of random bytes
  bigPath = join(root, TEXTS.file);
  const fd = openSync(bigPath, 'w');
  const hash = createHash('sha256');
  for (let i = 0; i < FILE_MIB; i++) {
    const piece = randomBytes(1024 * 1024);
    hash.update(piece);
    writeSync(fd, piece);
  }
  closeSync(fd);
  bigSha = hash.digest('hex');
});
after(async () => {
  for (const t of running.values()) t.child.kill('SIGKILL');
  for (const r of relays) r.close();
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

test(`a ${FILE_MIB} MiB file put, listed, shared read-only and fetched by bob with the same sha256`, async () => {
  await cli('alice', 'files', 'mkdir', `/${TEXTS.folder}`);
  let t0 = performance.now();
  const put = await cli('alice', 'files', 'put', bigPath, `/${TEXTS.folder}/`);
  const putS = (performance.now() - t0) / 1000;
  assert.equal(put.entry.size, FILE_MIB * 1024 * 1024);
  bigId = put.entry.id;
  const ls = await cli('alice', 'files', 'ls', `/${TEXTS.folder}`);
  assert.deepEqual(
    ls.entries.map((e: Json) => [e.name, e.size]),
    [[TEXTS.file, FILE_MIB * 1024 * 1024]],
  );
  assert.equal((await cli('alice', 'files', 'ls', '--search', 'FOOTAGE')).entries[0].id, bigId);
  await cli('alice', 'files', 'share', `/${TEXTS.folder}/${TEXTS.file}`, 'bob');
  const shared = await cli('bob', 'files', 'shared');
  assert.deepEqual(
    shared.items.map((i: Json) => [i.ownerName, i.id, i.name, i.mode]),
    [['alice', bigId, TEXTS.file, 'read']],
  );
  const out = join(root, 'fetched.bin');
  t0 = performance.now();
  const got = await cli('bob', 'files', 'get', `alice:${bigId}`, '--out', out);
  const getS = (performance.now() - t0) / 1000;
  assert.equal(got.bytes, FILE_MIB * 1024 * 1024);
  assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), bigSha);
  rmSync(out);
  console.log(
    `# ${FILE_MIB} MiB: put ${putS.toFixed(1)} s (${(FILE_MIB / putS).toFixed(0)} MiB/s), twin-to-twin get ${getS.toFixed(1)} s (${(FILE_MIB / getS).toFixed(0)} MiB/s)`,
  );
});

test('a fetch whose connections are cut half-way resumes from the last verified chunk', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${running.get('bob')!.port}/api/events`, {
    headers: { authorization: `Bearer ${token('bob')}` },
  });
  const events: Json[] = [];
  ws.on('message', (d) => events.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  const res = await fetch(`http://127.0.0.1:${running.get('bob')!.port}/api/shared/alice/${bigId}/content`, {
    headers: { authorization: `Bearer ${token('bob')}` },
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const hash = createHash('sha256');
  let received = 0;
  let cut = false;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    hash.update(r.value);
    received += r.value.length;
    if (!cut && received > (FILE_MIB * 1024 * 1024) / 2) {
      cut = true;
      for (const relay of relays) relay.cut();
    }
  }
  // the last progress event may trail the last byte
  await until(async () => events.some((e) => e.type === 'transfer.progress' && e.done === e.total), 5_000);
  ws.close();
  assert.equal(received, FILE_MIB * 1024 * 1024);
  assert.equal(hash.digest('hex'), bigSha);
  const resumed = events.filter((e) => e.type === 'transfer.resumed');
  assert.ok(resumed.length >= 1, 'the transfer was resumed');
  assert.ok(resumed[0].chunk >= FILE_MIB / 2 - 4, `resumed at chunk ${resumed[0].chunk}, not from the start`);
});

test('bob cannot write into a read-only share; carol (not granted) cannot list it', async () => {
  const box = await cli('alice', 'files', 'mkdir', `/${TEXTS.locked}`);
  await cli('alice', 'files', 'share', `/${TEXTS.locked}`, 'bob');
  const small = join(root, 'note.txt');
  rmSync(small, { force: true });
  const fd = openSync(small, 'w');
  writeSync(fd, 'a small note');
  closeSync(fd);
  assert.match(await fails('bob', 'files', 'put', small, '--to', `alice:${box.entry.id}`), /\(denied\)$/);
  assert.deepEqual((await api('alice', 'GET', `/api/files?path=/${TEXTS.locked}`)).json.entries, []);
  assert.equal((await cli('bob', 'files', 'shared', `alice:${box.entry.id}`)).entries.length, 0);
  assert.match(await fails('carol', 'files', 'shared', `alice:${box.entry.id}`), /\(denied\)$/);
  assert.match(
    await fails('carol', 'files', 'get', `alice:${bigId}`, '--out', join(root, 'x')),
    /\(denied\)$/,
  );
  // once read-write, bob's file lands in alice's folder
  await cli('alice', 'files', 'share', `/${TEXTS.locked}`, 'bob', '--write');
  await cli('bob', 'files', 'put', small, '--to', `alice:${box.entry.id}`);
  assert.deepEqual(
    (await api('alice', 'GET', `/api/files?path=/${TEXTS.locked}`)).json.entries.map((e: Json) => e.name),
    ['note.txt'],
  );
  await cli('alice', 'files', 'unshare', `/${TEXTS.locked}`, 'bob');
  assert.match(await fails('bob', 'files', 'shared', `alice:${box.entry.id}`), /\(denied\)$/);
});

test('path-traversal names are refused with bad_name, through the CLI and the API', async () => {
  const small = join(root, 'note.txt');
  for (const path of ['/../escape.txt', '/a/../../escape.txt', '/./x'])
    assert.match(await fails('alice', 'files', 'put', small, path), /\(bad_name\)$/);
  assert.match(await fails('alice', 'files', 'mkdir', '/ok/../..'), /\(bad_name\)$/);
  const r = await api('alice', 'PATCH', `/api/files/${bigId}`, { name: '..' });
  assert.deepEqual([r.status, r.json.code], [400, 'bad_name']);
  assert.match(
    await fails('alice', 'files', 'mv', `/${TEXTS.folder}/${TEXTS.file}`, '/a/../b'),
    /\(bad_name\)$/,
  );
});

test("alice's post is in bob's feed, not in carol's (no contact); likes and comments through the CLI", async () => {
  const post = (await cli('alice', 'posts', 'create', TEXTS.post)).post;
  const feed = await cli('bob', 'posts', 'feed');
  assert.equal(feed.posts.find((p: Json) => p.id === post.id)?.text, TEXTS.post);
  assert.equal((await cli('carol', 'posts', 'feed')).posts.length, 0);
  await cli('bob', 'posts', 'like', `alice:${post.id}`);
  const c = await cli('bob', 'posts', 'comment', `alice:${post.id}`, 'bob answers the post');
  await cli('alice', 'posts', 'comment', `me:${post.id}`, 'alice answers bob', '--reply-to', c.comment.id);
  await until(async () => {
    const mine = (await cli('alice', 'posts', 'feed')).posts.find((p: Json) => p.id === post.id);
    return mine.likes.count === 1 && mine.comments.length === 2;
  });
  const bobs = (await cli('bob', 'posts', 'feed')).posts.find((p: Json) => p.id === post.id);
  assert.deepEqual(
    bobs.comments.map((x: Json) => [x.authorName, x.text, x.replyTo ?? null]),
    [
      ['bob', 'bob answers the post', null],
      ['alice', 'alice answers bob', c.comment.id],
    ],
  );
  const extra = (await cli('alice', 'posts', 'create', 'a post deleted again')).post;
  await cli('alice', 'posts', 'delete', extra.id);
  assert.equal(
    (await cli('bob', 'posts', 'feed')).posts.some((p: Json) => p.id === extra.id),
    false,
  );
});

test("no file in alice's or bob's home holds a file name or a post text written in this test", async () => {
  const secrets = [
    TEXTS.folder,
    TEXTS.file,
    TEXTS.locked,
    TEXTS.post,
    'note.txt',
    'a small note',
    'bob answers the post',
    'alice answers bob',
    'a post deleted again',
  ];
  for (const name of ['alice', 'bob']) {
    const files = walk(home(name));
    assert.ok(
      files.some((f) => f.includes('zdb')),
      'the 0-db files are searched too',
    );
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const s of secrets) assert.equal(bytes.includes(s), false, `${file} holds "${s}"`);
    }
  }
});

test('a files or posts command while the twin does not run: one line saying how to start it', async () => {
  const nowhere = join(root, 'not-running');
  initIdentity({ home: nowhere, name: 'dave' });
  for (const args of [
    ['files', 'ls'],
    ['files', 'put', bigPath],
    ['files', 'get', `alice:${'a'.repeat(24)}`],
    ['files', 'shared'],
    ['posts', 'feed'],
    ['posts', 'create', 'hello'],
  ]) {
    const r = await twin(...args, '--home', nowhere);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr.trim(),
      /^twin: twin is not running at .*twin start --home .*\(twin_not_running\)$/,
    );
  }
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const s = statSync(p);
    if (s.isDirectory()) out.push(...walk(p));
    else if (s.isFile()) out.push(p);
  }
  return out;
}
