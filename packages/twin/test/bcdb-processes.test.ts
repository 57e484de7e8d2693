import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { Mailbox } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { mailboxPath } from '../src/index.ts';

const TWIN = new URL('../../cli/bin/twin.js', import.meta.url).pathname;
let root: string;
let pb: RunningPhonebook;
const daemons: ChildProcess[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bcdb-proc-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
});
after(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

function twin(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [TWIN, ...args, '--phonebook', pb.url]);
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => {
      out += d;
    });
    c.stderr.on('data', (d) => {
      err += d;
    });
    c.on('exit', (code) => resolve({ code, out: out.trim(), err }));
  });
}

async function make(name: string, daemon: boolean): Promise<{ home: string; id: number }> {
  const home = join(root, name);
  const { identity } = initIdentity({ home, name });
  const client = new PhonebookClient({ url: pb.url, cacheTtlMs: 0 });
  if (daemon) {
    const child = spawn(
      process.execPath,
      [TWIN, 'start', '--home', home, '--phonebook', pb.url, '--no-yggdrasil'],
      { stdio: 'ignore' },
    );
    daemons.push(child);
    for (let i = 0; i < 200; i++) {
      const r = await client.twinByKey(identity.signingPublicKey).catch(() => null);
      if (r && (await twin('bcdb', 'acl', 'list', '--home', home)).code === 0) return { home, id: r.id };
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`${name} did not start`);
  }
  return { home, id: (await client.publish(identity)).id };
}

test('BCDB ACL matrix and access requests between real twin processes, through the CLI', async () => {
  const alice = await make('alice', true);
  const bob = await make('bob', false);
  const carol = await make('carol', true);
  const dave = await make('dave', true);
  const eve = await make('eve', false);
  const a = (...args: string[]) => twin('bcdb', ...args, '--home', alice.home);
  const as = (who: { home: string }, ...args: string[]) =>
    twin('bcdb', ...args, '--home', who.home, '--twin', 'alice');

  const acl = (
    await a('acl', 'create', '--grant', `${bob.id}=rwd`, '--grant', `${eve.id}=r`, '--grant', `${dave.id}=r`)
  ).out;
  const doc = (await a('set', '--collection', 'docs', '--tag', 'kind=plan', '--acl', acl, 'the plan')).out;
  const diary = (await a('set', '--collection', 'docs', '--tag', 'kind=diary', 'dear diary')).out;
  await a('acl', 'revoke', acl, String(dave.id));
  const denied = (r: { code: number | null; err: string }) => r.code === 1 && /denied/.test(r.err);

  // get
  assert.match((await as(bob, 'get', doc)).out, /the plan/, 'granted');
  assert.ok(denied(await as(carol, 'get', doc)), 'never granted');
  assert.ok(denied(await as(dave, 'get', doc)), 'revoked');
  assert.ok(denied(await as(bob, 'get', diary)), 'private');
  // find
  assert.equal((await as(bob, 'find', '--collection', 'docs', '--json')).out.includes(`"id":${doc}`), true);
  assert.equal(JSON.parse((await as(carol, 'find', '--collection', 'docs', '--json')).out).objects.length, 0);
  // set (update)
  assert.equal((await as(bob, 'update', doc, '--data', 'the plan v2', '--expected-version', '1')).code, 0);
  assert.ok(denied(await as(eve, 'update', doc, '--data', 'hacked')), 'wrong permission: read only');
  assert.ok(denied(await as(carol, 'update', doc, '--data', 'hacked')));
  assert.match((await a('get', doc)).out, /the plan v2/);
  // delete
  assert.ok(denied(await as(eve, 'delete', doc)));
  assert.equal((await as(bob, 'delete', doc)).code, 0);
  assert.equal((await a('get', doc)).code, 1);

  // access requests: carol asks for the collection (approved), dave for the diary (declined)
  const photo = (await a('set', '--collection', 'photos', '--tag', 'album=summer', 'jpeg')).out;
  assert.match(
    (
      await twin(
        'bcdb',
        'request',
        '--home',
        carol.home,
        '--twin',
        'alice',
        '--collection',
        'photos',
        '--reason',
        'trip',
      )
    ).out,
    /pending/,
  );
  assert.match(
    (
      await twin(
        'bcdb',
        'request',
        '--home',
        dave.home,
        '--twin',
        'alice',
        '--object',
        diary,
        '--reason',
        'curious',
      )
    ).out,
    /pending/,
  );
  const pending = JSON.parse((await a('requests', '--json')).out) as { id: number; requester: number }[];
  assert.deepEqual(
    pending.map((r) => r.requester),
    [carol.id, dave.id],
  );
  assert.equal((await a('approve', String(pending[0]!.id))).code, 0);
  assert.equal((await a('decline', String(pending[1]!.id))).code, 0);
  assert.match((await as(carol, 'get', photo)).out, /jpeg/);
  assert.ok(denied(await as(dave, 'get', diary)));
  // both requesters are told, by a reliable message, in their inboxes
  const decision = async (who: { home: string }) => {
    for (let i = 0; i < 100; i++) {
      const box = new Mailbox(mailboxPath(who.home));
      const got = box.inbox(alice.id).find((m) => m.command === 'bcdb.access.decision');
      box.close();
      if (got) return JSON.parse(got.payload.toString()) as { status: string };
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  };
  assert.equal((await decision(carol))?.status, 'approved');
  assert.equal((await decision(dave))?.status, 'declined');
});

test("the twin's own 0-db does not open its BCDB namespace to other local processes", async () => {
  const { openStore, BCDB_NAMESPACE } = await import('../src/index.ts');
  const { ZdbClient } = await import('@twin/zdb');
  const home = join(root, 'store-check');
  const store = await openStore(home, 1);
  await store.bcdb.set('secrets', Buffer.from('private'));
  const zdbPort = store.port;
  const stranger = new ZdbClient({ port: zdbPort });
  await assert.rejects(stranger.select(BCDB_NAMESPACE), /Namespace protected and private/);
  await assert.rejects(stranger.set('x', 'y'), /read-only/);
  stranger.close();
  await store.close();
});
