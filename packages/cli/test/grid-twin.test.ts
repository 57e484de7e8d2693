/**
 * A `twin` compute workload on a node started by the real binary: the node runs a Digital Twin
 * instance (`twin start` on a home it creates) supervised in its cgroup; the instance registers
 * itself, answers over the bus, and is restarted after kill -9 — answering again.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GridClient } from '@twin/grid';
import { initIdentity } from '@twin/identity';
import { createTwinHost, TwinBus } from '@twin/network';
import { PhonebookClient, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { TWIN } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'twin-grid-twin-'));
const closers: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const until = async (what: string, f: () => Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await f().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
};

test('a twin workload runs a twin instance reachable over the bus, restarted after kill -9', async () => {
  const pb = await startPhonebook({
    dataDir: join(root, 'pb'),
    port: 0,
    limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
  });
  closers.push(() => pb.close());
  const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
  const farmerHome = join(root, 'farmer');
  const { identity: farmer } = initIdentity({ home: farmerHome, name: 'farmer' });
  await client.publish(farmer);
  const { farm } = await client.submitAs(farmer, (me, nonce, timestamp) => ({
    kind: 'farm.create',
    twin: me.id,
    nonce,
    timestamp,
    name: 'farm-t',
  }));
  const agent: ChildProcess = spawn(
    process.execPath,
    [
      TWIN,
      'node',
      'start',
      '--home',
      farmerHome,
      '--farm',
      String(farm),
      '--data',
      join(root, 'n1'),
      '--heartbeat',
      '1s',
      '--phonebook',
      pb.url,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  closers.push(() => agent.kill('SIGTERM'));
  const node = await new Promise<number>((resolve, reject) => {
    let out = '';
    agent.stdout!.on('data', (b: Buffer) => {
      out += b;
      const m = /node (\d+) up/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    agent.once('exit', (code) => reject(new Error(`node agent exited ${code}`)));
  });

  const { identity: alice } = initIdentity({ home: join(root, 'alice'), name: 'alice' });
  const rec = await client.publish(alice);
  const host = await createTwinHost(alice);
  const bus = new TwinBus({
    identity: alice,
    twinId: rec.id,
    host,
    phonebook: client,
    logger: { warn() {} },
  });
  await bus.start();
  closers.push(
    () => host.stop(),
    () => bus.stop(),
  );
  const grid = new GridClient({ identity: alice, twin: rec.id, bus, phonebook: client });
  const contract = await grid.deploy({
    version: 0,
    twin: rec.id,
    node,
    metadata: 'my twin on the grid',
    workloads: [
      {
        name: 'me',
        type: 'twin',
        version: 0,
        data: { name: 'alice-on-grid', cpu: 1, memory: 512 * 1024 * 1024 },
      },
    ],
  });
  const info = await grid.wait(node, contract);
  assert.equal(info.results.me!.state, 'ok');
  const ping = async () => {
    const nonce = Buffer.from(`ping ${Date.now()}`);
    const reply = await bus.request('alice-on-grid', 'ping', nonce, { timeoutMs: 5000 });
    return Buffer.from(reply).equals(nonce);
  };
  await until('the instance answers over the bus', ping);
  const pid = (await grid.get(node, contract)).results.me!.data.pid as number;
  process.kill(pid, 'SIGKILL');
  await until('restarted', async () => {
    const r = (await grid.get(node, contract)).results.me!;
    return r.state === 'ok' && r.data.pid !== pid;
  });
  await until('answers again', async () => {
    client.forget('alice-on-grid');
    return ping();
  });
  await grid.cancel(contract);
  await until('removed', async () => (await grid.get(node, contract)).state === 'deleted', 20_000);
  const last = (await grid.get(node, contract)).results.me!;
  assert.equal(last.state, 'deleted');
});
