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
 *
 * Identity. A sequential namespace that is wiped (or replaced by an empty one at the same
 * address) hands out the same ids again, and namespaces are shared by many owners, so an id
 * alone never names a shard:
 * - Epoch: each namespace holds a marker entry, "QSSN" 01 | epoch[16] (random), the first such
 *   entry in write order; the store appends one where there is none. A shard's location is
 *   epoch[0..8] | id. A location whose epoch is not the namespace's current one is of a
 *   namespace that was wiped or replaced: it is never read, probed or deleted (it is missing).
 *   The epoch is proved again on every refresh and after every failure of the backend.
 * - Owner tag: a stored shard is tag[16] | shard, tag = HMAC-SHA256(owner key, "qss/shard/2\0" |
 *   SHA-256(shard))[0..16]. Only the owner can make or recognise it (a stranger sees 16 random
 *   bytes). A shard is deleted only after its bytes were read and proved to be the one meant
 *   (its recorded checksum) and the owner's own (the tag); garbage collection deletes only
 *   entries whose tag proves them the owner's.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ZDB_CODES, ZdbClient, ZdbError } from '@twin/zdb';
import { sameChecksum, shardChecksum } from './checksum.ts';
import { QssError } from './errors.ts';
import { isAbsent, type ShardContext, type ShardLocation, type ShardStore } from './store.ts';

/** One 0-db namespace used as a backend: host, port, namespace and its password. */
export interface ZdbBackendConfig {
  host: string;
  port: number;
  namespace: string;
  password?: string;
}

/** A group (site, farm) of backends: at most its share of a block's shards goes to it. */
export interface ZdbGroupConfig {
  name: string;
  backends: ZdbBackendConfig[];
}

export interface ZdbStoreOptions {
  /** The owner's shard-tag key (32 bytes; Qss derives it from the metadata key). */
  ownerKey: Uint8Array;
  /** Per-command timeout (default 5000 ms). */
  timeoutMs?: number;
  /** How long a failed backend is skipped before it is tried again (default 10 s). */
  retryMs?: number;
  /** Connections per backend (default 2). */
  pool?: number;
}

/** One backend's health as status() reports it. */
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
  /** The namespace's epoch (first bytes), while proved; undefined until (re)proved. */
  epoch?: Buffer;
  /** The marker's key, to prove the epoch again cheaply. */
  markerKey?: Buffer;
  /** An epoch lookup in progress (one at a time per backend). */
  proving?: Promise<Buffer | undefined>;
}

/** Bytes before the shard in a stored value: the owner tag. */
export const SHARD_HEADER_BYTES = 16;
/** Bytes of the namespace epoch kept in each location (before the backend's id). */
export const LOCATION_EPOCH_BYTES = 8;
const TAG_DOMAIN = Buffer.from('qss/shard/2\0', 'latin1');
const MARKER = Buffer.from('QSSN\x01', 'latin1');
const MARKER_BYTES = MARKER.length + 16;

/** The owner tag of a shard with this checksum. */
export function shardTag(ownerKey: Uint8Array, checksum: Uint8Array): Buffer {
  return createHmac('sha256', ownerKey)
    .update(TAG_DOMAIN)
    .update(checksum)
    .digest()
    .subarray(0, SHARD_HEADER_BYTES);
}

