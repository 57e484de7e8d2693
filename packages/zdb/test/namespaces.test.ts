/**
 * 0-db v2 namespace behaviour (issue 10, items 4, 12, 13, 14): NSDEL under a client that has the
 * namespace selected, the mixed-mode default and `NSSET ns mode`, SELECT passwords for every client
 * (the admin included), RELOAD, and namespace names compared as bytes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ZdbClient, ZdbError } from '../src/index.ts';
import { DEFAULT_OPTIONS } from '../src/server/server.ts';
import { ADMIN, exchange, resp, startServer, text } from './helpers.ts';

const err = (message: string) => (e: unknown) =>
  e instanceof ZdbError && e.kind === 'reply' && e.message === message;

const REMOVED = 'Your active namespace is not available anymore (probably removed).';

describe('NSDEL of a namespace another client has selected (item 4)', () => {
  test("that client's next command gets a clear error; every other namespace and client keeps working", async () => {
    const s = await startServer({ mode: 'mix' });
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('doomed');
    await admin.nsnew('other');
    const victim = new ZdbClient({ port: s.port, namespace: 'doomed' });
    const bystander = new ZdbClient({ port: s.port, namespace: 'other' });
    await victim.set('before', 'v');
    await bystander.set('b0', 'v');

    await admin.nsdel('doomed');
    await assert.rejects(victim.set('after', 'v'), err(REMOVED));
    await new Promise((r) => setTimeout(r, 100)); // the server closes that session
    // The session is closed (as 0-db does); reconnecting replays SELECT, which now fails.
    await assert.rejects(victim.get('before'), err('Namespace not found'));

    // Writes everywhere else still work, from every client.
    await bystander.set('b1', 'v1');
    assert.deepEqual(await bystander.get('b1'), Buffer.from('v1'));
    await admin.set('a1', 'v1');
    assert.deepEqual(await admin.get('a1'), Buffer.from('v1'));
    // The name can be created again, empty: the refused write was never stored.
    await admin.nsnew('doomed');
    const fresh = new ZdbClient({ port: s.port, namespace: 'doomed' });
    assert.equal(await fresh.get('after'), null);
    assert.equal(await fresh.get('before'), null);
    await fresh.set('again', 'v');
    assert.equal(await fresh.dbsize(), 1);

    // Pipelined replies all arrive, on another connection.
    const batch: Buffer[] = [resp('SELECT', 'other')];
    for (let i = 0; i < 50; i++) batch.push(resp('SET', `p${i}`, `v${i}`), resp('GET', `p${i}`));
    const { replies } = await exchange(s.port, [Buffer.concat(batch)], 101);
    assert.equal(replies.length, 101);
    assert.equal(text(replies[100]!), 'v49');
    assert.ok(replies.every((r) => !String(text(r)).startsWith('-')));

    for (const c of [admin, victim, bystander, fresh]) c.close();
    await s.stop(); // shutdown works (it used to fail on the deleted namespace's staged write)
  });

  test('a pipelined batch behind the deletion gets the error once, then the connection closes', async () => {
    const s = await startServer({ mode: 'mix' });
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('gone');
    const raw = exchange(
      s.port,
      [resp('SELECT', 'gone'), Buffer.concat([resp('SET', 'a', 'b'), resp('PING')])],
      3,
      300,
    );
    await new Promise((r) => setTimeout(r, 100));
    await admin.nsdel('gone');
    const { replies, closed } = await raw;
    assert.deepEqual(replies.map(text), ['+OK', `-${REMOVED}`]);
    assert.ok(closed);
    admin.close();
    await s.stop();
  });
});

test('a write that fails to reach the file is answered with an error and is not readable after', async () => {
  const s = await startServer();
  const c = new ZdbClient({ port: s.port });
  await c.set('a', 'stored');
  const storage = (s.server.engine.namespace('default') as unknown as { storage: { commit(): void } })
    .storage;
  const commit = storage.commit.bind(storage);
  storage.commit = () => {
    storage.commit = commit;
    throw new Error('no space left on device'); // one failing commit, as a full disk gives
  };
  await assert.rejects(c.set('b', 'lost'), err('Internal Error: write failed'));
  assert.equal(await c.get('b'), null, 'a write that was not stored is not readable');
  assert.deepEqual(await c.get('a'), Buffer.from('stored'));
  await c.set('c', 'after');
  assert.deepEqual(await c.get('c'), Buffer.from('after'));
  assert.equal(await c.dbsize(), 2);
  c.close();
  await s.stop();
});

describe('mixed mode by default, NSSET ns mode (item 12)', () => {
  test('without --mode the server runs in mixed mode; NSSET ns mode seq / user on a fresh namespace', async () => {
    assert.equal(DEFAULT_OPTIONS.mode, 'mix');
    const s = await startServer();
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    assert.equal((await admin.info()).mode, 'mixed');
    await admin.nsnew('seqns');
    await admin.nsset('seqns', 'mode', 'seq');
    assert.equal((await admin.nsinfo('seqns')).mode, 'sequential');
    await admin.select('seqns');
    const id = await admin.append('first');
    assert.deepEqual(id, Buffer.alloc(8));
    await assert.rejects(admin.nsset('seqns', 'mode', 'user'), err('Cannot change mode of used namespace'));
    await admin.nsnew('userns');
    await assert.rejects(
      admin.nsset('userns', 'mode', 'direct'),
      err('Invalid property value (expected: user, seq)'),
    );
    await admin.nsset('userns', 'mode', 'seq');
    await admin.nsset('userns', 'mode', 'user');
    await admin.select('userns');
    await admin.set('named', 'v');
    // The default namespace's mode may change too while it is fresh (0-db allows it).
    await admin.nsset('default', 'mode', 'user');
    admin.close();
    await s.stop();
  });

  test('a single-mode server refuses NSSET mode with 0-db’s error', async () => {
    const s = await startServer({ mode: 'user' });
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('x');
    await assert.rejects(
      admin.nsset('x', 'mode', 'seq'),
      err('This server instance is configured to use a single runtime mode'),
    );
    admin.close();
    await s.stop();
  });
});

describe('SELECT of a password-protected namespace (item 13)', () => {
  test('the admin needs the password too; wrong, missing or too long passwords are refused', async () => {
    const s = await startServer();
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('pub');
    await admin.nsset('pub', 'password', 'pw');
    await admin.nsnew('priv');
    await admin.nsset('priv', 'password', 'pw');
    await admin.nsset('priv', 'public', '0');
    await admin.select('pub', 'pw');
    await admin.set('k', 'v');

    // public + no password: read-only, for the admin as for anyone.
    await admin.select('pub');
    assert.deepEqual(await admin.get('k'), Buffer.from('v'));
    await assert.rejects(admin.set('k2', 'v'), err('Namespace is in read-only mode'));
    await assert.rejects(admin.del('k'), err('Namespace is in read-only mode'));
    await assert.rejects(admin.select('pub', 'wrong'), err('Access denied'));
    await assert.rejects(admin.select('pub', 'x'.repeat(256)), err('Password too long'));
    await assert.rejects(admin.select('priv'), err('Namespace protected and private'));
    await assert.rejects(admin.select('priv', 'wrong'), err('Access denied'));
    await admin.select('priv', 'pw');
    await admin.set('p', 'q');
    // NSSET still works for the admin wherever it is.
    await admin.nsset('pub', 'maxsize', '1000000');
    admin.close();
    await s.stop();
  });

  test('SELECT ... SECURE: the admin answers the challenge with the namespace password', async () => {
    const s = await startServer();
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('sec');
    await admin.nsset('sec', 'password', 'pw');
    await admin.nsset('sec', 'public', '0');
    await admin.command('AUTH', 'SECURE', 'CHALLENGE');
    await assert.rejects(admin.command('SELECT', 'sec', 'SECURE', 'f'.repeat(40)), err('Access denied'));
    admin.close();
    await s.stop();
  });
});

describe('RELOAD and namespace names (item 14)', () => {
  test('RELOAD ns reloads it from disk; clients on it keep working; admin only', async () => {
    const s = await startServer();
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('r');
    const user = new ZdbClient({ port: s.port, namespace: 'r' });
    for (let i = 0; i < 100; i++) await user.set(`k${i}`, `v${i}`);
    await user.del('k5');
    assert.equal(text(await admin.command('RELOAD', 'r')), '+OK');
    assert.equal(await user.dbsize(), 99);
    assert.deepEqual(await user.get('k99'), Buffer.from('v99'));
    assert.equal(await user.get('k5'), null);
    await user.set('k100', 'v100');
    assert.equal(await user.dbsize(), 100);
    await assert.rejects(user.command('RELOAD', 'r'), err('Permission denied'));
    await assert.rejects(admin.command('RELOAD', 'missing'), err('Namespace not found'));
    admin.close();
    user.close();
    await s.stop();
  });

  test('control characters and invalid UTF-8 are refused; names are compared as bytes', async () => {
    const s = await startServer();
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    for (const bad of ['a\x01b', 'tab\there', 'nl\n', 'del\x7f'])
      await assert.rejects(admin.nsnew(bad), err('This name is not allowed'), JSON.stringify(bad));
    await assert.rejects(admin.command('NSNEW', Buffer.from([0xff, 0x61])), err('This name is not allowed'));
    // Two byte strings that both decode to "\ufffda" must never name the same namespace.
    await assert.rejects(admin.command('SELECT', Buffer.from([0xfe, 0x61])), err('Namespace not found'));
    await admin.command('NSNEW', Buffer.from('café'));
    await assert.rejects(admin.command('SELECT', Buffer.from('cafe\u0301')), err('Namespace not found'));
    await admin.command('SELECT', Buffer.from('café'));
    assert.ok((await admin.nslist()).includes('café'));
    admin.close();
    await s.stop();
  });
});
