import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ZdbClient, ZdbError, ZdbServer } from '../src/index.ts';
import { ReplyError, Status } from '../src/resp/replies.ts';
import { ADMIN, exchange, freePort, resp, startServer, tempDir } from './helpers.ts';

const execFileAsync = promisify(execFile);

const err = (message: string) => (e: unknown) =>
  e instanceof ZdbError && e.kind === 'reply' && e.message === message;

describe('zdb server: data commands', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let c: ZdbClient;
  before(async () => {
    s = await startServer();
    c = new ZdbClient({ port: s.port });
  });
  after(async () => {
    c.close();
    await s.stop();
  });

  test('PING, SET returns the key, GET, identical SET returns nil', async () => {
    assert.equal(await c.ping(), 'PONG');
    assert.deepEqual(await c.set('k', 'v'), Buffer.from('k'));
    assert.deepEqual(await c.get('k'), Buffer.from('v'));
    assert.equal(await c.set('k', 'v'), null);
    assert.equal(await c.get('absent'), null);
    const binary = Buffer.from([0, 1, 2, 13, 10, 255]);
    await c.set(binary, binary);
    assert.deepEqual(await c.get(binary), binary);
  });

  test('EXISTS, CHECK, LENGTH, KEYTIME, MGET, DEL, DBSIZE, TIME', async () => {
    await c.set('a', 'alpha');
    assert.equal(await c.exists('a'), true);
    assert.equal(await c.exists('nope'), false);
    assert.equal(await c.check('a'), true);
    assert.equal(await c.check('nope'), null);
    assert.equal(await c.length('a'), 5);
    assert.equal(await c.length('nope'), null);
    const t = (await c.keytime('a'))!;
    assert.ok(Math.abs(t - Date.now() / 1000) < 5);
    assert.deepEqual(await c.mget('a', 'nope', 'k'), [Buffer.from('alpha'), null, Buffer.from('v')]);
    const before = await c.dbsize();
    await c.del('a');
    assert.equal(await c.get('a'), null);
    assert.equal(await c.dbsize(), before - 1);
    await assert.rejects(c.del('a'), err('Key not found'));
    const time = await c.time();
    assert.ok(Math.abs(time.seconds - Date.now() / 1000) < 5 && time.micros < 1_000_000);
  });

  test('error paths answer 0-db texts and keep the connection usable', async () => {
    const { replies } = await exchange(
      s.port,
      [
        Buffer.concat([
          resp('FOO'),
          resp('GET'),
          resp('GET', ''),
          resp('SET', 'x'.repeat(256), 'v'),
          resp('GET', 'x'.repeat(256)),
          resp('NSNEW', 'nope'),
          resp('SELECT', 'missing'),
          resp('SCAN', 'bad'),
          resp('HISTORY', 'missing'),
          resp('KEYCUR', 'missing'),
          resp('AUTH', 'wrong'),
          resp('PING'),
        ]),
      ],
      12,
    );
    const texts = replies.map((r) =>
      r instanceof ReplyError ? `-${r.message}` : r instanceof Status ? `+${r.value}` : r,
    );
    assert.deepEqual(texts, [
      '-Command not supported',
      '-Unexpected arguments',
      '-Invalid argument',
      '-Key too large',
      '-Invalid key',
      '-Permission denied',
      '-Namespace not found',
      '-Invalid key format',
      '-Key not found',
      '-Key not found',
      '-Access denied',
      '+PONG',
    ]);
  });

  test('SCAN/RSCAN walk every key with cursors; KEYCUR; No more data at the end', async () => {
    await c.auth(ADMIN);
    await c.nsnew('scan');
    await c.select('scan');
    for (let i = 0; i < 1200; i++) await c.set(`s${i}`, `${i}`);
    const seen: string[] = [];
    for await (const e of c.keys()) seen.push(e.key.toString());
    assert.equal(seen.length, 1200);
    assert.equal(seen[0], 's0');
    assert.equal(seen[1199], 's1199');
    const back = (await c.rscan())!;
    assert.equal(back.entries[0]!.key.toString(), 's1199');
    const cur = await c.keycur('s1198');
    const next = (await c.scan(cur))!;
    assert.deepEqual(
      next.entries.map((e) => e.key.toString()),
      ['s1199'],
    );
    assert.equal(await c.scan(next.cursor), null);
    await c.select('default');
  });

  test('HISTORY walks previous versions', async () => {
    await c.set('h', 'one');
    await c.set('h', 'two');
    const h2 = await c.history('h');
    assert.deepEqual(h2.payload, Buffer.from('two'));
    assert.ok(h2.previous);
    const h1 = await c.history('h', h2.previous!);
    assert.deepEqual(h1.payload, Buffer.from('one'));
    assert.equal(h1.previous, null);
    await assert.rejects(c.history('other', h2.previous!), err('Invalid arguments (invalid key)'));
    await assert.rejects(c.command('HISTORY', 'h', Buffer.alloc(8)), err('No more history'));
  });

  test('INFO and NSINFO report fields clients parse', async () => {
    const info = await c.info();
    assert.equal(info.server_name, '0-db (zdb)');
    const ns = await c.nsinfo('default');
    assert.equal(ns.name, 'default');
    assert.ok(ns.entries > 0);
    assert.ok(ns.dataDiskFreespaceBytes > 0);
    assert.equal(ns.mode, 'userkey');
  });
});