const isMarker = (v: Buffer | null): v is Buffer =>
  !!v && v.length === MARKER_BYTES && v.subarray(0, MARKER.length).equals(MARKER);

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
  private readonly ownerKey: Uint8Array;

  constructor(groups: ZdbGroupConfig[], options: ZdbStoreOptions) {
    this.retryMs = options.retryMs ?? 10_000;
    if (options.ownerKey?.length !== 32)
      throw new QssError('bad_config', 'the shard owner key must be 32 bytes');
    this.ownerKey = options.ownerKey;
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
          throw new QssError('bad_config', `backend ${backend.id} is listed twice`);
        this.backends.set(backend.id, backend);
        return backend;
      }),
    );
    if (this.backends.size === 0) throw new QssError('bad_config', 'no data backends');
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
    b.epoch = undefined; // it may come back wiped: prove the epoch again first
  }

  /**
   * The namespace's current epoch: the cached marker proved again when `recheck`, else the first
   * marker in write order; with `create`, a marker is appended where there is none (then the
   * first one is taken again, so racing writers agree). Undefined when there is no marker (or
   * the backend does not answer): nothing stored there is ours to use.
   */
  private epochOf(b: Backend, create: boolean, recheck = false): Promise<Buffer | undefined> {
    if (b.epoch && !recheck) return Promise.resolve(b.epoch);
    b.proving ??= this.prove(b, create).finally(() => {
      b.proving = undefined;
    });
    return b.proving;
  }

  private async prove(b: Backend, create: boolean): Promise<Buffer | undefined> {
    const epochIn = (v: Buffer) =>
      Buffer.from(v.subarray(MARKER.length, MARKER.length + LOCATION_EPOCH_BYTES));
    if (b.markerKey) {
      const v = await b.client.get(b.markerKey);
      if (isMarker(v) && b.epoch?.equals(epochIn(v))) return b.epoch;
    }
    const first = async () => {
      for await (const e of b.client.keys()) {
        if (e.size !== MARKER_BYTES) continue;
        const v = await b.client.get(e.key);
        if (isMarker(v)) return { key: e.key, epoch: epochIn(v) };
      }
      return undefined;
    };
    let found = await first();
    if (!found && create) {
      await b.client.append(Buffer.concat([MARKER, randomBytes(MARKER_BYTES - MARKER.length)]));
      found = await first();
    }
    b.markerKey = found?.key;
    b.epoch = found?.epoch;
    return b.epoch;
  }

  /** The epoch, or undefined (never throws: a backend that cannot prove one is unusable now). */
  private async epochOrNone(b: Backend, create: boolean): Promise<Buffer | undefined> {
    try {
      return await this.epochOf(b, create);
    } catch (e) {
      if (backendFailed(e)) this.markDown(b);
      return undefined;
    }
  }

  /** The backend's id in a location of the current epoch; undefined for another epoch. */
  private idIn(location: ShardLocation, epoch: Buffer | undefined): Buffer | undefined {
    const key = location.key;
    if (!epoch || key.length <= LOCATION_EPOCH_BYTES) return undefined;
    for (let i = 0; i < LOCATION_EPOCH_BYTES; i++) if (key[i] !== epoch[i]) return undefined;
    return Buffer.from(key.buffer, key.byteOffset + LOCATION_EPOCH_BYTES, key.length - LOCATION_EPOCH_BYTES);
  }

  /** True when `value` is the owner's copy of the shard with `checksum` (tag and bytes). */
  private owns(value: Buffer, checksum: Uint8Array): boolean {
    return (
      value.length >= SHARD_HEADER_BYTES &&
      sameChecksum(value.subarray(0, SHARD_HEADER_BYTES), shardTag(this.ownerKey, checksum)) &&
      sameChecksum(shardChecksum(value.subarray(SHARD_HEADER_BYTES)), checksum)
    );
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
        if (used.has(b.id) || b.downUntil > now || b.free < bytes || !b.epoch) continue;
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
    if (shards.length !== k + m) throw new QssError('bad_coding', `expected ${k + m} shard slots`);
    const quota = this.perGroup(k, m);
    const counts = new Array<number>(this.groups.length).fill(0);
    const used = new Set<string>();
    for (const l of context.held ?? []) {
      if (!l || isAbsent(l)) continue;
      const b = this.backends.get(l.backend);
      used.add(l.backend);
      if (b) counts[b.group]!++;
    }
    if (context.checksums.length !== k + m) throw new QssError('bad_coding', `expected ${k + m} checksums`);
    // every backend that may take a shard needs a proved epoch (normally known since refresh)
    const now = Date.now();
    await Promise.all(
      [...this.backends.values()].map((b) =>
        !b.epoch && b.downUntil <= now ? this.epochOrNone(b, true) : undefined,
      ),
    );
    const out: Array<ShardLocation | undefined> = new Array(shards.length).fill(undefined);
    const store = async (i: number, shard: Uint8Array, b: Backend): Promise<boolean> => {
      try {
        const epoch = b.epoch!;
        // tag | shard, written as two parts of one value: the shard is not copied
        const tag = shardTag(this.ownerKey, context.checksums[i]!);
        const key = await b.client.append([
          tag,
          Buffer.from(shard.buffer, shard.byteOffset, shard.byteLength),
        ]);
        b.free -= SHARD_HEADER_BYTES + shard.byteLength;
        out[i] = { backend: b.id, key: new Uint8Array(Buffer.concat([epoch, key])) };
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

  /** The shard's bytes (the stored value less its owner tag), unchecked. */
  async getShard(
    location: ShardLocation,
    options: { evenIfDown?: boolean } = {},
  ): Promise<Uint8Array | undefined> {
    const b = this.backendOf(location);
    const down = !!b && b.downUntil > Date.now();
    if (!b || (down && !options.evenIfDown)) return undefined;
    try {
      const id = this.idIn(location, b.epoch ?? (await this.epochOf(b, false)));
      if (!id) return undefined; // of a namespace since wiped or replaced: never read by its id
      const value = await b.client.get(id);
      if (down) b.downUntil = 0; // it answered: back up
      return value ? value.subarray(Math.min(SHARD_HEADER_BYTES, value.length)) : undefined;
    } catch (e) {
      if (backendFailed(e)) this.markDown(b);
      return undefined; // down, unreachable or refusing: an erasure
    }
  }

  async probeShard(location: ShardLocation): Promise<'ok' | 'missing' | 'corrupt'> {
    const b = this.backendOf(location);
    if (!b || b.downUntil > Date.now()) return 'missing';
    try {
      const id = this.idIn(location, b.epoch ?? (await this.epochOf(b, false)));
      if (!id) return 'missing';
      const ok = await b.client.check(id);
      return ok === null ? 'missing' : ok ? 'ok' : 'corrupt';
    } catch (e) {
      if (backendFailed(e)) this.markDown(b);
      return 'missing';
    }
  }

  /**
   * Deletes the shard only once proved: the location is of the namespace's current epoch, and
   * the entry's bytes are the owner's copy of the shard with `checksum`. Anything else is left
   * alone (false). Rejects when the backend cannot be asked.
   */
  async deleteShard(location: ShardLocation, checksum: Uint8Array): Promise<boolean> {
    const b = this.backendOf(location);
    if (!b) return false;
    const id = this.idIn(location, await this.epochOf(b, false));
    if (!id) return false;
    const value = await b.client.get(id);
    if (!value || !this.owns(value, checksum)) return false;
    try {
      await b.client.del(id);
    } catch (e) {
      if (!(e instanceof ZdbError && e.code === ZDB_CODES.keyNotFound)) throw e;
    }
    return true;
  }

  /**
   * NSINFO from every backend (in parallel); updates health and free space for placement, and
   * proves each reachable namespace's epoch again (a marker is written where there is none).
   */
  async refresh(): Promise<BackendStatus[]> {
    return Promise.all(
      [...this.backends.values()].map(async (b) => {
        const status = await backendStatus(b.id, this.groupNames[b.group]!, b.client, b.namespace, (e) => {
          if (backendFailed(e)) this.markDown(b);
        });
        if (status.reachable) {
          b.free = status.freeBytes!;
          b.downUntil = 0;
          try {
            await this.epochOf(b, true, true);
          } catch (e) {
            if (backendFailed(e)) this.markDown(b);
          }
        }
        return status;
      }),
    );
  }

  /**
   * Deletes, on every reachable backend, the entries that are the owner's (their tag proves it,
   * checked on their bytes), that `referenced` does not name (by `shardKey`), and that were
   * written before `before` (ms since the epoch: a grace period keeps the shards of writes still
   * in progress). Entries of other owners and the epoch marker are counted and left alone.
   */
  async collect(
    referenced: ReadonlySet<string>,
    before: number,
    options: { dryRun?: boolean } = {},
  ): Promise<{
    scanned: number;
    garbage: number;
    garbageBytes: number;
    foreign: number;
    unreachable: string[];
  }> {
    const out = { scanned: 0, garbage: 0, garbageBytes: 0, foreign: 0, unreachable: [] as string[] };
    await Promise.all(
      [...this.backends.values()].map(async (b) => {
        try {
          const epoch = await this.epochOf(b, false, true);
          const candidates: { key: Buffer; size: number }[] = [];
          for await (const e of b.client.keys()) {
            out.scanned++;
            if (e.timestamp * 1000 >= before || b.markerKey?.equals(e.key)) continue;
            if (epoch && referenced.has(shardKey({ backend: b.id, key: Buffer.concat([epoch, e.key]) })))
              continue;
            candidates.push(e);
          }
          for (const e of candidates) {
            const value = await b.client.get(e.key);
            if (!value) continue;
            const payload = value.subarray(Math.min(SHARD_HEADER_BYTES, value.length));
            if (!this.owns(value, shardChecksum(payload))) {
              out.foreign++;
              continue;
            }
            out.garbage++;
            out.garbageBytes += e.size;
            if (!options.dryRun) await b.client.del(e.key).catch(() => {});
          }
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
