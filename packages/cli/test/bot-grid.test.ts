/**
 * The 3Bot heals storage through the real `twin` binary: five node agents in three farms,
 * `twin bot apply` puts QSS 2+1 over the three farms and a file is stored through it; the node
 * holding one backend is killed; once it is down, `twin bot apply` replaces the namespace within
 * its farm, repairs the file onto it and cancels the old contract; the file reads the same.
 * Then `twin bot run` heals the loss of another node by itself, with no command in between.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { startNodeAgent, TWIN, twin, until } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'twin-bot-grid-'));
const agents: ChildProcess[] = [];
let pb: RunningPhonebook;
let env: string[];
const alice = join(root, 'alice');
const nodes: Array<{ proc: ChildProcess; node: number; farm: number; home: string; data: string }> = [];

after(async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
  await pb?.close();
  rmSync(root, { recursive: true, force: true });
});

before(async () => {
  pb = await startPhonebook({
    dataDir: join(root, 'pb'),
    port: 0,
    limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
  });
  env = ['--phonebook', pb.url];
  const client = new PhonebookClient({ url: pb.url });
  await client.publish(initIdentity({ home: alice, name: 'alice' }).identity);
  // farms 1 and 2 have two nodes, farm 3 one
  for (const [f, count] of [
    [0, 2],
    [1, 2],
    [2, 1],
  ] as const) {
    const farmer = join(root, `farmer-${f}`);
    await client.publish(initIdentity({ home: farmer, name: `farmer-${f}` }).identity);
    const made = await twin('farm', 'create', `farm-${f}`, '--home', farmer, ...env, '--json');
    assert.equal(made.code, 0, made.stderr);
    const farm = JSON.parse(made.stdout).farm as number;
    for (let i = 0; i < count; i++) {
      const data = join(root, `node-${f}-${i}`);
      const n = await startNodeAgent({ home: farmer, farm, data, phonebook: pb.url, track: agents });
      nodes.push({ ...n, farm, home: farmer, data });
    }
  }
  await until('five nodes up', async () => {
    const s = await client.backend.nodeStatus();
    return s.length === 5 && s.every((n) => n.status === 'up');
  });
});

interface Status {
  items: Array<{ item: string; node: number; state: string; contract: number }>;
  superseded: unknown[];
  events: Array<{ kind: string }>;
}
const status = async () => {
  const r = await twin('bot', 'status', '--home', alice, ...env, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
};

test('twin bot apply deploys QSS over three farms, and heals it when a node is lost', async () => {
  const desired = join(root, 'desired.json');
  writeFileSync(
    desired,
    JSON.stringify({
      version: 1,
      qss: { dataShards: 2, parityShards: 1, groups: 3, sizePerBackend: '64 MiB', metaBackends: 2 },
    }),
  );
  const first = await twin('bot', 'apply', desired, '--home', alice, ...env, '--json');
  assert.equal(first.code, 0, first.stderr);
  const applied = JSON.parse(first.stdout) as { deployed: number; groups: Array<{ farm: number }> };
  assert.equal(applied.deployed, 5, '3 data + 2 metadata namespaces');
  assert.equal(new Set(applied.groups.map((g) => g.farm)).size, 3);
  const cfg = join(alice, 'qss.json');
  assert.equal(readFileSync(cfg).length > 0, true);
  const before = await status();
  assert.ok(
    before.items.every((i) => i.state === 'ok'),
    JSON.stringify(before.items),
  );

  const file = join(root, 'photo.bin');
  const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
  for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
  writeFileSync(file, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const put = await twin('qss', 'put', file, '--config', cfg, '--workers', '0');
  assert.equal(put.code, 0, put.stderr);

  // a second apply changes nothing (sticky, idempotent)
  const again = await twin('bot', 'apply', desired, '--home', alice, ...env, '--json');
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { deployed: number }).deployed, 0);

  // the farm-1 node holding a data backend dies
  const group = before.items.find(
    (i) => i.item.startsWith('qss group') && nodes.find((n) => n.node === i.node)!.farm === nodes[0]!.farm,
  )!;
  const victim = nodes.find((n) => n.node === group.node)!;
  victim.proc.kill('SIGKILL');
  const client = new PhonebookClient({ url: pb.url });
  await until(
    'the node is down',
    async () => (await client.backend.nodeStatus()).find((s) => s.node === victim.node)?.status === 'down',
    20_000,
  );
  const lost = await status();
  assert.equal(lost.items.find((i) => i.item === group.item)!.state, 'needs healing');

  const heal = await twin('bot', 'apply', desired, '--home', alice, ...env, '--json');
  assert.equal(heal.code, 0, heal.stderr);
  const healed = JSON.parse(heal.stdout) as { deployed: number; cancelled: number; superseded: number };
  assert.ok(healed.deployed >= 1);
  assert.ok(healed.cancelled >= 1, 'the replaced contract is cancelled after the repair');
  assert.equal(healed.superseded, 0);
  const after = await status();
  assert.ok(
    after.items.every((i) => i.state === 'ok'),
    JSON.stringify(after.items),
  );
  const moved = after.items.find((i) => i.item === group.item)!;
  assert.notEqual(moved.node, victim.node);
  assert.equal(nodes.find((n) => n.node === moved.node)!.farm, victim.farm, 'replaced within its farm');
  const kinds = (await twin('bot', 'events', '--home', alice, '--json')).stdout;
  for (const k of ['deployed', 'replaced', 'repaired', 'cancelled'])
    assert.match(kinds, new RegExp(`"kind":"${k}"`));
  const contracts = await twin('deployments', '--home', alice, ...env, '--json');
  const states = new Map(
    (JSON.parse(contracts.stdout) as Array<{ id: number; state: string }>).map((c) => [c.id, c.state]),
  );
  assert.equal(states.get(group.contract), 'cancelled', 'the replaced contract is cancelled on the ledger');
  assert.equal(states.get(moved.contract), 'active');

  // the lost node comes back: it finds the contract cancelled and removes the namespace; it never
  // serves it again (a node restores a deployment only after re-verifying its contract)
  const back = await startNodeAgent({
    home: victim.home,
    farm: victim.farm,
    data: victim.data,
    phonebook: pb.url,
    track: agents,
  });
  assert.equal(back.node, victim.node);
  victim.proc = back.proc;
  await until('the superseded namespace is removed', async () => {
    const g = await twin('deployment', 'get', String(group.contract), '--home', alice, ...env, '--json');
    if (g.code === 0)
      return (JSON.parse(g.stdout) as { deployment: { state: string } }).deployment.state === 'deleted';
    return /not_found|no deployment/.test(g.stderr);
  });

  // every shard is back: the check is clean, and the bytes are the same
  const check = await twin('qss', 'check', 'photo.bin', '--config', cfg, '--workers', '0', '--json');
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.equal((JSON.parse(check.stdout) as { ok: boolean }).ok, true);
  const copy = join(root, 'back.bin');
  const get = await twin('qss', 'get', 'photo.bin', '-o', copy, '--config', cfg, '--workers', '0');
  assert.equal(get.code, 0, get.stderr);
  assert.equal(createHash('sha256').update(readFileSync(copy)).digest('hex'), sha);
});

test('twin bot run heals a lost node with no command in between, holds the lease, and stops on Ctrl-C', async () => {
  const bot = spawn(process.execPath, [TWIN, 'bot', 'run', '--home', alice, '--interval', '600', ...env], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agents.push(bot);
  let out = '';
  bot.stdout!.on('data', (b: Buffer) => {
    out += b;
  });
  let err = '';
  bot.stderr!.on('data', (b: Buffer) => {
    err += b;
  });
  await until('the 3Bot runs', async () => out.includes('3Bot running'), 30_000);
  // a second 3Bot for the same twin is refused while this one runs
  const desired = join(root, 'desired.json');
  const second = await twin('bot', 'apply', desired, '--home', alice, ...env);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /^twin: another 3Bot is running for this twin.*\(lease_held\)\n$/);

  const before = await status();
  const item = before.items.find(
    (i) => i.item.startsWith('qss group') && nodes.find((n) => n.node === i.node)!.farm === nodes[2]!.farm,
  )!;
  const victim = nodes.find((n) => n.node === item.node)!;
  victim.proc.kill('SIGKILL');
  // nobody runs anything: the 3Bot notices the node going down and heals
  await until(
    'healed by the running 3Bot',
    async () => {
      const s = await status();
      const now = s.items.find((i) => i.item === item.item)!;
      return now.node !== victim.node && s.items.every((i) => i.state === 'ok') && s.superseded.length === 0;
    },
    90_000,
  );
  await until('the events printed', async () => /cancelled .*contract/.test(out), 10_000);
  assert.match(out, new RegExp(`replaced .*node ${victim.node} → node`));
  const check = await twin(
    'qss',
    'check',
    'photo.bin',
    '--config',
    join(alice, 'qss.json'),
    '--workers',
    '0',
    '--json',
  );
  assert.equal(check.code, 0, check.stdout + check.stderr);

  const exited = new Promise<number | null>((r) => bot.once('exit', (code) => r(code)));
  bot.kill('SIGINT');
  assert.equal(await exited, 0, err);
});