describe('zdb server: namespaces, passwords, admin', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    s = await startServer({ mode: 'mix' });
  });
  after(async () => s.stop());

  test('NSNEW/NSSET/NSLIST/NSDEL need admin; password and public rules of SELECT', async () => {
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('priv');
    await admin.nsset('priv', 'password', 'pw');
    await admin.nsset('priv', 'public', '0');
    await admin.nsnew('pub');
    await admin.nsset('pub', 'password', 'pw');
    await assert.rejects(admin.nsnew('priv'), err('This namespace is not available'));
    await assert.rejects(admin.nsnew('a/b'), err('This name is not allowed'));
    await assert.rejects(admin.nsset('default', 'password', 'x'), err('Cannot update default namespace'));
    await assert.rejects(admin.command('NSSET', 'pub', 'color', 'x'), err('Invalid property'));
    assert.deepEqual((await admin.nslist()).sort(), ['default', 'priv', 'pub']);

    const user = new ZdbClient({ port: s.port });
    await assert.rejects(user.nsnew('x'), err('Permission denied'));
    await assert.rejects(user.select('priv'), err('Namespace protected and private'));
    await assert.rejects(user.select('priv', 'wrong'), err('Access denied'));
    await user.select('pub');
    assert.equal(await user.get('nothing'), null);
    await assert.rejects(user.set('k', 'v'), err('Namespace is in read-only mode'));
    await user.select('pub', 'pw');
    await user.set('k', 'v');
    assert.deepEqual(await user.get('k'), Buffer.from('v'));
    await assert.rejects(user.flush(), err('Flushing public namespace denied'));
    await user.select('priv', 'pw');
    await user.set('p', 'q');
    await user.flush();
    assert.equal(await user.dbsize(), 0);

    await assert.rejects(admin.nsdel('default'), err('Cannot remove default namespace'));
    await admin.select('pub', 'pw');
    await assert.rejects(admin.nsdel('pub'), err("Cannot remove namespace you're currently using."));
    await admin.select('default');
    await admin.nsdel('pub');
    await assert.rejects(admin.nsinfo('pub'), err('Namespace not found'));
    user.close();
    admin.close();
  });

  test('maxsize is enforced byte-exactly over the wire', async () => {
    const c = new ZdbClient({ port: s.port, admin: ADMIN });
    await c.nsnew('small');
    await c.nsset('small', 'maxsize', 100);
    await c.select('small');
    await c.set('a', Buffer.alloc(60));
    await assert.rejects(c.set('b', Buffer.alloc(41)), err('No space left on this namespace'));
    await c.set('b', Buffer.alloc(40));
    assert.equal((await c.nsinfo('small')).dataSizeBytes, 100);
    c.close();
  });

  test('seq mode per namespace in mixed mode: 8-byte little-endian ids, only updates of existing ids', async () => {
    const c = new ZdbClient({ port: s.port, admin: ADMIN });
    await c.nsnew('seq');
    await c.nsset('seq', 'mode', 'seq');
    await c.select('seq');
    const id0 = await c.append('first');
    const id1 = await c.append('second');
    assert.equal(id0.length, 8);
    assert.equal(id1.readBigUInt64LE(0), id0.readBigUInt64LE(0) + 1n);
    assert.deepEqual(await c.get(id1), Buffer.from('second'));
    await c.set(id0, 'first-updated');
    assert.deepEqual(await c.get(id0), Buffer.from('first-updated'));
    await assert.rejects(c.set(Buffer.alloc(8, 9), 'x'), err('Invalid key, only update authorized'));
    await assert.rejects(c.nsset('seq', 'mode', 'user'), err('Cannot change mode of used namespace'));
    c.close();
  });

  test('AUTH SECURE challenge-response and SELECT SECURE', async () => {
    const c = new ZdbClient({ port: s.port });
    await assert.rejects(
      c.command('AUTH', 'SECURE', 'a'.repeat(40)),
      err('No CHALLENGE requested, secure authentication not available'),
    );
    await c.authSecure(ADMIN);
    await c.nsnew('secure-ns');
    await c.nsset('secure-ns', 'password', 'nspw');
    const other = new ZdbClient({ port: s.port });
    const nonce = ((await other.command('AUTH', 'SECURE', 'CHALLENGE')) as Status).value;
    const { createHash } = await import('node:crypto');
    const bad = createHash('sha1').update(`${nonce}:wrong`).digest('hex');
    await assert.rejects(other.command('SELECT', 'secure-ns', 'SECURE', bad), err('Access denied'));
    const nonce2 = ((await other.command('AUTH', 'SECURE', 'CHALLENGE')) as Status).value;
    const good = createHash('sha1').update(`${nonce2}:nspw`).digest('hex');
    await other.command('SELECT', 'secure-ns', 'SECURE', good);
    await other.command('SET', 'x', 'y');
    other.close();
    c.close();
  });

  test('WAIT answers when another client runs the watched command, or times out', async () => {
    const waiter = new ZdbClient({ port: s.port });
    const writer = new ZdbClient({ port: s.port });
    const waiting = waiter.command('WAIT', 'SET', 5000);
    await new Promise((r) => setTimeout(r, 100));
    await writer.set('wake', 'up');
    assert.deepEqual(await waiting, new Status('SET'));
    await assert.rejects(waiter.command('WAIT', 'DEL', 100), err('Timeout'));
    await assert.rejects(waiter.command('WAIT', 'NOPE'), err('Unknown command to watch'));
    waiter.close();
    writer.close();
  });
});

