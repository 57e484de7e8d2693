/**
 * Multi-host: three node agents (the real `twin` binary), each in its own network namespace
 * joined by veth pairs to one bridge, in two farms; the phonebook and the deploying twin on the
 * bridge's host side. The nodes register and show `up`; zdb namespaces deployed on all three
 * back a QSS 2+1 store reached over the bridge, which stores and reads a file; a node killed goes
 * `suspect` then `down`. Skipped, with the reason, where not root or without `ip netns`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { GridClient } from '@twin/grid';
import { initIdentity } from '@twin/identity';
import { createTwinHost, TwinBus } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { buildConfig, Qss } from '@twin/qss';
import { TWIN } from './helpers.ts';

const tag = randomBytes(2).toString('hex');
const subnet = `10.${200 + (parseInt(tag, 16) % 50)}.${parseInt(tag.slice(2), 16) % 250}`;
const bridge = `twgb${tag}`;
const spaces = [1, 2, 3].map((i) => ({
  ns: `twg${tag}n${i}`,
  veth: `twgv${tag}${i}`,
  ip: `${subnet}.${10 + i}`,
}));
const hostIp = `${subnet}.1`;

function why(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth, bridge)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'no `ip netns` on this machine';
  }
  return null;
}
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

const root = mkdtempSync(join(tmpdir(), 'twin-grid-netns-'));
const procs: ChildProcess[] = [];
const closers: (() => Promise<unknown> | unknown)[] = [];
let made = false;

after(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  if (made) {
    for (const s of spaces) {
      try {
        ip('netns', 'del', s.ns);
      } catch {}
    }
    try {
      ip('link', 'del', bridge);
    } catch {}
  }
  rmSync(root, { recursive: true, force: true });
});

function network(): void {
  made = true;
  ip('link', 'add', bridge, 'type', 'bridge');
  ip('addr', 'add', `${hostIp}/24`, 'dev', bridge);
  ip('link', 'set', bridge, 'up');
  for (const s of spaces) {
    ip('netns', 'add', s.ns);
    ip('link', 'add', s.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', s.ns);
    ip('link', 'set', s.veth, 'master', bridge);
    ip('link', 'set', s.veth, 'up');
    ip('-n', s.ns, 'addr', 'add', `${s.ip}/24`, 'dev', 'eth0');
    ip('-n', s.ns, 'link', 'set', 'eth0', 'up');
    ip('-n', s.ns, 'link', 'set', 'lo', 'up');
  }
}

function startNode(
  ns: string,
  nodeIp: string,
  home: string,
  farm: number,
  url: string,
): Promise<{ proc: ChildProcess; node: number }> {
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      TWIN,
      'node',
      'start',
      '--home',
      home,
      '--farm',
      String(farm),
      '--data',
      join(root, ns),
      '--listen',
      `/ip4/${nodeIp}/tcp/0`,
      '--zdb-listen',
      nodeIp,
      '--capacity',
      'cpu=2,memory=4GiB,disk=1GiB',
      '--heartbeat',
      '1s',
      '--phonebook',
      url,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b;
      const m = /node (\d+) up/.exec(out);
      if (m) resolve({ proc, node: Number(m[1]) });
    });
    proc.stderr!.on('data', (b: Buffer) => {
      err += b;
    });
    proc.once('exit', (code) => reject(new Error(`node agent in ${ns} exited ${code}: ${err.slice(-400)}`)));
  });
}

const until = async (what: string, f: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

test('three nodes in network namespaces, two farms: register, serve zdb to QSS over the bridge, liveness', async (t) => {
  const reason = why();
  if (reason) return t.skip(reason);
  network();
  const pb: RunningPhonebook = await startPhonebook({
    dataDir: join(root, 'pb'),
    host: hostIp,
    port: 0,
    limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
  });
  closers.push(() => pb.close());
  const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
  const farms: number[] = [];
  const homes: string[] = [];
  for (const name of ['farmer-a', 'farmer-b']) {
    const home = join(root, name);
    const { identity } = initIdentity({ home, name });
    await client.publish(identity);
    const r = await client.submitAs(identity, (me, nonce, timestamp) => ({
      kind: 'farm.create',
      twin: me.id,
      nonce,
      timestamp,
      name: `${name}-farm`,
    }));
    farms.push(r.farm!);
    homes.push(home);
  }
  const placement = [0, 0, 1];
  const nodes = await Promise.all(
    spaces.map((s, i) => startNode(s.ns, s.ip, homes[placement[i]!]!, farms[placement[i]!]!, pb.url)),
  );
  await until('three nodes up', async () => {
    const st = await client.backend.nodeStatus();
    return st.length === 3 && st.every((s) => s.status === 'up');
  });
  const listed = await client.backend.nodes();
  assert.deepEqual(listed.map((n) => n.farm).sort(), [farms[0], farms[0], farms[1]].sort());
  for (const [i, n] of nodes.entries())
    assert.ok(
      listed.find((x) => x.id === n.node)!.addresses.some((a) => a.includes(spaces[i]!.ip)),
      'published its namespace address',
    );

  // the deploying twin, on the host side of the bridge
  const { identity: alice } = initIdentity({ home: join(root, 'alice'), name: 'alice' });
  const rec = await client.publish(alice);
  const host = await createTwinHost(alice, { listen: [`/ip4/${hostIp}/tcp/0`] });
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
  const ns = { size: 32 * 1024 * 1024, password: 'qss-secret', public: false };
  const at: { data: string; meta: string }[] = [];
  for (const n of nodes) {
    const c = await grid.deploy({
      version: 0,
      twin: rec.id,
      node: n.node,
      metadata: 'qss over the bridge',
      workloads: [
        { name: 'data', type: 'zdb', version: 0, data: { ...ns, mode: 'seq' } },
        { name: 'meta', type: 'zdb', version: 0, data: { ...ns, mode: 'user' } },
      ],
    });
    const info = await grid.wait(n.node, c);
    const addr = (w: string) => {
      const d = info.results[w]!.data as { addresses: string[]; namespace: string };
      return `${d.addresses[0]}/${d.namespace}`;
    };
    assert.match(addr('data'), new RegExp(`^${subnet.replaceAll('.', '\\.')}\\.1[123]:`));
    at.push({ data: addr('data'), meta: addr('meta') });
  }
  const q = Qss.open(
    buildConfig({
      k: 2,
      m: 1,
      groups: at.map((a) => [a.data]),
      meta: at.map((a) => a.meta),
      password: 'qss-secret',
    }),
    { workers: 0 },
  );
  closers.push(() => q.close());
  const bytes = randomBytes(300_000);
  await q.put('file.bin', Readable.from([bytes]));
  const { stream } = await q.get('file.bin');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  assert.ok(Buffer.concat(chunks).equals(bytes));

  // a node killed: suspect, then down; the others stay up
  nodes[2]!.proc.kill('SIGKILL');
  const status = async (n: number) => (await client.backend.nodeStatus()).find((s) => s.node === n)!.status;
  await until('suspect', async () => (await status(nodes[2]!.node)) === 'suspect', 15_000);
  await until('down', async () => (await status(nodes[2]!.node)) === 'down', 15_000);
  assert.equal(await status(nodes[0]!.node), 'up');
});
