/**
 * Shards on 0-db backends (sequential-mode namespaces), organised in groups (sites or farms).
 *
 * Placement: the k+m shards of a block go to k+m distinct backends, spread over the groups so
 * that no group holds more than its quota, ceil((k+m)/G) shards of a block with G groups: losing
 * a whole group loses at most that many. Within the rules each shard goes to the group holding
 * the fewest shards of the block (ties rotate with the block index, so load spreads), on a
 * backend that is reachable and has room for it. A backend that fails a write is marked down
 * and the shard tried elsewhere within the rules; when nothing is left the shard is reported
 * unstored (a degraded write, which the object layer accepts or undoes).
 *
 * Health: a backend that fails is skipped for `retryMs` (reads of its shards answer "missing"
 * at once instead of waiting for a timeout), then tried again. `refresh()` asks every backend
 * for NSINFO: reachability, used bytes, and free bytes (the lesser of the disk's free space and
 * what the namespace's size limit leaves); placement skips backends without room.
 */
import { ZdbClient, ZdbError } from '@twin/zdb';
import { QssError } from './errors.ts';
import { isAbsent, type ShardContext, type ShardLocation, type ShardStore } from './store.ts';

export interface ZdbBackendConfig {
  host: string;
  port: number;
  namespace: string;
  password?: string;
}

export interface ZdbGroupConfig {
  name: string;
  backends: ZdbBackendConfig[];
}

export interface ZdbStoreOptions {
  /** Per-command timeout (default 5000 ms). */
  timeoutMs?: number;
  /** How long a failed backend is skipped before it is tried again (default 10 s). */
  retryMs?: number;
  /** Connections per backend (default 2). */
  pool?: number;
}

export interface BackendStatus {
  backend: string;
  group: string;
  reachable: boolean;
  /** Round trip of the NSINFO request. */
  latencyMs?: number;
  entries?: number;
  usedBytes?: number;
  /** Bytes still writable: the disk's free space, capped by the namespace's size limit. */
  freeBytes?: number;
  mode?: string;
  error?: string;
}

interface Backend {
  id: string;
  namespace: string;
  group: number;
  client: ZdbClient;
  downUntil: number;
  /** Known free bytes (Infinity until NSINFO said otherwise). */
  free: number;
}

export const backendId = (b: ZdbBackendConfig) => `zdb://${b.host}:${b.port}/${b.namespace}`;

/** One string per shard location (for sets of referenced shards). */
export const shardKey = (l: ShardLocation) => `${l.backend} ${Buffer.from(l.key).toString('hex')}`;

/** A client for one backend's namespace. */
export function backendClient(
  b: ZdbBackendConfig,
  options: { timeoutMs?: number; pool?: number } = {},
): ZdbClient {
  return new ZdbClient({
    host: b.host,
    port: b.port,
    namespace: b.namespace,
    password: b.password,
    timeoutMs: options.timeoutMs ?? 5000,
    pool: options.pool,
  });
}

/**
 * A backend's health from NSINFO on its namespace: reachability, round trip, entries, used
 * bytes, and free bytes (the disk's free space capped by the namespace's size limit).
 * `onError` hears why it was unreachable.
 */
export async function backendStatus(
  backend: string,
  group: string,
  client: ZdbClient,
  namespace: string,
  onError?: (e: unknown) => void,
): Promise<BackendStatus> {
  const started = performance.now();
  try {
    const info = await client.nsinfo(namespace);
    const limit = info.dataLimitsBytes > 0 ? info.dataLimitsBytes - info.dataSizeBytes : Infinity;
    return {
      backend,
      group,
      reachable: true,
      latencyMs: performance.now() - started,
      entries: info.entries,
      usedBytes: info.dataSizeBytes,
      freeBytes: Math.max(0, Math.min(info.dataDiskFreespaceBytes, limit)),
      mode: info.mode,
    };
  } catch (e) {
    onError?.(e);
    return { backend, group, reachable: false, error: (e as Error).message };
  }
}

/** True when the error means the backend itself is unusable (not an answer about one key). */
const backendFailed = (e: unknown) => !(e instanceof ZdbError) || e.kind !== 'reply';

