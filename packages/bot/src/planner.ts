/**
 * The planner: where a twin's desired state goes on the grid. Pure and deterministic (the same
 * desired state, nodes and current placement give the same plan), so the reconciler can run it
 * on every pass and act only on the difference, and `twin bot plan` can show why.
 *
 * Rules, in order:
 * 1. Only nodes whose status is `up` take anything new; a node that is `suspect` or `down` is
 *    rejected. What already runs moves only when its node is `down`: a `suspect` node (a few
 *    missed heartbeats, maybe a blip) keeps its workloads, so a short outage causes no churn.
 * 2. Capacity: a node takes a workload only when its free capacity (total − reserved, as its
 *    last heartbeat says, − what this plan already put there) covers it. What already runs
 *    there stays without being counted twice.
 * 3. What is placed stays placed (sticky) while its node is up: healing moves only what was on
 *    a lost node.
 * 4. QSS groups on distinct farms: no farm holds backends of two groups, so losing a whole farm
 *    loses at most one group's shards (never more than the parity, see parseDesiredState).
 *    A group's backends go to distinct nodes of its farm when the farm has enough of them.
 * 5. Anti-affinity: the twin's own host takes none of its storage when another node can.
 * 6. Ties are broken by the most free capacity, then the lowest node or farm id.
 */
import { z } from 'zod';
import { type DesiredState, META_NAMESPACE_SIZE, shardsPerGroup } from './desired.ts';
import { BotError } from './errors.ts';
import { formatSize } from './units.ts';

export interface Resources {
  cpu: number;
  memory: number;
  storage: number;
}

/** A grid node as the planner sees it (from the phonebook's nodes and their status). */
export interface NodeView {
  id: number;
  farm: number;
  status: 'up' | 'suspect' | 'down';
  capacity: Resources;
  /** Reserved, as of the node's last heartbeat. */
  used: Resources;
}

const nodeId = z.number().int().positive();

/** Where things run now (node ids), as the reconciler recorded it. */
export const currentPlacementSchema = z.strictObject({
  twin: nodeId.optional(),
  /** Per QSS group, the node of each of its backends. */
  groups: z.array(z.array(nodeId.nullable()).max(64)).max(16).optional(),
  meta: z.array(nodeId.nullable()).max(7).optional(),
});
export type CurrentPlacement = z.infer<typeof currentPlacementSchema>;

/** Parses a current placement (JSON text); throws BotError `bad_current_placement`. */
export function parseCurrentPlacement(text: string): CurrentPlacement {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BotError('bad_current_placement', `the current placement is not JSON: ${(e as Error).message}`);
  }
  const r = currentPlacementSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BotError('bad_current_placement', `${issue.path.join('.') || 'placement'}: ${issue.message}`);
  }
  return r.data;
}

export interface Placement {
  node: number;
  farm: number;
  /** Bytes of storage the namespace (or the twin's disk) takes. */
  size: number;
  /** True when this is where it already runs. */
  kept: boolean;
  reason: string;
}

export interface Plan {
  twin?: Placement;
  groups: Array<{ farm: number; backends: Placement[] }>;
  meta: Placement[];
  /** Every node, with what it was chosen for or why not. */
  nodes: Array<{ node: number; farm: number; status: NodeView['status']; chosen: string[]; notes: string[] }>;
}

