import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZdbClient } from '@twin/zdb';
import { Cgroup, type NodeAgent, type TwinLauncher } from '../src/index.ts';
import { MiB, until, World } from './helpers.ts';

/** A stand-in for a twin instance: runs, crashes on demand, or eats memory on demand. */
const INSTANCE = `
if (process.env.CRASH) { console.error('instance failing on purpose'); process.exit(3); }
if (process.env.HOG) {
  const held = [];
  setInterval(() => { held.push(Buffer.alloc(8 * 1024 * 1024, 1)); console.log('holding', held.length * 8, 'MiB'); }, 10);
} else {
  console.log('instance up');
  setInterval(() => {}, 1000);
}
`;

describe('compute workloads', () => {
  const world = new World();
  let node: NodeAgent;
  let alice: Awaited<ReturnType<World['user']>>;
  let launcher: TwinLauncher;
  let farm: number;
  const farmer = world.twin('farmer');
  const nodeIdentity = world.twin('node-compute');
  let nodeDir: string;

  before(async () => {
    await world.start();
    const script = join(world.dir(), 'instance.mjs');
    writeFileSync(script, INSTANCE);
    launcher = { command: () => [process.execPath, script] };
    farm = await world.farm(farmer, 'farm-c');
    nodeDir = world.dir('grid-node-');
    node = await world.node({
      farm,
      farmer,
      identity: nodeIdentity,
      dataDir: nodeDir,
      twinLauncher: launcher,
    });
    alice = await world.user('alice');
  });
  after(() => world.stop());

  const twinWorkload = (name: string, env: Record<string, string> = {}, memory = 256 * MiB) => ({
    name,
    type: 'twin' as const,
    version: 0,
    data: { name: `inst-${name}`, cpu: 0.5, memory, disk: 0, env },
  });
  const deploy = (workloads: object[]) =>
    alice.grid.deploy({
      version: 0,
      twin: alice.id,
      node: node.nodeId,
      metadata: '',
      workloads: workloads as never,
    });

  test('a twin workload runs supervised, and is restarted after kill -9', async () => {
    const c = await deploy([twinWorkload('web')]);
    const info = await alice.grid.wait(node.nodeId, c);
    assert.equal(info.results.web!.state, 'ok');
    await until('instance output', async () =>
      /instance up/.test(await alice.grid.logs(node.nodeId, c, 'web')),
    );
    const first = node.runtime.process(c, 'web')!.pid!;
    assert.ok(first > 0);
    process.kill(first, 'SIGKILL');
    await until('restarted', () => {
      const p = node.runtime.process(c, 'web');
      return p !== null && p.pid !== undefined && p.pid !== first && p.restarts === 1;
    });
    await until('ok again', async () => (await alice.grid.get(node.nodeId, c)).results.web!.state === 'ok');
    await until('restarted output', async () =>
      /instance up[\s\S]*SIGKILL[\s\S]*instance up/.test(await alice.grid.logs(node.nodeId, c, 'web')),
    );
  });

  test('repeated crashes put the workload in error with the reason; it is not deleted', async () => {
    const c = await deploy([twinWorkload('flaky', { CRASH: '1' })]);
    await until(
      'error',
      async () => (await alice.grid.get(node.nodeId, c)).results.flaky!.state === 'error',
      30_000,
    );
    const info = await alice.grid.get(node.nodeId, c);
    assert.equal(info.state, 'active');
    assert.match(info.results.flaky!.message, /crashed 5 times in a row, last exited with code 3/);
    const changes = (await alice.grid.changes(node.nodeId, c)) as { state: string }[];
    assert.ok(changes.some((x) => x.state === 'init') && changes.at(-1)!.state === 'error');
    await alice.grid.cancel(c);
    await until('removed', async () => (await alice.grid.get(node.nodeId, c)).state === 'deleted');
  });

  test('a memory hog is held to its cgroup limit', async (t) => {
    const probe = Cgroup.create(`twin-grid-probe-${process.pid}`, { cpu: 1, memory: 64 * MiB });
    if (typeof probe === 'string') return t.skip(`no usable cgroup here: ${probe}`);
    probe.remove();
    const c = await deploy([twinWorkload('hog', { HOG: '1' }, 64 * MiB)]);
    await until(
      'killed at its limit',
      async () =>
        /out-of-memory/.test(
          (await alice.grid.get(node.nodeId, c)).results.hog!.message +
            (await alice.grid.logs(node.nodeId, c, 'hog')),
        ),
      30_000,
    );
    const cg = node.runtime.process(c, 'hog')!.cgroup!;
    assert.ok(cg.memoryPeak() <= 64 * MiB, `peak ${cg.memoryPeak()} over the limit`);
    await alice.grid.cancel(c);
    await until('removed', async () => (await alice.grid.get(node.nodeId, c)).state === 'deleted');
  });

  test('a restarted node agent re-verifies and restores every deployment', async () => {
    const storage = await deploy([
      {
        name: 'keep',
        type: 'zdb',
        version: 0,
        data: { size: 8 * MiB, mode: 'seq', password: 'pw', public: false },
      },
    ]);
    const compute = await deploy([twinWorkload('svc')]);
    await alice.grid.wait(node.nodeId, storage);
    await alice.grid.wait(node.nodeId, compute);
    const zdbData = (await alice.grid.get(node.nodeId, storage)).results.keep!.data as {
      port: number;
      namespace: string;
    };
    const w = new ZdbClient({ port: zdbData.port, namespace: zdbData.namespace, password: 'pw' });
    const key = await w.append(Buffer.from('kept across restarts'));
    w.close();
    const oldPid = node.runtime.process(compute, 'svc')!.pid!;
    await node.stop();
    world.agents.splice(world.agents.indexOf(node), 1);
    assert.throws(() => process.kill(oldPid, 0)); // the agent stopped its processes
    node = await world.node({
      farm,
      identity: nodeIdentity,
      dataDir: nodeDir,
      twinLauncher: launcher,
      farmer,
    });
    await until('restored', async () => {
      const p = node.runtime.process(compute, 'svc');
      return p?.pid !== undefined;
    });
    const restored = await alice.grid.get(node.nodeId, storage);
    assert.equal(restored.results.keep!.state, 'ok');
    const port = (restored.results.keep!.data as { port: number }).port;
    const r = new ZdbClient({ port, namespace: zdbData.namespace, password: 'pw' });
    assert.equal((await r.get(key))!.toString(), 'kept across restarts');
    r.close();
  });
});