export class ZdbShardStore implements ShardStore {
  private readonly backends = new Map<string, Backend>();
  private readonly groups: Backend[][];
  private readonly groupNames: string[];
  private readonly retryMs: number;

  constructor(groups: ZdbGroupConfig[], options: ZdbStoreOptions = {}) {
    this.retryMs = options.retryMs ?? 10_000;
    this.groupNames = groups.map((g) => g.name);
    this.groups = groups.map((g, gi) =>
      g.backends.map((b) => {
        const backend: Backend = {
          id: backendId(b),
          namespace: b.namespace,
          group: gi,
          client: backendClient(b, { timeoutMs: options.timeoutMs, pool: options.pool ?? 2 }),
          downUntil: 0,
          free: Number.POSITIVE_INFINITY,
        };
        if (this.backends.has(backend.id))
          throw new QssError('ECONFIG', `backend ${backend.id} is listed twice`);
        this.backends.set(backend.id, backend);
        return backend;
      }),
    );
    if (this.backends.size === 0) throw new QssError('ECONFIG', 'no data backends');
  }

  get size(): number {
    return this.backends.size;
  }

  /** The most shards of one block that a single group may hold. */
  perGroup(k: number, m: number): number {
    const nonEmpty = this.groups.filter((g) => g.length > 0).length;
    return Math.ceil((k + m) / Math.max(1, nonEmpty));
  }

  /** The group a backend id belongs to (undefined for a backend no longer configured). */
  groupOf(backend: string): string | undefined {
    const b = this.backends.get(backend);
    return b ? this.groupNames[b.group] : undefined;
  }

  isUp(backend: string): boolean {
    const b = this.backends.get(backend);
    return !!b && b.downUntil <= Date.now();
  }

  private markDown(b: Backend): void {
    b.downUntil = Date.now() + this.retryMs;
  }

