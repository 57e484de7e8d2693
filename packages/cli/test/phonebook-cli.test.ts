import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, TWIN, twin } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'twin-cli-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

async function serve(args: string[], port: number): Promise<string> {
  const child = spawn(process.execPath, [TWIN, 'phonebook', 'serve', '--port', String(port), ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return url;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('phonebook did not start');
}

test('two twins made with `twin init` find each other verified, through a server and a replica', async () => {
  const alice = join(root, 'alice');
  const bob = join(root, 'bob');
  const a = await twin('init', '--home', alice, '--name', 'alice', '--json');
  assert.equal(a.code, 0, a.stderr);
  const aliceInfo = JSON.parse(a.stdout) as { mnemonic: string; signingKey: string };
  assert.equal(aliceInfo.mnemonic.split(' ').length, 24);
  assert.equal(statSync(join(alice, 'keystore.json')).mode & 0o777, 0o600);
  const human = await twin('init', '--home', bob, '--name', 'bob');
  assert.match(human.stdout, /write it down/);
  assert.equal((await twin('init', '--home', bob, '--name', 'bob')).code, 1, 'refuses to overwrite');
  assert.match((await twin('init', '--home', join(root, 'x'), '--name', 'Bad')).stderr, /invalid name/);

  const server = await serve(['--data', join(root, 'pb')], await freePort());
  const replica = await serve(['--data', join(root, 'replica'), '--follow', server], await freePort());
  assert.equal(
    (
      await twin(
        'phonebook',
        'register',
        '--home',
        alice,
        '--phonebook',
        server,
        '--address',
        '/ip4/127.0.0.1/tcp/4001',
      )
    ).code,
    0,
  );
  assert.equal(
    (
      await twin(
        'phonebook',
        'register',
        '--home',
        bob,
        '--phonebook',
        server,
        '--address',
        '/ip4/127.0.0.1/tcp/4002',
      )
    ).code,
    0,
  );

  // alice looks bob up through the server, bob looks alice up through the replica
  const viaServer = await twin('lookup', 'bob', '--phonebook', server, '--json');
  assert.equal(viaServer.code, 0, viaServer.stderr);
  assert.deepEqual(JSON.parse(viaServer.stdout).addresses, ['/ip4/127.0.0.1/tcp/4002']);
  let viaReplica = await twin('lookup', 'alice', '--phonebook', replica, '--json');
  for (let i = 0; i < 40 && viaReplica.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    viaReplica = await twin('lookup', 'alice', '--phonebook', replica, '--json');
  }
  assert.equal(viaReplica.code, 0, viaReplica.stderr);
  const record = JSON.parse(viaReplica.stdout) as { signingKey: string; id: number };
  assert.equal(record.signingKey, aliceInfo.signingKey);
  const byId = await twin('lookup', String(record.id), '--phonebook', replica);
  assert.match(byId.stdout, /alice \(verified\)/);

  const missing = await twin('lookup', 'carol', '--phonebook', server);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no twin carol/);
  const list = await twin('phonebook', 'list', '--phonebook', server, '--json');
  assert.deepEqual(
    (JSON.parse(list.stdout) as { name: string }[]).map((t) => t.name),
    ['alice', 'bob'],
  );
});

test('`phonebook serve --client-writes` throttles a client: a refused write is one line naming the wait', async () => {
  const server = await serve(
    ['--data', join(root, 'pb-limited'), '--client-writes', '2/1h'],
    await freePort(),
  );
  const results = [];
  for (const name of ['dora', 'emil', 'finn']) {
    const home = join(root, name);
    assert.equal((await twin('init', '--home', home, '--name', name)).code, 0);
    results.push(
      await twin(
        'phonebook',
        'register',
        '--home',
        home,
        '--phonebook',
        server,
        '--address',
        '/ip4/127.0.0.1/tcp/4001',
      ),
    );
  }
  assert.deepEqual(
    results.slice(0, 2).map((r) => r.code),
    [0, 0],
    results[0]?.stderr,
  );
  const refused = results[2]!;
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /rate_limited|too many/i);
  assert.doesNotMatch(refused.stderr, /\n\s+at /);
});
