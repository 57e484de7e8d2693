/**
 * The grid through the real `twin` binary: three node agents in two farms register and show up;
 * a twin deploys zdb namespaces on all three and a QSS configuration built from the results
 * stores and reads a file; a killed node goes suspect then down; a restarted one restores its
 * deployments; cancelling removes the workloads.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { startNodeAgent, twin, until } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'twin-grid-cli-'));
const agents: ChildProcess[] = [];
let pb: RunningPhonebook;
let env: string[];

after(async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
  await pb?.close();
  rmSync(root, { recursive: true, force: true });
});

function startNode(home: string, farm: number, data: string): Promise<{ proc: ChildProcess; node: number }> {
  return startNodeAgent({ home, farm, data, phonebook: pb.url, track: agents });
}

const farmerA = join(root, 'farmer-a');
const farmerB = join(root, 'farmer-b');
const alice = join(root, 'alice');

before(async () => {
  pb = await startPhonebook({
    dataDir: join(root, 'pb'),
    port: 0,
    limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
  });
  env = ['--phonebook', pb.url];
  const client = new PhonebookClient({ url: pb.url });
  for (const [home, name] of [
    [farmerA, 'farmer-a'],
    [farmerB, 'farmer-b'],
    [alice, 'alice'],
  ] as const)
    await client.publish(initIdentity({ home, name }).identity);
});

test('three nodes in two farms; zdb workloads back a QSS store; kill → suspect → down; restore; cancel', async () => {
  const fa = await twin('farm', 'create', 'farm-a', '--home', farmerA, ...env, '--json');
  assert.equal(fa.code, 0, fa.stderr);
  const fb = await twin('farm', 'create', 'farm-b', '--home', farmerB, ...env, '--json');
  const farmA = JSON.parse(fa.stdout).farm as number;
  const farmB = JSON.parse(fb.stdout).farm as number;
  const listed = await twin('farm', 'list', ...env, '--json');
  assert.deepEqual(
    JSON.parse(listed.stdout).map((f: { name: string }) => f.name),
    ['farm-a', 'farm-b'],
  );
  // a twin that does not own the farm cannot start a node in it
  const refused = await twin(
    'node',
    'start',
    '--home',
    alice,
    '--farm',
    String(farmA),
    '--data',
    join(root, 'n-x'),
    ...env,
  );
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /^twin: .*did not admit this node.*\n$/);

  const nodes = await Promise.all([
    startNode(farmerA, farmA, join(root, 'n1')),
    startNode(farmerA, farmA, join(root, 'n2')),
    startNode(farmerB, farmB, join(root, 'n3')),
  ]);
  // polled in-process (a CLI start per poll is slow here); `twin nodes` is checked once after
  const client = new PhonebookClient({ url: pb.url });
  await until('three nodes up', async () => {
    const r = await client.backend.nodeStatus();
    return r.length === 3 && r.every((n) => n.status === 'up');
  });
  const table = await twin('nodes', ...env);
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout.split('\n').filter((l) => /\tup\t/.test(l)).length, 3);
  const inB = JSON.parse((await twin('nodes', '--farm', String(farmB), ...env, '--json')).stdout) as {
    id: number;
  }[];
  assert.deepEqual(
    inB.map((n) => n.id),
    [nodes[2]!.node],
  );

  // zdb namespaces on all three nodes, one data and one metadata namespace each
  const spec = join(root, 'zdb.json');
  const ns = { size: 64 * 1024 * 1024, mode: 'user', password: 'qss-secret', public: false };
  writeFileSync(
    spec,
    JSON.stringify({
      metadata: 'qss',
      workloads: [
        { name: 'data', type: 'zdb', data: { ...ns, mode: 'seq' } }, // QSS shards go to sequential namespaces
        { name: 'meta', type: 'zdb', data: ns },
      ],
    }),
  );
  const results: { contract: number; data: string; meta: string }[] = [];
  for (const n of nodes) {
    const r = await twin(
      'deploy',
      spec,
      '--node',
      String(n.node),
      '--home',
      alice,
      '--wait',
      '--json',
      ...env,
    );
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as {
      contract: number;
      results: Record<string, { state: string; data: { namespace: string; addresses: string[] } }>;
    };
    const at = (w: string) => `${info.results[w]!.data.addresses[0]}/${info.results[w]!.data.namespace}`;
    assert.equal(info.results.data!.state, 'ok');
    results.push({ contract: info.contract, data: at('data'), meta: at('meta') });
  }
  const mine = JSON.parse((await twin('deployments', '--home', alice, ...env, '--json')).stdout) as {
    state: string;
  }[];
  assert.deepEqual(
    mine.map((c) => c.state),
    ['active', 'active', 'active'],
  );
  const cfg = join(root, 'qss.json');
  const made = await twin(
    'qss',
    'config',
    '--data-shards',
    '2',
    '--parity-shards',
    '1',
    ...results.flatMap((r) => ['--group', r.data]),
    '--meta',
    results.map((r) => r.meta).join(','),
    '--password',
    'qss-secret',
    '--out',
    cfg,
  );
  assert.equal(made.code, 0, made.stderr);
  const file = join(root, 'hello.txt');
  writeFileSync(file, 'stored on three grid nodes in two farms\n'.repeat(1000));
  const put = await twin('qss', 'put', file, '--config', cfg, '--workers', '0');
  assert.equal(put.code, 0, put.stderr);
  const back = join(root, 'back.txt');
  const get = await twin('qss', 'get', 'hello.txt', '-o', back, '--config', cfg, '--workers', '0');
  assert.equal(get.code, 0, get.stderr);
  assert.equal(readFileSync(back, 'utf8'), readFileSync(file, 'utf8'));

  // a node killed goes suspect (3 missed heartbeats) then down (6)
  const victim = nodes[1]!;
  victim.proc.kill('SIGKILL');
  const statusOf = async () =>
    (JSON.parse((await twin('nodes', ...env, '--json')).stdout) as { id: number; status: string }[]).find(
      (n) => n.id === victim.node,
    )!.status;
  await until('suspect', async () => (await statusOf()) === 'suspect', 15_000);
  await until('down', async () => (await statusOf()) === 'down', 15_000);
  // restarted, it restores its deployment: the file still reads with every shard in place
  const again = await startNode(farmerA, farmA, join(root, 'n2'));
  assert.equal(again.node, victim.node);
  await until('restored', async () => {
    const g = await twin(
      'deployment',
      'get',
      String(results[1]!.contract),
      '--home',
      alice,
      ...env,
      '--json',
    );
    return g.code === 0 && JSON.parse(g.stdout).deployment.results.data.state === 'ok';
  });
  const get2 = await twin('qss', 'get', 'hello.txt', '-o', back, '--config', cfg, '--workers', '0');
  assert.equal(get2.code, 0, get2.stderr);

  // cancel: the node removes the workloads
  const c = results[0]!.contract;
  const cancel = await twin('cancel', String(c), '--home', alice, ...env);
  assert.equal(cancel.code, 0, cancel.stderr);
  await new Promise((r) => setTimeout(r, 3000)); // the node follows the ledger every second
  const gone = await twin('deployment', 'get', String(c), '--home', alice, ...env, '--json');
  assert.equal(JSON.parse(gone.stdout).deployment.state, 'deleted');
  const wrong = await twin('deployment', 'get', '99999', '--home', alice, ...env);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^twin: there is no contract 99999 \(not_found\)\n$/);
});
