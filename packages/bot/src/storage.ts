/**
 * Storage convergence: makes the twin's QSS backends on the grid match the plan, one pass at a
 * time (level-triggered: each pass looks at the nodes as they are now, not at what changed).
 *
 * A pass plans over the nodes' current status with what runs now as the current placement
 * (sticky), deploys a zdb namespace for every backend the plan places anew, writes the QSS
 * configuration from the namespaces' addresses (keeping the metadata key), and when backends
 * were replaced, has every object repaired onto the new ones before it cancels the contracts of
 * the replaced ones. A replaced backend whose repair did not complete stays listed as superseded
 * and is retried on the next pass: its contract is cancelled only once nothing needs it.
 * A node that fails a deployment is left out and the pass plans again (at most a few times).
 */
import { buildConfig, type QssConfig } from '@twin/qss';
import type { DesiredState } from './desired.ts';
import { BotError } from './errors.ts';
import { type CurrentPlacement, type NodeView, type Placement, type Plan, plan } from './planner.ts';
import type { BotEvent, BotState, DeployedBackend } from './state.ts';

/** What a pass needs from the grid (GridClient through the twin's bus, in practice). */
export interface StorageGrid {
  /** Deploys one zdb namespace on `node` and waits until it is ready; its contract and HOST:PORT/NS. */
  deployNamespace(
    node: number,
    spec: { name: string; size: number; mode: 'seq' | 'user'; password: string },
  ): Promise<{ contract: number; address: string }>;
  cancel(contract: number): Promise<void>;
}

export interface ConvergeOptions {
  desired: DesiredState;
  nodes: readonly NodeView[];
  state: BotState;
  grid: StorageGrid;
  /** The QSS configuration in use, if any: its metadata key is kept. */
  config?: QssConfig;
  /** Persists the state (called after every change, so a crash loses no contract). */
  save(state: BotState): void;
  /** Repairs every object with `config`; resolves with how many could not be made whole. */
  repair(config: QssConfig): Promise<{ objects: number; failed: number }>;
  now?: () => number;
}

export interface ConvergeResult {
  plan: Plan;
  config: QssConfig;
  deployed: number;
  cancelled: number;
  /** Replaced backends still waiting for a complete repair. */
  superseded: number;
}

/** Plans attempts per pass when nodes refuse deployments. */
const MAX_ATTEMPTS = 3;

const current = (s: BotState): CurrentPlacement => ({
  groups: s.groups.map((g) => g.map((b) => b?.node ?? null)),
  meta: s.meta.map((b) => b?.node ?? null),
});

/** One convergence pass for the desired state's QSS. Throws BotError (plan or deploy failures). */
export async function convergeStorage(o: ConvergeOptions): Promise<ConvergeResult> {
  const q = o.desired.qss;
  if (!q) throw new BotError('bad_desired_state', 'the desired state has no qss section');
  const now = o.now ?? Date.now;
  const event = (kind: string, message: string) => {
    const e: BotEvent = { at: now(), kind, message };
    o.state.events.push(e);
  };
  const failed = new Set<number>();
  let deployed = 0;
  let p: Plan | undefined;
  for (let attempt = 1; ; attempt++) {
    const nodes = o.nodes.map((n) => (failed.has(n.id) ? { ...n, status: 'down' as const } : n));
    // The twin's host is the reconciler's other half; storage is planned on its own here.
    p = plan({ ...o.desired, twin: undefined }, nodes, current(o.state));
    const refused: Error[] = [];
    const place = async (
      at: Placement,
      old: DeployedBackend | null | undefined,
      name: string,
      mode: 'seq' | 'user',
    ): Promise<DeployedBackend | null> => {
      if (at.kept && old) return old;
      try {
        const d = await o.grid.deployNamespace(at.node, {
          name,
          size: at.size,
          mode,
          password: o.state.password,
        });
        const b: DeployedBackend = { node: at.node, farm: at.farm, contract: d.contract, address: d.address };
        deployed++;
        if (old) {
          o.state.superseded.push(old);
          event(
            'replaced',
            `${name}: node ${old.node} → node ${at.node} (${at.reason}), contract ${d.contract}`,
          );
        } else event('deployed', `${name} on node ${at.node} (farm ${at.farm}), contract ${d.contract}`);
        return b;
      } catch (e) {
        failed.add(at.node);
        refused.push(e as Error);
        event('deploy_failed', `${name} on node ${at.node}: ${(e as Error).message}`);
        return old ?? null;
      }
    };
    for (let g = 0; g < p.groups.length; g++) {
      o.state.groups[g] ??= [];
      const list = o.state.groups[g]!;
      const backends = p.groups[g]!.backends;
      for (let i = 0; i < backends.length; i++) {
        list[i] = await place(backends[i]!, list[i], `qss group ${g + 1} backend ${i + 1}`, 'seq');
        o.save(o.state);
      }
      // a group that shrank: its extra backends are superseded like replaced ones
      for (const extra of list.splice(backends.length)) if (extra) o.state.superseded.push(extra);
    }
    for (const extra of o.state.groups.splice(p.groups.length).flat())
      if (extra) o.state.superseded.push(extra);
    for (let i = 0; i < p.meta.length; i++) {
      o.state.meta[i] = await place(p.meta[i]!, o.state.meta[i], `qss metadata ${i + 1}`, 'user');
      o.save(o.state);
    }
    for (const extra of o.state.meta.splice(p.meta.length)) if (extra) o.state.superseded.push(extra);
    if (refused.length === 0) break;
    if (attempt >= MAX_ATTEMPTS)
      throw new BotError(
        'deploy_failed',
        `${refused.length} deployment(s) failed after ${attempt} plans: ${refused[0]!.message}`,
        { cause: refused[0] },
      );
  }

  // Every planned backend is deployed by now (a pass with a refusal plans again or throws).
  const address = (b: DeployedBackend | null) => b!.address;
  const built = buildConfig({
    k: q.dataShards,
    m: q.parityShards,
    groups: o.state.groups.map((g) => g.map(address)),
    meta: o.state.meta.map(address),
    password: o.state.password,
  });
  const config: QssConfig = o.config ? { ...built, key: o.config.key, repair: o.config.repair } : built;

  let cancelled = 0;
  if (o.state.superseded.length > 0) {
    const r = await o.repair(config);
    if (r.failed === 0) {
      event('repaired', `${r.objects} object(s) whole on the new backends`);
      for (const old of o.state.superseded.splice(0)) {
        await o.grid.cancel(old.contract).catch(() => {}); // already gone: nothing to cancel
        cancelled++;
        event('cancelled', `contract ${old.contract} on node ${old.node} (superseded)`);
        o.save(o.state);
      }
    } else
      event('repair_incomplete', `${r.failed} of ${r.objects} object(s) not yet whole: retried next pass`);
  }
  o.save(o.state);
  return { plan: p, config, deployed, cancelled, superseded: o.state.superseded.length };
}
