/**
 * `twin bot`: the 3Bot. `plan FILE` shows where a desired state would go on the grid and why
 * each node was chosen or not, from the phonebook's nodes and their liveness.
 */
import {
  formatSize,
  type NodeView,
  type Plan,
  parseCurrentPlacement,
  parseDesiredState,
  plan,
} from '@twin/bot';
import { Command } from 'commander';
import { type Common, jsonOption, phonebookOption, print, readText } from '../options.ts';
import { nodesWithStatus } from './grid/nodes.ts';

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
      const nodes: NodeView[] = (await nodesWithStatus(o.phonebook)).map(({ node, status, used }) => ({
        id: node.id,
        farm: node.farm,
        status,
        capacity: node.capacity,
        used,
      }));
      const p = plan(desired, nodes, current);
      print(o, p, () => describe(p, desired));
    },
  );
}

export function botCommand(): Command {
  return new Command('bot')
    .description("the 3Bot: plan a twin's desired state on the grid")
    .addCommand(planCommand());
}