  /**
   * Chooses a backend for one more shard of a block, given how many of the block's shards each
   * group holds and which backends it already uses; undefined when none fits the rules.
   */
  private choose(block: number, quota: number, counts: number[], used: Set<string>, bytes: number) {
    const now = Date.now();
    const g = this.groups.length;
    let best: Backend | undefined;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < g; i++) {
      const gi = (i + block) % g;
      const group = this.groups[gi]!;
      if (counts[gi]! >= quota || counts[gi]! >= bestCount) continue;
      for (let j = 0; j < group.length; j++) {
        const b = group[(j + block) % group.length]!;
        if (used.has(b.id) || b.downUntil > now || b.free < bytes) continue;
        best = b;
        bestCount = counts[gi]!;
        break;
      }
    }
    return best;
  }

  async putShards(
    shards: ReadonlyArray<Uint8Array | undefined>,
    context: ShardContext,
  ): Promise<Array<ShardLocation | undefined>> {
    const { block, k, m } = context;
    if (shards.length !== k + m) throw new QssError('ECODER', `expected ${k + m} shard slots`);
    const quota = this.perGroup(k, m);
    const counts = new Array<number>(this.groups.length).fill(0);
    const used = new Set<string>();
    for (const l of context.held ?? []) {
      if (!l || isAbsent(l)) continue;
      const b = this.backends.get(l.backend);
      used.add(l.backend);
      if (b) counts[b.group]!++;
    }
    const out: Array<ShardLocation | undefined> = new Array(shards.length).fill(undefined);
    const store = async (i: number, shard: Uint8Array, b: Backend): Promise<boolean> => {
      try {
        const key = await b.client.append(Buffer.from(shard.buffer, shard.byteOffset, shard.byteLength));
        b.free -= shard.byteLength;
        out[i] = { backend: b.id, key: new Uint8Array(key) };
        return true;
      } catch (e) {
        if (backendFailed(e)) this.markDown(b);
        else b.free = 0; // the namespace refused (full or read-only): place elsewhere
        counts[b.group]!--;
        return false;
      }
    };
    // first choice for every shard, written in parallel
    const first: Promise<void>[] = [];
    const pending: number[] = [];
    shards.forEach((shard, i) => {
      if (!shard) return;
      const b = this.choose(block, quota, counts, used, shard.byteLength);
      if (!b) return;
      used.add(b.id);
      counts[b.group]!++;
      first.push(
        store(i, shard, b).then((ok) => {
          if (!ok) pending.push(i);
        }),
      );
    });
    await Promise.all(first);
    // shards whose backend failed: one at a time, on whatever still fits the rules
    for (const i of pending.sort((a, b) => a - b)) {
      const shard = shards[i]!;
      for (;;) {
        const b = this.choose(block, quota, counts, used, shard.byteLength);
        if (!b) break;
        used.add(b.id);
        counts[b.group]!++;
        if (await store(i, shard, b)) break;
      }
    }
    return out;
  }

  private backendOf(location: ShardLocation): Backend | undefined {
    if (isAbsent(location)) return undefined;
    const b = this.backends.get(location.backend);
    if (!b) return undefined; // a backend no longer configured: its shards are lost to us
    return b;
  }

  async getShard(
    location: ShardLocation,
    options: { evenIfDown?: boolean } = {},
  ): Promise<Uint8Array | undefined> {
    const b = this.backendOf(location);
    const down = !!b && b.downUntil > Date.now();
    if (!b || (down && !options.evenIfDown)) return undefined;
    try {
      const bytes = (await b.client.get(Buffer.from(location.key))) ?? undefined;
      if (down) b.downUntil = 0; // it answered: back up
      return bytes;
    } catch (e) {
      if (backendFailed(e)) this.markDown(b);
      return undefined; // down, unreachable or refusing: an erasure
    }
  }

  async probeShard(location: ShardLocation): Promise<'ok' | 'missing' | 'corrupt'> {
    const b = this.backendOf(location);
    if (!b || b.downUntil > Date.now()) return 'missing';
    try {
      const ok = await b.client.check(Buffer.from(location.key));
      return ok === null ? 'missing' : ok ? 'ok' : 'corrupt';
    } catch (e) {
      if (backendFailed(e)) this.markDown(b);
      return 'missing';
    }
  }

  async deleteShard(location: ShardLocation): Promise<void> {
    const b = this.backendOf(location);
    if (!b) return;
    try {
      await b.client.del(Buffer.from(location.key));
    } catch (e) {
      if (!/Key not found/.test((e as Error).message)) throw e;
    }
  }

  /** NSINFO from every backend (in parallel); updates health and free space for placement. */
  async refresh(): Promise<BackendStatus[]> {
    return Promise.all(
      [...this.backends.values()].map(async (b) => {
        const status = await backendStatus(b.id, this.groupNames[b.group]!, b.client, b.namespace, (e) => {
          if (backendFailed(e)) this.markDown(b);
        });
        if (status.reachable) {
          b.free = status.freeBytes!;
          b.downUntil = 0;
        }
        return status;
      }),
    );
  }

  /**
   * Deletes, on every reachable backend, the entries that `referenced` does not name (by
   * `shardKey`) and that were written before `before` (ms since the epoch: a grace period keeps
   * the shards of writes still in progress). The namespaces must be this store's alone.
   */
  async collect(
    referenced: ReadonlySet<string>,
    before: number,
    options: { dryRun?: boolean } = {},
  ): Promise<{ scanned: number; garbage: number; garbageBytes: number; unreachable: string[] }> {
    const out = { scanned: 0, garbage: 0, garbageBytes: 0, unreachable: [] as string[] };
    await Promise.all(
      [...this.backends.values()].map(async (b) => {
        const doomed: Buffer[] = [];
        try {
          for await (const e of b.client.keys()) {
            out.scanned++;
            if (referenced.has(shardKey({ backend: b.id, key: e.key })) || e.timestamp * 1000 >= before)
              continue;
            doomed.push(e.key);
            out.garbageBytes += e.size;
          }
          out.garbage += doomed.length;
          if (!options.dryRun) for (const key of doomed) await b.client.del(key).catch(() => {});
        } catch {
          out.unreachable.push(b.id);
        }
      }),
    );
    return out;
  }

  close(): void {
    for (const b of this.backends.values()) b.client.close();
  }
}
