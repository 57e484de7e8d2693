/**
 * `twin bot`: the 3Bot. `plan FILE` shows where a desired state would go on the grid and why
 * each node was chosen or not; `apply FILE` records it and runs one convergence pass of the
 * twin's storage (deploys, replaces what was on lost nodes, repairs, cancels what it replaced);
 * `status` compares what runs with the nodes' liveness now; `events` lists what the 3Bot did.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BotError,
  type BotState,
  convergeStorage,
  formatSize,
  gridStorage,
  loadState,
  type NodeView,
  type Plan,
  parseCurrentPlacement,
  parseDesiredState,
  plan,
  saveState,
} from '@twin/bot';
import { loadConfig, Qss, renderConfig } from '@twin/qss';
import { Command } from 'commander';
import {
  type Common,
  commonOptions,
  homeOption,
  jsonOption,
  phonebookOption,
  print,
  readText,
} from '../options.ts';
import { withGrid } from './grid/deploy.ts';
import { nodesWithStatus } from './grid/nodes.ts';

/** Where the 3Bot keeps its files in a twin's home. */
const files = (home: string) => ({
  desired: join(home, 'bot', 'desired.json'),
  state: join(home, 'bot', 'state.json'),
  qss: join(home, 'qss.json'),
});

async function nodeViews(phonebook: string): Promise<NodeView[]> {
  return (await nodesWithStatus(phonebook)).map(({ node, status, used }) => ({
    id: node.id,
    farm: node.farm,
    status,
    capacity: node.capacity,
    used,
  }));
}

/** Writes `text` to `file` atomically with mode 0600. */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

function describe(p: Plan, desired: ReturnType<typeof parseDesiredState>): string {
  const lines: string[] = [];
  const at = (x: { node: number; farm: number; kept: boolean; reason: string }) =>
    `node ${x.node} (farm ${x.farm})${x.kept ? ' kept' : ''}: ${x.reason}`;
  if (p.twin) lines.push(`twin      ${at(p.twin)}`);
  else
    lines.push(
      `twin      ${desired.twin?.on === 'here' ? 'runs here (not on the grid)' : 'not in the desired state'}`,
    );
  const q = desired.qss;
  if (q) {
    lines.push(
      `qss       ${q.dataShards}+${q.parityShards} over ${q.groups} farms, ${formatSize(q.sizePerBackend)} per backend`,
    );
    p.groups.forEach((g, i) => {
      lines.push(`  group ${i + 1} (farm ${g.farm})`);
      for (const b of g.backends) lines.push(`    ${at(b)}`);
    });
    lines.push('  metadata');
    for (const m of p.meta) lines.push(`    ${at(m)}`);
  }
  lines.push('nodes');
  for (const n of p.nodes)
    lines.push(
      `  ${String(n.node).padStart(4)}  farm ${String(n.farm).padEnd(4)} ${n.status.padEnd(7)} ${[...n.chosen, ...n.notes].join('; ')}`,
    );
  return lines.join('\n');
}

function planCommand(): Command {
  const cmd = new Command('plan')
    .description('show where a desired state goes on the grid, and why each node was chosen or not')
    .argument('<file>', 'the desired state (JSON)')
    .option(
      '--current <file>',
      'where things run now (JSON {twin, groups, meta} of node ids): plan a repair',
    );
  return jsonOption(phonebookOption(cmd)).action(
    async (file: string, o: Pick<Common, 'phonebook' | 'json'> & { current?: string }) => {
      const desired = parseDesiredState(readText(file, 'desired state'));
      const current = o.current ? parseCurrentPlacement(readText(o.current, 'current placement')) : {};
      const p = plan(desired, await nodeViews(o.phonebook), current);
      print(o, p, () => describe(p, desired));
    },
  );
}

