/**
 * bench/bot: how fast the 3Bot heals the twin's storage when a node is lost, beside the ceiling:
 * the same repair done by hand with `twin qss rebuild` onto a namespace deployed in advance.
 *
 * Seven node agents (`twin node start` processes, 1 s heartbeats) in three farms (3 + 2 + 2), a
 * phonebook in this process, one twin. `twin bot apply` deploys QSS 4+2 over the three farms;
 * two objects of --size MiB of random bytes are stored.
 *
 *   ceiling  a spare namespace is deployed on the farm-1 node the plan left free; a copy of the
 *            configuration swaps the victim's backend for it; `twin qss rebuild` of the first
 *            object with that copy is timed (then the object is removed: it is not healed twice);
 *   heal     `twin bot run` is started; the victim node (a farm-1 node holding a data backend)
 *            is killed; timed from the kill: detection (the phonebook says `down`), the
 *            replacement namespace deployed (event `replaced`), every object whole (`repaired`),
 *            the old contract cancelled (`cancelled`).
 *   planner  CPU of one plan() over 1,000 nodes in 100 farms with a current placement (what a
 *            reconcile pass computes), median of 50.
 *
 * Target (issue): healing within 2× the rebuild ceiling plus the detection time.
 *   node --conditions=source --import tsx bench/bot/run.ts [--size 256] [--json]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type NodeView, parseDesiredState, plan } from '@twin/bot';
import { initIdentity } from '@twin/identity';
import { PhonebookClient, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { loadConfig, renderConfig } from '@twin/qss';
import { startNodeAgent, until } from '../../packages/cli/test/helpers.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SIZE_MIB = arg('size', 256);
const json = process.argv.includes('--json');
const TWIN = new URL('../../packages/cli/bin/twin.js', import.meta.url).pathname;
const log = (m: string) => process.stderr.write(`${m}\n`);
const run = promisify(execFile);
async function twin(...args: string[]): Promise<string> {
  try {
    return (await run(process.execPath, [TWIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    throw new Error(`twin ${args.slice(0, 3).join(' ')}: ${(e as { stderr?: string }).stderr ?? e}`);
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- planner CPU (no I/O)
function plannerCpu(): number {
  const GiB = 1024 ** 3;
  const nodes: NodeView[] = Array.from({ length: 1000 }, (_, i) => ({
    id: i + 1,
    farm: (i % 100) + 1,
    status: i % 17 === 0 ? 'down' : 'up',
    capacity: { cpu: 16, memory: 64 * GiB, storage: 4000 * GiB },
    used: { cpu: i % 8, memory: (i % 32) * GiB, storage: (i % 1000) * GiB },
  }));
  const desired = parseDesiredState({
    version: 1,
    qss: { dataShards: 16, parityShards: 4, groups: 5, sizePerBackend: '100 GiB' },
    twin: { on: 'grid' },
  });
  const first = plan(desired, nodes);
  const current = {
    twin: first.twin!.node,
    groups: first.groups.map((g) => g.backends.map((b) => b.node)),
    meta: first.meta.map((m) => m.node),
  };
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = process.cpuUsage();
    plan(desired, nodes, current);
    const d = process.cpuUsage(t);
    times.push((d.user + d.system) / 1000);
  }
  return times.sort((a, b) => a - b)[25]!;
}

// ---------------------------------------------------------------- the grid
const root = mkdtempSync(join(tmpdir(), 'bench-bot-'));
const agents: ChildProcess[] = [];
const pb = await startPhonebook({
  dataDir: join(root, 'pb'),
  port: 0,
  limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
});
const env = ['--phonebook', pb.url];
const client = new PhonebookClient({ url: pb.url });
const cleanup = async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
  await pb.close();
  rmSync(root, { recursive: true, force: true });
};

const disk = `${Math.max(8, Math.ceil((SIZE_MIB * 4) / 1024))}GiB`;
const startNode = (home: string, farm: number, data: string) =>
  startNodeAgent({
    home,
    farm,
    data,
    phonebook: pb.url,
    capacity: `cpu=2,memory=4GiB,disk=${disk}`,
    track: agents,
  });

try {
  const planMs = plannerCpu();
  log(`planner: ${planMs.toFixed(2)} ms CPU per plan over 1,000 nodes`);
  const alice = join(root, 'alice');
  await client.publish(initIdentity({ home: alice, name: 'alice' }).identity);
  const nodes: Array<{ proc: ChildProcess; node: number; farm: number }> = [];
  for (const [f, count] of [
    [0, 3],
    [1, 2],
    [2, 2],
  ] as const) {
    const farmer = join(root, `farmer-${f}`);
    await client.publish(initIdentity({ home: farmer, name: `farmer-${f}` }).identity);
    const farm = JSON.parse(await twin('farm', 'create', `farm-${f}`, '--home', farmer, ...env, '--json'))
      .farm as number;
    for (let i = 0; i < count; i++)
      nodes.push({ ...(await startNode(farmer, farm, join(root, `n-${f}-${i}`))), farm });
  }
  await until('seven nodes up', async () => {
    const s = await client.backend.nodeStatus();
    return s.length === 7 && s.every((n) => n.status === 'up');
  });
  const desired = join(root, 'desired.json');
  const perBackend = Math.max(1024, SIZE_MIB * 2);
  writeFileSync(
    desired,
    JSON.stringify({
      version: 1,
      qss: {
        dataShards: 4,
        parityShards: 2,
        groups: 3,
        sizePerBackend: `${perBackend} MiB`,
        metaBackends: 3,
      },
    }),
  );
  let t = performance.now();
  await twin('bot', 'apply', desired, '--home', alice, ...env, '--json');
  const applyS = (performance.now() - t) / 1000;
  log(`apply from nothing: ${applyS.toFixed(1)} s (9 namespaces)`);
  const cfg = join(alice, 'qss.json');
  for (const name of ['ceiling.bin', 'heal.bin']) {
    const file = join(root, name);
    writeFileSync(file, randomBytes(SIZE_MIB * 1024 * 1024));
    await twin('qss', 'put', file, '--config', cfg);
    rmSync(file);
  }
  const status = JSON.parse(await twin('bot', 'status', '--home', alice, ...env, '--json')) as {
    items: Array<{ item: string; node: number; address: string }>;
  };
  const farm1 = nodes.filter((n) => n.farm === nodes[0]!.farm).map((n) => n.node);
  const usedNodes = new Set(status.items.map((i) => i.node));
  const victimItem = status.items.find((i) => i.item.startsWith('qss group') && farm1.includes(i.node))!;
  const spareNode = farm1.find((n) => !usedNodes.has(n)) ?? farm1.find((n) => n !== victimItem.node)!;

  // ---- ceiling: twin qss rebuild onto a namespace deployed in advance
  const spec = join(root, 'spare.json');
  writeFileSync(
    spec,
    JSON.stringify({
      workloads: [
        {
          name: 'ns',
          type: 'zdb',
          data: {
            size: perBackend * 1024 * 1024,
            mode: 'seq',
            password: loadConfig(cfg).groups[0]!.backends[0]!.password ?? '',
            public: false,
          },
        },
      ],
    }),
  );
  const deployed = JSON.parse(
    await twin('deploy', spec, '--node', String(spareNode), '--home', alice, '--wait', '--json', ...env),
  ) as {
    contract: number;
    results: { ns: { data: { namespace: string; addresses: string[] } } };
  };
  const spare = `${deployed.results.ns.data.addresses[0]}/${deployed.results.ns.data.namespace}`;
  const swapped = join(root, 'swapped.json');
  const c = loadConfig(cfg);
  const [spareHost, sparePort] = spare.split('/')[0]!.split(':');
  for (const g of c.groups)
    for (const b of g.backends)
      if (`${b.host}:${b.port}/${b.namespace}` === victimItem.address)
        Object.assign(b, { host: spareHost, port: Number(sparePort), namespace: spare.split('/')[1] });
  writeFileSync(swapped, renderConfig(c), { mode: 0o600 });
  t = performance.now();
  await twin('qss', 'rebuild', 'ceiling.bin', '--config', swapped);
  const ceilingS = (performance.now() - t) / 1000;
  log(
    `ceiling: twin qss rebuild of one ${SIZE_MIB} MiB object with one backend replaced: ${ceilingS.toFixed(1)} s`,
  );
  await twin('qss', 'rm', 'ceiling.bin', '--config', cfg);
  await twin('cancel', String(deployed.contract), '--home', alice, ...env);

  // ---- heal: the running 3Bot, a node killed
  const bot = spawn(
    process.execPath,
    [TWIN, 'bot', 'run', '--home', alice, '--interval', '600', '--json', ...env],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agents.push(bot);
  const events: Array<{ kind: string; at: number }> = [];
  let buf = '';
  bot.stdout!.on('data', (b: Buffer) => {
    buf += b;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        events.push(JSON.parse(line));
      } catch {}
    }
  });
  await sleep(3000);
  const victim = nodes.find((n) => n.node === victimItem.node)!;
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  await until(
    'down',
    async () => (await client.backend.nodeStatus()).find((s) => s.node === victim.node)?.status === 'down',
  );
  const detectS = (Date.now() - killedAt) / 1000;
  await until('cancelled', async () => events.some((e) => e.kind === 'cancelled'), 600_000);
  const at = (k: string) => (events.find((e) => e.kind === k)!.at - killedAt) / 1000;
  const figures = {
    sizeMiB: SIZE_MIB,
    applyFromNothingS: +applyS.toFixed(1),
    ceilingRebuildS: +ceilingS.toFixed(1),
    detectS: +detectS.toFixed(1),
    replacedS: +at('replaced').toFixed(1),
    repairedS: +at('repaired').toFixed(1),
    cancelledS: +at('cancelled').toFixed(1),
    targetS: +(2 * ceilingS + detectS).toFixed(1),
    plannerMsPer1000Nodes: +planMs.toFixed(2),
  };
  bot.kill('SIGINT');
  if (json) console.log(JSON.stringify(figures));
  else
    console.log(
      `\n ${SIZE_MIB} MiB per object, QSS 4+2 over 3 farms, 7 node agents\n` +
        ` apply from nothing            ${figures.applyFromNothingS} s\n` +
        ` ceiling: twin qss rebuild     ${figures.ceilingRebuildS} s (one object, one backend replaced)\n` +
        ` heal, from the kill:          detected down ${figures.detectS} s, replaced ${figures.replacedS} s, repaired ${figures.repairedS} s, cancelled ${figures.cancelledS} s\n` +
        ` target (2 × ceiling + detect) ${figures.targetS} s\n` +
        ` planner                       ${figures.plannerMsPer1000Nodes} ms CPU per plan over 1,000 nodes`,
    );
} finally {
  await cleanup();
}
