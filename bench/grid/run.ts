/**
 * bench/grid: time from a deploy (contract on the ledger + signed deployment over the bus) to
 * every workload `ok` on a node agent, for one zdb workload and for one compute workload (a
 * stand-in instance process: `node -e` idling, supervised in its cgroup), p50/p99 over N
 * deployments each; then how many deployments per second the node accepts (N sent at once, one
 * zdb workload each, until all answered). Reference, same run: the bare 0-db work of a zdb
 * workload (NSNEW + 4 NSSET on the node's own 0-db, no ledger, no bus) — the floor.
 * Everything runs in this process on loopback (phonebook server, node agent, deploying twin);
 * RSS is this whole process's.
 *
 *   node --conditions=source --import tsx bench/grid/run.ts [--n 50] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GridClient, NodeAgent } from '@twin/grid';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, TwinBus } from '@twin/network';
import { PhonebookClient, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { ZdbClient } from '@twin/zdb';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 50);
const json = process.argv.includes('--json');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const quiet = { warn() {} } as never;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(1);
};

const root = mkdtempSync(join(tmpdir(), 'bench-grid-'));
const pb = await startPhonebook({
  dataDir: join(root, 'pb'),
  port: 0,
  limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
});
const url = pb.url;
const client = new PhonebookClient({ url, serverKey: pb.service.serverKey });
const me = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
const farmer = me('farmer');
await client.publish(farmer);
const { farm } = await client.submitAs(farmer, (t, nonce, timestamp) => ({
  kind: 'farm.create',
  twin: t.id,
  nonce,
  timestamp,
  name: 'bench-farm',
}));
const agent = new NodeAgent({
  identity: me('bench-node'),
  farmer,
  farm: farm!,
  dataDir: join(root, 'node'),
  phonebook: new PhonebookClient({ url, serverKey: pb.service.serverKey }),
  capacity: { cpu: 10_000, memory: 10_000 * GiB, storage: 100_000 * GiB },
  twinLauncher: { command: () => [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
  log: () => {},
});
await agent.start();
const alice = me('alice');
const rec = await client.publish(alice);
const host = await createTwinHost(alice);
const phonebook = new PhonebookClient({ url, serverKey: pb.service.serverKey });
const bus = new TwinBus({ identity: alice, twinId: rec.id, host, phonebook, logger: quiet });
await bus.start();
const grid = new GridClient({ identity: alice, twin: rec.id, bus, phonebook });

const zdbW = (i: number) => ({
  name: 'store',
  type: 'zdb',
  version: 0,
  data: { size: 64 * MiB, mode: 'seq', password: `pw${i}`, public: false },
});
const twinW = (i: number) => ({
  name: 'inst',
  type: 'twin',
  version: 0,
  data: { name: `inst-${i}`, cpu: 0.1, memory: 64 * MiB, disk: 0, env: {} },
});
const deployment = (w: object, i: number) => ({
  version: 0,
  twin: rec.id,
  node: agent.nodeId,
  metadata: `bench ${i}`,
  workloads: [w] as never,
});

async function deployToOk(make: (i: number) => object, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await grid.deploy(deployment(make(i), i));
    const info = await grid.wait(agent.nodeId, c, 60_000);
    if (Object.values(info.results).some((r) => r.state !== 'ok')) throw new Error(`deployment ${c} failed`);
    times.push(performance.now() - t0);
  }
  return times;
}

// reference: the 0-db work alone
const zdbPort = (agent as unknown as { zdb: { serverPort: number } }).zdb.serverPort;
const { readFileSync } = await import('node:fs');
const admin = new ZdbClient({
  port: zdbPort,
  admin: readFileSync(join(root, 'node', 'zdb', 'admin-password'), 'utf8').trim(),
});
const floor: number[] = [];
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  const ns = `ref-${i}`;
  await admin.nsnew(ns);
  await admin.nsset(ns, 'mode', 'seq');
  await admin.nsset(ns, 'maxsize', String(64 * MiB));
  await admin.nsset(ns, 'password', `pw${i}`);
  await admin.nsset(ns, 'public', '0');
  floor.push(performance.now() - t0);
}
admin.close();

const zdbTimes = await deployToOk(zdbW, N);
const twinTimes = await deployToOk(twinW, Math.min(N, 20));
// deployments per second accepted: N sent at once
const t0 = performance.now();
await Promise.all(Array.from({ length: N }, (_, i) => grid.deploy(deployment(zdbW(1000 + i), 1000 + i))));
const acceptSeconds = (performance.now() - t0) / 1000;
await agent.idle();
const rss = process.memoryUsage().rss;

const result = {
  n: N,
  zdbDeployToOkMs: { p50: pct(zdbTimes, 50), p99: pct(zdbTimes, 99) },
  twinDeployToOkMs: { n: twinTimes.length, p50: pct(twinTimes, 50), p99: pct(twinTimes, 99) },
  reference0dbNamespaceMs: { p50: pct(floor, 50), p99: pct(floor, 99) },
  deploymentsPerSecond: +(N / acceptSeconds).toFixed(1),
  processRssMiB: +(rss / MiB).toFixed(0),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `deploy → ok, one zdb workload   p50 ${result.zdbDeployToOkMs.p50} ms  p99 ${result.zdbDeployToOkMs.p99} ms  (n=${N})`,
  );
  console.log(
    `deploy → ok, one twin workload  p50 ${result.twinDeployToOkMs.p50} ms  p99 ${result.twinDeployToOkMs.p99} ms  (n=${twinTimes.length})`,
  );
  console.log(
    `reference: the namespace alone  p50 ${result.reference0dbNamespaceMs.p50} ms  p99 ${result.reference0dbNamespaceMs.p99} ms`,
  );
  console.log(
    `deployments accepted per second ${result.deploymentsPerSecond}   RSS (whole process) ${result.processRssMiB} MiB`,
  );
}
await bus.stop();
await host.stop();
await agent.stop();
await pb.close();
rmSync(root, { recursive: true, force: true });
process.exit(0);