function applyCommand(): Command {
  const cmd = new Command('apply')
    .description("record a desired state and converge the twin's storage to it (one pass)")
    .argument('<file>', 'the desired state (JSON)');
  return commonOptions(cmd).action(async (file: string, o: Common) => {
    const text = readText(file, 'desired state');
    const desired = parseDesiredState(text);
    const f = files(o.home);
    if (!existsSync(o.home))
      throw new BotError('not_found', `there is no twin home ${o.home}: run twin init --home ${o.home}`);
    mkdirSync(join(o.home, 'bot'), { recursive: true, mode: 0o700 });
    writePrivate(f.desired, text);
    if (!desired.qss)
      return print(
        o,
        { recorded: f.desired },
        () => `recorded ${f.desired}; no qss section: nothing to deploy`,
      );
    const state = loadState(f.state);
    const config = existsSync(f.qss) ? loadConfig(f.qss) : undefined;
    const nodes = await nodeViews(o.phonebook);
    const result = await withGrid(o, (grid, twin) =>
      convergeStorage({
        desired,
        nodes,
        state,
        config,
        grid: gridStorage(grid, twin),
        save: (s: BotState) => saveState(f.state, s),
        async repair(c) {
          writePrivate(f.qss, renderConfig(c)); // the new backends are in use from here on
          const q = Qss.open(c, { workers: 0 });
          try {
            const r = await q.repair();
            return { objects: r.objects, failed: r.failed };
          } finally {
            await q.close();
          }
        },
      }),
    );
    writePrivate(f.qss, renderConfig(result.config));
    print(
      o,
      {
        qssConfig: f.qss,
        deployed: result.deployed,
        cancelled: result.cancelled,
        superseded: result.superseded,
        groups: result.plan.groups,
        meta: result.plan.meta,
      },
      () =>
        [
          `storage: ${result.plan.groups.length} groups on farms ${result.plan.groups.map((g) => g.farm).join(', ')}; ${result.deployed} namespace(s) deployed, ${result.cancelled} contract(s) cancelled`,
          result.superseded
            ? `${result.superseded} replaced backend(s) wait for a complete repair: run twin bot apply again`
            : '',
          `QSS configuration: ${f.qss}`,
        ]
          .filter(Boolean)
          .join('\n'),
    );
  });
}

function statusCommand(): Command {
  const cmd = new Command('status').description(
    "what the 3Bot runs for this twin, beside each node's liveness now",
  );
  return jsonOption(phonebookOption(homeOption(cmd))).action(
    async (o: Pick<Common, 'home' | 'phonebook' | 'json'>) => {
      const f = files(o.home);
      if (!existsSync(f.desired))
        throw new BotError(
          'not_found',
          `no desired state recorded: run twin bot apply FILE --home ${o.home}`,
        );
      const desired = parseDesiredState(readText(f.desired, 'desired state'));
      const state = loadState(f.state);
      const liveness = new Map((await nodeViews(o.phonebook)).map((n) => [n.id, n.status]));
      const item = (name: string, b: BotState['meta'][number]) => ({
        item: name,
        node: b?.node ?? null,
        farm: b?.farm ?? null,
        contract: b?.contract ?? null,
        address: b?.address ?? null,
        node_status: b ? (liveness.get(b.node) ?? 'down') : null,
        state: !b ? 'missing' : liveness.get(b.node) === 'up' ? 'ok' : 'needs healing',
      });
      const want = desired.qss ? desired.qss.dataShards + desired.qss.parityShards : 0;
      const items = [
        ...state.groups.flatMap((g, gi) => g.map((b, i) => item(`qss group ${gi + 1} backend ${i + 1}`, b))),
        ...state.meta.map((b, i) => item(`qss metadata ${i + 1}`, b)),
      ];
      const out = {
        desired: { qss: desired.qss ? { backends: want, metadata: desired.qss.metaBackends } : null },
        items,
        superseded: state.superseded,
        events: state.events.slice(-10),
      };
      print(o, out, () =>
        [
          `desired: ${desired.qss ? `QSS ${desired.qss.dataShards}+${desired.qss.parityShards} over ${desired.qss.groups} farms, ${desired.qss.metaBackends} metadata backends` : 'no storage'}`,
          ...items.map(
            (i) =>
              `  ${i.item.padEnd(24)} ${i.state.padEnd(14)} ${i.node === null ? '' : `node ${i.node} (farm ${i.farm}, ${i.node_status}) contract ${i.contract}`}`,
          ),
          ...(state.superseded.length
            ? [
                `superseded, to cancel after repair: ${state.superseded.map((b) => `contract ${b.contract} on node ${b.node}`).join(', ')}`,
              ]
            : []),
          'recent events:',
          ...out.events.map(
            (e) =>
              `  ${new Date(e.at).toISOString().slice(0, 19).replace('T', ' ')}  ${e.kind.padEnd(17)} ${e.message}`,
          ),
        ].join('\n'),
      );
    },
  );
}

function eventsCommand(): Command {
  const cmd = new Command('events').description('what the 3Bot did for this twin, oldest first');
  return jsonOption(homeOption(cmd)).action((o: Pick<Common, 'home' | 'json'>) => {
    const events = loadState(files(o.home).state).events;
    print(o, events, () =>
      events.length === 0
        ? 'no events yet'
        : events
            .map(
              (e) =>
                `${new Date(e.at).toISOString().slice(0, 19).replace('T', ' ')}  ${e.kind.padEnd(17)} ${e.message}`,
            )
            .join('\n'),
    );
  });
}

export function botCommand(): Command {
  return new Command('bot')
    .description("the 3Bot: plan, apply and follow a twin's desired state on the grid")
    .addCommand(planCommand())
    .addCommand(applyCommand())
    .addCommand(statusCommand())
    .addCommand(eventsCommand());
}