/** Plans the desired state over `nodes`. Throws BotError `no_capacity` or `not_enough_farms`. */
export function plan(
  desired: DesiredState,
  nodes: readonly NodeView[],
  current: CurrentPlacement = {},
): Plan {
  const sorted = [...nodes].sort((a, b) => a.id - b.id);
  const byId = new Map(sorted.map((n) => [n.id, n]));
  const reserved = new Map<number, Resources>(sorted.map((n) => [n.id, { cpu: 0, memory: 0, storage: 0 }]));
  const chosen = new Map<number, string[]>(sorted.map((n) => [n.id, []]));
  const notes = new Map<number, Set<string>>(sorted.map((n) => [n.id, new Set()]));
  const free = (n: NodeView): Resources => {
    const r = reserved.get(n.id)!;
    return {
      cpu: n.capacity.cpu - n.used.cpu - r.cpu,
      memory: n.capacity.memory - n.used.memory - r.memory,
      storage: n.capacity.storage - n.used.storage - r.storage,
    };
  };
  const reserve = (n: NodeView, what: Partial<Resources>, role: string) => {
    const r = reserved.get(n.id)!;
    r.cpu += what.cpu ?? 0;
    r.memory += what.memory ?? 0;
    r.storage += what.storage ?? 0;
    chosen.get(n.id)!.push(role);
  };
  const note = (n: NodeView, text: string) => notes.get(n.id)!.add(text);
  /** A node whose workloads stay where they are: up, or suspect (a few missed heartbeats). */
  const alive = (id: number | null | undefined): NodeView | undefined => {
    const n = id == null ? undefined : byId.get(id);
    return n && n.status !== 'down' ? n : undefined;
  };
  for (const n of sorted)
    if (n.status !== 'up')
      note(
        n,
        n.status === 'down'
          ? 'down: takes nothing new, its workloads move'
          : 'suspect: takes nothing new, keeps what it has',
      );

  // ---- the twin's host
  let twin: Placement | undefined;
  const t = desired.twin;
  if (t?.on === 'grid') {
    const c = t.constraints;
    const allowed = (n: NodeView) =>
      (!c.farms || c.farms.includes(n.farm)) && !c.excludeNodes?.includes(n.id);
    const need = { cpu: c.cpu, memory: c.memory, storage: c.disk };
    const keep = alive(current.twin);
    if (keep && allowed(keep)) {
      twin = { node: keep.id, farm: keep.farm, size: c.disk, kept: true, reason: 'already runs the twin' };
      chosen.get(keep.id)!.push('twin');
    } else {
      const fits: NodeView[] = [];
      for (const n of sorted) {
        if (n.status !== 'up') continue;
        if (!allowed(n)) {
          note(n, 'not allowed for the twin by its constraints');
          continue;
        }
        const f = free(n);
        if (f.cpu < need.cpu || f.memory < need.memory || f.storage < need.storage) {
          note(
            n,
            `no room for the twin: free ${f.cpu} cpu, ${formatSize(f.memory)} memory, ${formatSize(f.storage)} disk`,
          );
          continue;
        }
        fits.push(n);
      }
      const best = fits.sort(
        (a, b) => free(b).memory - free(a).memory || free(b).cpu - free(a).cpu || a.id - b.id,
      )[0];
      if (!best)
        throw new BotError(
          'no_capacity',
          `no node that is up has ${need.cpu} cpu, ${formatSize(need.memory)} memory and ${formatSize(need.storage)} disk free for the twin`,
        );
      const moved = current.twin !== undefined ? ` (node ${current.twin} is not up)` : '';
      twin = {
        node: best.id,
        farm: best.farm,
        size: c.disk,
        kept: false,
        reason: `most free memory of ${fits.length} node(s) with room${moved}`,
      };
      reserve(best, need, 'twin');
    }
  }
  const host = twin?.node;

  // ---- QSS: groups on distinct farms, then the metadata namespaces
  const groups: Plan['groups'] = [];
  const meta: Placement[] = [];
  const q = desired.qss;
  if (q) {
    const size = q.sizePerBackend;
    const counts = shardsPerGroup(q);
    const farmOf = new Map<number, NodeView[]>();
    for (const n of sorted) farmOf.set(n.farm, [...(farmOf.get(n.farm) ?? []), n]);
    const fits = (n: NodeView, bytes: number) => n.status === 'up' && free(n).storage >= bytes;
    /** Storage candidates of a farm, best first: not the twin's host, most free, lowest id. */
    const ranked = (farm: number, bytes: number, avoid: Set<number>) =>
      (farmOf.get(farm) ?? [])
        .filter((n) => fits(n, bytes))
        .sort(
          (a, b) =>
            Number(a.id === host) - Number(b.id === host) ||
            Number(avoid.has(a.id)) - Number(avoid.has(b.id)) ||
            free(b).storage - free(a).storage ||
            a.id - b.id,
        );
    const taken = new Set<number>(); // farms holding a group
    // Farms kept by the groups' surviving backends are claimed first, so a new group never
    // lands on a farm an existing group still uses.
    const kept: Array<Array<NodeView | undefined>> = counts.map((count, g) =>
      Array.from({ length: count }, (_, i) => alive(current.groups?.[g]?.[i])),
    );
    for (const list of kept) for (const n of list) if (n) taken.add(n.farm);
    for (let g = 0; g < counts.length; g++) {
      const backends: Placement[] = [];
      const own = new Set<number>(); // nodes of this group
      const groupFarms = new Set<number>();
      for (const n of kept[g]!) {
        if (!n) continue;
        groupFarms.add(n.farm);
        own.add(n.id);
      }
      /** Farms this group may take from: its own first, then farms no group uses, best first. */
      const farmsFor = (): number[] => {
        const fresh = [...farmOf.keys()]
          .filter((f) => !taken.has(f))
          .map((f) => ({ f, nodes: ranked(f, size, own) }))
          .filter((x) => x.nodes.length > 0)
          .sort(
            (a, b) =>
              Number(b.nodes.length >= counts[g]!) - Number(a.nodes.length >= counts[g]!) ||
              b.nodes.filter((n) => n.id !== host).length - a.nodes.filter((n) => n.id !== host).length ||
              b.nodes.reduce((s, n) => s + free(n).storage, 0) -
                a.nodes.reduce((s, n) => s + free(n).storage, 0) ||
              a.f - b.f,
          )
          .map((x) => x.f);
        return [...[...groupFarms].sort((a, b) => a - b), ...fresh];
      };
      for (let i = 0; i < counts[g]!; i++) {
        const k = kept[g]![i];
        if (k) {
          backends.push({ node: k.id, farm: k.farm, size, kept: true, reason: 'already holds this backend' });
          chosen.get(k.id)!.push(`qss group ${g + 1} backend ${i + 1}`);
          continue;
        }
        let placed: Placement | undefined;
        for (const f of farmsFor()) {
          const n = ranked(f, size, own)[0];
          if (!n) continue;
          const why: string[] = [];
          if (groupFarms.size === 0) why.push(`farm ${f} holds no other group`);
          else if (!groupFarms.has(f))
            why.push(`the group's farm has no room: farm ${f}, used by no other group`);
          if (own.has(n.id))
            why.push(
              `shares a node with another backend of the group (farm ${f} has no other node with room)`,
            );
          if (n.id === host) why.push('the twin host: no other node with room');
          why.push(`${formatSize(free(n).storage)} free`);
          const replaced = current.groups?.[g]?.[i];
          if (replaced != null) why.unshift(`replaces node ${replaced} (not up)`);
          placed = { node: n.id, farm: n.farm, size, kept: false, reason: why.join('; ') };
          reserve(n, { storage: size }, `qss group ${g + 1} backend ${i + 1}`);
          own.add(n.id);
          groupFarms.add(f);
          taken.add(f);
          break;
        }
        if (!placed) {
          const have = [...farmOf.keys()].filter((f) => !taken.has(f) && ranked(f, size, own).length > 0);
          throw new BotError(
            'not_enough_farms',
            `QSS ${q.dataShards}+${q.parityShards} needs ${q.groups} farms with room for ${counts.join('/')} backends of ${formatSize(size)}; group ${g + 1} found none (farms with room left: ${have.length ? have.join(', ') : 'none'})`,
          );
        }
        backends.push(placed);
      }
      groups.push({ farm: backends[0]!.farm, backends });
    }

    // Metadata: small namespaces, spread over as many farms as there are, away from the host.
    const metaKept = Array.from({ length: q.metaBackends }, (_, i) => alive(current.meta?.[i]));
    const metaNodes = new Set(metaKept.filter((n): n is NodeView => !!n).map((n) => n.id));
    const metaFarms = new Set(metaKept.filter((n): n is NodeView => !!n).map((n) => n.farm));
    for (let i = 0; i < q.metaBackends; i++) {
      const k = metaKept[i];
      if (k) {
        meta.push({
          node: k.id,
          farm: k.farm,
          size: META_NAMESPACE_SIZE,
          kept: true,
          reason: 'already holds this backend',
        });
        chosen.get(k.id)!.push(`qss metadata ${i + 1}`);
        continue;
      }
      const best = sorted
        .filter((n) => fits(n, META_NAMESPACE_SIZE) && !metaNodes.has(n.id))
        .sort(
          (a, b) =>
            Number(metaFarms.has(a.farm)) - Number(metaFarms.has(b.farm)) ||
            Number(a.id === host) - Number(b.id === host) ||
            free(b).storage - free(a).storage ||
            a.id - b.id,
        )[0];
      if (!best)
        throw new BotError(
          'no_capacity',
          `no node that is up has ${formatSize(META_NAMESPACE_SIZE)} free for QSS metadata backend ${i + 1}`,
        );
      const why = metaFarms.has(best.farm)
        ? `farm ${best.farm} again: no other farm has room`
        : `a farm no other metadata backend uses`;
      const replaced = current.meta?.[i];
      meta.push({
        node: best.id,
        farm: best.farm,
        size: META_NAMESPACE_SIZE,
        kept: false,
        reason: `${replaced != null ? `replaces node ${replaced} (not up); ` : ''}${why}`,
      });
      reserve(best, { storage: META_NAMESPACE_SIZE }, `qss metadata ${i + 1}`);
      metaNodes.add(best.id);
      metaFarms.add(best.farm);
    }
  }

  for (const n of sorted)
    if (n.status === 'up' && chosen.get(n.id)!.length === 0 && notes.get(n.id)!.size === 0)
      note(n, `not needed (${formatSize(free(n).storage)} disk free)`);
  return {
    ...(twin ? { twin } : {}),
    groups,
    meta,
    nodes: sorted.map((n) => ({
      node: n.id,
      farm: n.farm,
      status: n.status,
      chosen: chosen.get(n.id)!,
      notes: [...notes.get(n.id)!],
    })),
  };
}
