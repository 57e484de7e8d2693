/**
 * `twin bot plan` against a real phonebook: three farms, five nodes registered by their own
 * twins, four of them sending signed heartbeats (one never does: it is down).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, signFarmGrant, startPhonebook } from '@twin/phonebook';
import { twin } from './helpers.ts';

const GiB = 1024 ** 3;
const dir = mkdtempSync(join(tmpdir(), 'bot-cli-'));
let pb: RunningPhonebook;
const nodeOfIndex: number[] = [];

before(async () => {
  pb = await startPhonebook({ dataDir: join(dir, 'phonebook'), port: 0 });
  const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
  const id = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
  // farm f has perFarm[f] nodes; node 5 (the last) never sends a heartbeat
  const perFarm = [2, 2, 1];
  for (let f = 0; f < perFarm.length; f++) {
    const farmer = id(`farmer-${f}`);
    await client.publish(farmer);
    const { farm } = await client.submitAs(farmer, (me, nonce, timestamp) => ({
      kind: 'farm.create',
      twin: me.id,
      nonce,
      timestamp,
      name: `farm-${f}`,
    }));
    for (let i = 0; i < perFarm[f]!; i++) {
      const node = id(`node-${f}-${i}`);
      await client.publish(node);
      const grant = signFarmGrant(farmer, farm!, b64(node.signingPublicKey));
      const r = await client.submitAs(node, (me, nonce, timestamp) => ({
        kind: 'node.register',
        twin: me.id,
        nonce,
        timestamp,
        farm: farm!,
        capacity: { cpu: 4, memory: 8 * GiB, storage: 100 * GiB },
        location: { country: 'BE', city: 'Ghent' },
        addresses: [],
        grant,
      }));
      nodeOfIndex.push(r.node!);
      if (!(f === 2 && i === 0)) await client.heartbeat(node, r.node!, 60_000);
    }
  }
  writeFileSync(
    join(dir, 'desired.json'),
    JSON.stringify({
      version: 1,
      qss: { dataShards: 2, parityShards: 1, groups: 3, sizePerBackend: '10 GiB', metaBackends: 2 },
    }),
  );
});
after(async () => {
  await pb?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('twin bot plan: three groups need three farms with room; a farm whose only node is down does not count', async () => {
  // farm 3's only node is down: 2+1 over 3 farms cannot be placed
  const r = await twin('bot', 'plan', join(dir, 'desired.json'), '--phonebook', pb.url);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^twin: QSS 2\+1 needs 3 farms.*\(not_enough_farms\)\n$/);
  assert.ok(!r.stderr.includes('    at '), 'no stack trace');
});

test('twin bot plan --json on two farms with 1+1 over 2 groups: the plan and every node explained', async () => {
  writeFileSync(
    join(dir, 'two.json'),
    JSON.stringify({
      version: 1,
      qss: { dataShards: 1, parityShards: 1, groups: 2, sizePerBackend: '10 GiB' },
    }),
  );
  const r = await twin('bot', 'plan', join(dir, 'two.json'), '--phonebook', pb.url, '--json');
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout) as {
    groups: Array<{ farm: number; backends: Array<{ node: number }> }>;
    meta: Array<{ node: number }>;
    nodes: Array<{ node: number; status: string; chosen: string[]; notes: string[] }>;
  };
  assert.equal(p.groups.length, 2);
  assert.notEqual(p.groups[0]!.farm, p.groups[1]!.farm);
  const down = nodeOfIndex[4]!;
  assert.ok(!p.groups.some((g) => g.backends.some((b) => b.node === down)));
  assert.ok(!p.meta.some((m) => m.node === down));
  const report = p.nodes.find((n) => n.node === down)!;
  assert.equal(report.status, 'down');
  assert.match(report.notes.join(), /down/);
  const human = await twin('bot', 'plan', join(dir, 'two.json'), '--phonebook', pb.url);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /group 1 \(farm \d+\)/);
  assert.match(human.stdout, new RegExp(`${down}\\s+farm \\d+\\s+down`));
});

test('twin bot plan: a bad desired state or placement is one line naming the field', async () => {
  writeFileSync(
    join(dir, 'bad.json'),
    JSON.stringify({
      version: 1,
      qss: { dataShards: 4, parityShards: 2, groups: 2, sizePerBackend: '1 GiB' },
    }),
  );
  const r = await twin('bot', 'plan', join(dir, 'bad.json'), '--phonebook', pb.url);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^twin: qss: 4\+2 over 2 groups puts 3 shards in one group.*\(bad_desired_state\)\n$/,
  );
  writeFileSync(join(dir, 'current.json'), '{"groups": [[0]]}');
  const c = await twin(
    'bot',
    'plan',
    join(dir, 'two.json'),
    '--phonebook',
    pb.url,
    '--current',
    join(dir, 'current.json'),
  );
  assert.equal(c.code, 1);
  assert.match(c.stderr, /^twin: groups\.0\.0: .*\(bad_current_placement\)\n$/);
  const missing = await twin('bot', 'plan', join(dir, 'nope.json'), '--phonebook', pb.url);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the desired state/);
});