describe('zdb server: protocol robustness', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    s = await startServer({ limits: { maxBulk: 1024 * 1024, maxArgs: 1000 } });
  });
  after(async () => s.stop());

  test('a pipeline arriving one byte at a time', async () => {
    const bytes = Buffer.concat([resp('SET', 'slow', 'value'), resp('GET', 'slow'), resp('PING')]);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const { replies } = await exchange(s.port, chunks, 3, 1);
    assert.deepEqual(replies, [Buffer.from('slow'), Buffer.from('value'), new Status('PONG')]);
  });

  test('1,000 pipelined commands in one write', async () => {
    const cmds: Buffer[] = [];
    for (let i = 0; i < 500; i++) cmds.push(resp('SET', `p${i}`, `v${i}`), resp('GET', `p${i}`));
    const { replies } = await exchange(s.port, [Buffer.concat(cmds)], 1000);
    assert.equal(replies.length, 1000);
    for (let i = 0; i < 500; i++) {
      assert.deepEqual(replies[2 * i], Buffer.from(`p${i}`));
      assert.deepEqual(replies[2 * i + 1], Buffer.from(`v${i}`));
    }
  });

  test('100 simultaneous clients', async () => {
    const clients = Array.from({ length: 100 }, () => new ZdbClient({ port: s.port }));
    await Promise.all(clients.map((c, i) => c.set(`c${i}`, `client-${i}`)));
    const got = await Promise.all(clients.map((c, i) => c.get(`c${(i + 1) % 100}`)));
    for (const [i, g] of got.entries()) assert.deepEqual(g, Buffer.from(`client-${(i + 1) % 100}`));
    for (const c of clients) c.close();
  });

  test('malformed input: a clear protocol error, the connection closes, the server keeps serving', async () => {
    for (const garbage of [
      '*abc\r\n',
      '*1\r\n+bad\r\n',
      '*2\r\n$3\r\nGET\r\n$-5\r\n',
      '*1\r\n$4\r\nPINGxx',
    ]) {
      const { replies, closed } = await exchange(s.port, [garbage], 1);
      assert.ok(replies[0] instanceof ReplyError, `reply to ${JSON.stringify(garbage)}`);
      assert.match((replies[0] as ReplyError).message, /^Protocol error/);
      assert.equal(closed || replies.length === 1, true);
    }
    const oversized = `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${2 * 1024 * 1024}\r\n`;
    const { replies } = await exchange(s.port, [oversized], 1);
    assert.match((replies[0] as ReplyError).message, /invalid bulk length/);
    const tooMany = `*100000\r\n`;
    assert.match(
      ((await exchange(s.port, [tooMany], 1)).replies[0] as ReplyError).message,
      /multibulk length/,
    );
    const { replies: ok } = await exchange(s.port, [resp('PING')], 1);
    assert.deepEqual(ok, [new Status('PONG')]);
  });

  test('inline commands (telnet style)', async () => {
    const { replies } = await exchange(s.port, ['PING\r\nSET inline yes\r\nGET inline\r\n'], 3);
    assert.deepEqual(replies, [new Status('PONG'), Buffer.from('inline'), Buffer.from('yes')]);
  });

  test('a 1 MiB value round-trips in many chunks', async () => {
    const c = new ZdbClient({ port: s.port });
    const big = Buffer.alloc(1024 * 1024 - 16, 7);
    await c.set('big', big);
    assert.deepEqual(await c.get('big'), big);
    c.close();
  });
});

