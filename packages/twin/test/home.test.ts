import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { HomeLock, openStore, prepareHome, startDaemon, type TwinError } from '../src/index.ts';

const TWIN = new URL('../../cli/bin/twin.js', import.meta.url).pathname;
const READY_TRIES = 300;
let root: string;
let pb: RunningPhonebook;
const children: ChildProcess[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-home-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

function twin(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [TWIN, ...args]);
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => {
      out += d;
    });
    c.stderr.on('data', (d) => {
      err += d;
    });
    c.on('exit', (code) => resolve({ code, out: out.trim(), err: err.trim() }));
  });
}

/** `twin start` as a child process; resolves once its control socket answers. */
async function start(home: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [TWIN, 'start', '--home', home, '--phonebook', pb.url, '--no-yggdrasil'],
    {
      stdio: 'ignore',
    },
  );
  children.push(child);
  for (let i = 0; i < READY_TRIES; i++) {
    if ((await twin('bcdb', 'acl', 'list', '--home', home)).code === 0) return child;
    if (child.exitCode !== null) throw new Error(`twin start exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the twin did not start');
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));

function modes(dir: string, out: { path: string; mode: number; dir: boolean }[] = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    out.push({ path, mode: statSync(path).mode & 0o777, dir: e.isDirectory() });
    if (e.isDirectory()) modes(path, out);
  }
  return out;
}

test('bcdb rebuild and a second start refuse while the twin runs; a SIGKILLed twin leaves no lock behind', async () => {
  const home = join(root, 'alice');
  initIdentity({ home, name: 'alice' });
  let daemon = await start(home);
  const id = (await twin('bcdb', 'set', '--collection', 'notes', '--home', home, 'kept')).out;
  assert.match(id, /^\d+$/);

  const rebuild = await twin('bcdb', 'rebuild', '--home', home);
  assert.equal(rebuild.code, 1);
  assert.match(rebuild.err, /^twin: the twin at .* is running: stop it before rebuilding its BCDB index/);
  assert.equal(rebuild.err.split('\n').length, 1);
  const again = await twin('start', '--home', home, '--phonebook', pb.url, '--no-yggdrasil');
  assert.equal(again.code, 1);
  assert.match(again.err, /is running: stop it before starting it again/);
  // the live index was left alone
  assert.equal((await twin('bcdb', 'get', id, '--home', home)).out.split('\n')[1], 'kept');

  daemon.kill('SIGKILL');
  await exited(daemon);
  daemon = await start(home);
  assert.equal((await twin('bcdb', 'get', id, '--home', home)).out.split('\n')[1], 'kept');
  daemon.kill('SIGTERM');
  await exited(daemon);
  const rebuilt = await twin('bcdb', 'rebuild', '--home', home, '--json');
  assert.equal(rebuilt.code, 0, rebuilt.err);
  assert.ok((JSON.parse(rebuilt.out) as { records: number }).records >= 1);
});

test('HomeLock: one holder at a time; released by release() and by the death of its process', async () => {
  const home = prepareHome(join(root, 'lock'));
  const lock = HomeLock.acquire(home, 'testing');
  assert.throws(
    () => HomeLock.acquire(home, 'testing'),
    (e: TwinError) => e.code === 'twin_running',
  );
  assert.equal(HomeLock.held(home), true);
  lock.release();
  assert.equal(HomeLock.held(home), false);

  // another process takes the lock and is killed with SIGKILL: nothing to clean up after it
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import Database from 'better-sqlite3';
       const db = new Database(${JSON.stringify(join(home, 'twin.lock'))});
       db.pragma('locking_mode = EXCLUSIVE'); db.exec('BEGIN EXCLUSIVE; COMMIT');
       console.log('locked'); setInterval(() => {}, 1000);`,
    ],
    { cwd: new URL('.', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(holder);
  await new Promise((r) => holder.stdout!.once('data', r));
  assert.equal(HomeLock.held(home), true);
  holder.kill('SIGKILL');
  await exited(holder);
  HomeLock.acquire(home, 'testing').release();
});

test('the home and every file the twin writes in it are private, even in a home that was 0755', async () => {
  const home = join(root, 'bob');
  mkdirSync(home, { mode: 0o755 });
  chmodSync(home, 0o755);
  initIdentity({ home, name: 'bob' });
  chmodSync(join(home, 'keystore.json'), 0o644);
  writeFileSync(join(home, 'notes.txt'), 'left here by hand', { mode: 0o644 });
  const daemon = await startDaemon({ home, phonebook: pb.url, yggdrasil: 'off', qss: false });
  try {
    for (let i = 0; i < 20; i++) await daemon.bcdb.set('notes', Buffer.from(`note ${i}`));
    assert.equal(statSync(home).mode & 0o777, 0o700);
    const all = modes(home);
    for (const name of ['keystore.json', 'bcdb.sqlite', 'bus.sqlite', 'twin.lock', 'twin.sock', 'notes.txt'])
      assert.ok(
        all.some((f) => f.path === join(home, name)),
        `${name} exists`,
      );
    assert.ok(
      all.some((f) => f.path.includes(join('zdb', 'data'))),
      'zdb data files exist',
    );
    for (const f of all) assert.equal(f.mode & 0o077, 0, `${f.path} is ${f.mode.toString(8)}`);
  } finally {
    await daemon.stop();
  }
});

test('twin init tightens a home that already exists with mode 0755', async () => {
  const home = join(root, 'frank');
  mkdirSync(home, { mode: 0o755 });
  chmodSync(home, 0o755);
  const r = await twin('init', '--home', home, '--name', 'frank', '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal(statSync(home).mode & 0o777, 0o700);
  for (const f of modes(home)) assert.equal(f.mode & 0o077, 0, `${f.path} is ${f.mode.toString(8)}`);
});

test('the BCDB SELECTs its namespace with the namespace password: its connection has no admin rights', async () => {
  const home = prepareHome(join(root, 'carol'));
  for (let run = 0; run < 2; run++) {
    const store = await openStore(home, 1);
    try {
      await assert.rejects(store.zdb.nsnew(`intruder${run}`), /permission|denied|admin|auth/i);
      const meta = await store.bcdb.set('notes', Buffer.from(`run ${run}`));
      assert.equal((await store.bcdb.get(meta.id)).data.toString(), `run ${run}`);
    } finally {
      await store.close();
    }
  }
});

test('the running twin puts its addresses back when its phonebook record says otherwise', async () => {
  const home = join(root, 'dave');
  const { identity } = initIdentity({ home, name: 'dave' });
  const daemon = await startDaemon({
    home,
    phonebook: pb.url,
    yggdrasil: 'off',
    qss: false,
    recordCheckMs: 200,
  });
  try {
    const client = new PhonebookClient({ url: pb.url, cacheTtlMs: 0 });
    const listening = daemon.host.getMultiaddrs().map(String);
    assert.deepEqual((await client.twinByKey(identity.signingPublicKey))!.addresses, listening);
    // `twin phonebook register` from an older CLI, or a stale copy of the keys, wipes them
    await client.publish(identity, []);
    let addresses: string[] = [];
    for (let i = 0; i < READY_TRIES && addresses.join() !== listening.join(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      addresses = (await client.twinByKey(identity.signingPublicKey))!.addresses;
    }
    assert.deepEqual(addresses, listening);
  } finally {
    await daemon.stop();
  }
});

test('twin phonebook register without --address keeps the published addresses', async () => {
  const home = join(root, 'erin');
  const { identity } = initIdentity({ home, name: 'erin' });
  const client = new PhonebookClient({ url: pb.url, cacheTtlMs: 0 });
  await client.publish(identity, ['/ip4/127.0.0.1/tcp/4001']);
  const r = await twin('phonebook', 'register', '--home', home, '--phonebook', pb.url, '--json');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual((JSON.parse(r.out) as { addresses: string[] }).addresses, ['/ip4/127.0.0.1/tcp/4001']);
  assert.deepEqual((await client.twinByKey(identity.signingPublicKey))!.addresses, [
    '/ip4/127.0.0.1/tcp/4001',
  ]);
  const moved = await twin(
    'phonebook',
    'register',
    '--home',
    home,
    '--phonebook',
    pb.url,
    '--address',
    '/ip4/127.0.0.1/tcp/4002',
  );
  assert.equal(moved.code, 0, moved.err);
  assert.deepEqual((await client.twinByKey(identity.signingPublicKey))!.addresses, [
    '/ip4/127.0.0.1/tcp/4002',
  ]);
});
