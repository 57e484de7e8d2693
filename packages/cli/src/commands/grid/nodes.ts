/** `twin nodes`: every node with its farm, liveness, and total / reserved / free capacity. */
import { type NodeRecord, type NodeStatus, PhonebookClient } from '@twin/phonebook';
import { Command } from 'commander';
import { type Common, integer, jsonOption, phonebookOption, print } from '../../options.ts';

const GiB = 1024 ** 3;
const gib = (n: number) => `${(n / GiB).toFixed(1)}G`;

export function nodesCommand(): Command {
  const cmd = new Command('nodes').description(
    'list grid nodes: farm, status, total / reserved / free capacity',
  );
  return jsonOption(phonebookOption(cmd))
    .option('--farm <id>', 'only this farm', integer(1))
    .action(async (o: Pick<Common, 'phonebook' | 'json'> & { farm?: number }) => {
      const rows = (await nodesWithStatus(o.phonebook))
        .filter(({ node }) => o.farm === undefined || node.farm === o.farm)
        .map(({ node: n, status, lastSeen, used }) => ({
          id: n.id,
          farm: n.farm,
          twin: n.twin,
          status,
          lastSeen,
          total: n.capacity,
          reserved: used,
          free: {
            cpu: n.capacity.cpu - used.cpu,
            memory: n.capacity.memory - used.memory,
            storage: n.capacity.storage - used.storage,
          },
          location: n.location,
        }));
      print(o, rows, () =>
        rows.length === 0
          ? 'no nodes'
          : [
              'NODE\tFARM\tSTATUS\tCPU free/total\tMEMORY free/total\tDISK free/total',
              ...rows.map(
                (r) =>
                  `${r.id}\t${r.farm}\t${r.status}\t${r.free.cpu}/${r.total.cpu}\t${gib(r.free.memory)}/${gib(r.total.memory)}\t${gib(r.free.storage)}/${gib(r.total.storage)}`,
              ),
            ].join('\n'),
      );
    });
}

/**
 * Every node the phonebook lists, with its liveness and reserved capacity as the server last
 * heard (a node never heard of since the server started is `down` with nothing reserved).
 */
export async function nodesWithStatus(phonebook: string): Promise<
  Array<{
    node: NodeRecord;
    status: NodeStatus['status'];
    lastSeen: number | null;
    used: NonNullable<NodeStatus['used']>;
  }>
> {
  const client = new PhonebookClient({ url: phonebook });
  const [nodes, statuses] = await Promise.all([client.backend.nodes(), client.backend.nodeStatus()]);
  const status = new Map(statuses.map((s) => [s.node, s]));
  return nodes.map((node) => {
    const s = status.get(node.id);
    return {
      node,
      status: s?.status ?? 'down',
      lastSeen: s?.lastSeen ?? null,
      used: s?.used ?? { cpu: 0, memory: 0, storage: 0 },
    };
  });
}