describe('zdb server: --protect, unix socket, hooks, redis-cli', () => {
  test('--protect: the default namespace is read-only until AUTH', async () => {
    const s = await startServer({ protect: true });
    const c = new ZdbClient({ port: s.port });
    await assert.rejects(c.set('k', 'v'), err('Namespace is in read-only mode'));
    await c.auth(ADMIN);
    await c.set('k', 'v');
    c.close();
    await s.stop();
  });

  test('unix socket and hooks (ready, namespace-created, jump-data, close)', async () => {
    const dir = tempDir('zdb-hook-');
    const log = join(dir.path, 'events.log');
    const hook = join(dir.path, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\necho "$@" >> ${log}\n`, { mode: 0o755 });
    const socket = join(dir.path, 'zdb.sock');
    const s = await startServer({ socket, hook, datasize: 4096 });
    assert.ok(existsSync(socket));
    const c = new ZdbClient({ path: socket, admin: ADMIN });
    await c.nsnew('hooked');
    await c.select('hooked');
    for (let i = 0; i < 20; i++) await c.set(`k${i}`, Buffer.alloc(500, i));
    c.close();
    await s.stop();
    await new Promise((r) => setTimeout(r, 300));
    const events = readFileSync(log, 'utf8');
    for (const ev of ['ready', 'namespace-created', 'jump-data', 'jump-index', 'close'])
      assert.match(events, new RegExp(`^${ev} `, 'm'));
    assert.match(events, /^namespace-created \d+ hooked$/m);
    dir.cleanup();
  });

  test('redis-cli works against the server', async (t) => {
    if (spawnSync('redis-cli', ['--version']).status !== 0) {
      t.skip('redis-cli is not installed (Debian package redis-tools)');
      return;
    }
    const s = await startServer();
    // The server runs in this process: run redis-cli asynchronously so the event loop can answer it.
    const cli = async (...args: string[]) =>
      (await execFileAsync('redis-cli', ['-p', String(s.port), ...args], { encoding: 'utf8' })).stdout.trim();
    assert.equal(await cli('PING'), 'PONG');
    assert.equal(await cli('SET', 'from-cli', 'hello'), 'from-cli');
    assert.equal(await cli('GET', 'from-cli'), 'hello');
    assert.equal(await cli('EXISTS', 'from-cli'), '1');
    assert.match(await cli('INFO'), /server_name: 0-db \(zdb\)/);
    assert.match(await cli('NSINFO', 'default'), /entries: 1/);
    assert.equal(await cli('DEL', 'nope'), 'Key not found');
    assert.equal(await cli('AUTH', 'wrong'), 'Access denied');
    await s.stop();
  });
});

test('after a server restart the client reconnects by itself, replaying AUTH and SELECT', async () => {
  const dir = tempDir('zdb-reconnect-');
  const port = await freePort();
  const opts = { port, data: join(dir.path, 'data'), index: join(dir.path, 'index'), admin: ADMIN };
  let server = await ZdbServer.start(opts);
  const c = new ZdbClient({ port, admin: ADMIN });
  await c.nsnew('re');
  await c.select('re');
  await c.set('x', '1');
  await server.close();
  await assert.rejects(c.get('x'), (e: unknown) => e instanceof ZdbError && e.kind === 'connection');
  server = await ZdbServer.start(opts);
  assert.deepEqual(await c.get('x'), Buffer.from('1'), 'reads the selected namespace again');
  assert.equal(await c.dbsize(), 1);
  c.close();
  await server.close();
  dir.cleanup();
});
