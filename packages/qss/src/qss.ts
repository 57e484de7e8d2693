/**
 * Quantum Safe Storage for one owner: objects by path, their shards on the data backends
 * (ZdbShardStore) and their sealed metadata on the metadata backends (MetaStore), under one
 * configuration. This is the library surface the CLI, the twin daemon and the 3Bot use.
 *
 * Writes are all-or-nothing: the shards go first, then the metadata on a quorum; only then is
 * the object visible (and the previous version's shards are dropped). A failure at any step
 * deletes what was written and leaves the previous version in place.
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QssConfig } from './config.ts';
import { QssError } from './errors.ts';
import { fileBlocks } from './file-source.ts';
import { type MetaRecord, MetaStore } from './meta-store.ts';
import type { ObjectMetadata, ShardRecord } from './metadata.ts';
import {
  type CheckReport,
  checkObject,
  getObject,
  putObject,
  repairObject,
  type ShardDamage,
  type ShardState,
} from './object.ts';
import type { ByteSource } from './pipeline.ts';
import { type BlockRunner, InlineRunner, WorkerPool } from './runner.ts';
import { isAbsent } from './store.ts';
import { type BackendStatus, shardKey, ZdbShardStore } from './zdb-store.ts';

/** How a Qss runs: its worker threads, blocks in flight, backend timeouts, read hedging. */
export interface QssOptions {
  /** Worker threads for encoding and decoding (default: one per core; 0 = on this thread). */
  workers?: number;
  /** Blocks in flight at once (default: 4 per worker, at least 4; memory ≈ 2.5 × blocks × block size). */
  parallelism?: number;
  /** Per-command timeout for backends (default 5000 ms). */
  timeoutMs?: number;
  /** Milliseconds before a slow read also asks for parity shards (default 250). */
  hedgeMs?: number;
}

/** What put, stat and list tell about one stored object (its current version). */
export interface ObjectInfo {
  path: string;
  size: number;
  blocks: number;
  k: number;
  m: number;
  generation: number;
  /** When this version was written (ms since the epoch). */
  time: number;
  /** Bytes kept on the data backends (all shards). */
  storedBytes: number;
  /** Shards recorded as never stored (a degraded write not yet completed by repair). */
  absentShards: number;
}

/** One damaged shard of an object, as check reports it. */
export interface DamageReport {
  block: number;
  shard: number;
  state: Exclude<ShardState, 'ok'>;
  backend: string;
}

/** What check found: every damaged shard, and the blocks that can no longer be read. */
export interface CheckResult {
  path: string;
  ok: boolean;
  blocks: number;
  shards: number;
  damaged: DamageReport[];
  /** Blocks that cannot be read back (fewer than k intact shards). */
  lost: number[];
}

/** What rebuild did: shards damaged, re-coded, still damaged; blocks lost; the new generation. */
export interface RebuildResult {
  path: string;
  damaged: number;
  rebuilt: number;
  remaining: number;
  lost: number[];
  generation: number;
}

/** One repair sweep over every object (failures are listed per path, not thrown). */
export interface RepairReport {
  objects: number;
  degraded: number;
  rebuilt: number;
  failed: number;
  /** Shards written anew, over all objects. */
  shards: number;
  /** Metadata copies brought up to date on backends that had missed writes. */
  metadataCopied: number;
  errors: { path: string; error: string }[];
}

/** What collectGarbage found (and deleted unless dryRun). */
export interface GarbageReport {
  objects: number;
  /** Shards the objects reference. */
  referenced: number;
  /** Entries looked at on the data backends. */
  scanned: number;
  /** Unreferenced entries of this owner older than the grace period (deleted unless dryRun). */
  garbage: number;
  garbageBytes: number;
  /** Unreferenced entries that are not this owner's (other owners', the namespace marker): left alone. */
  foreign: number;
  /** Backends that could not be swept. */
  unreachable: string[];
  dryRun: boolean;
}

/** The health of every data and metadata backend, and whether reads and writes can proceed. */
export interface QssStatus {
  k: number;
  m: number;
  tolerate: QssConfig['tolerate'];
  data: BackendStatus[];
  meta: BackendStatus[];
  metaQuorum: number;
  /** True when reads and writes can proceed: k + margin data backends and a metadata quorum up. */
  writable: boolean;
  readable: boolean;
}

const REFRESH_MS = 30_000;

/**
 * Quantum Safe Storage for one owner under one configuration. Open it with `Qss.open(config)`
 * and `close()` it when done (it holds worker threads and backend connections).
 * Every method that reads or writes metadata throws QssError no_metadata_quorum when too few metadata
 * backends answer, and bad_path for a path that is empty, too long or not valid.
 */
export class Qss {
  readonly store: ZdbShardStore;
  readonly metadata: MetaStore;
  readonly runner: BlockRunner;
  private readonly parallelism: number;
  private readonly hedgeMs: number;
  private refreshedAt = 0;

  constructor(
    readonly config: QssConfig,
    options: QssOptions = {},
  ) {
    this.store = new ZdbShardStore(config.groups, {
      timeoutMs: options.timeoutMs,
      ownerKey: createHmac('sha256', config.key).update('qss/shard-owner').digest(),
    });
    this.metadata = new MetaStore(config.meta.backends, config.key, {
      quorum: config.meta.quorum,
      timeoutMs: options.timeoutMs,
    });
    const workers = options.workers ?? undefined;
    this.runner = workers === 0 ? new InlineRunner() : new WorkerPool(workers);
    const threads = workers === 0 ? 1 : ((this.runner as WorkerPool).size ?? 1);
    this.parallelism = options.parallelism ?? Math.max(4, threads * 4);
    this.hedgeMs = options.hedgeMs ?? 250;
  }

  /** Opens the store (connections are made on first use; worker threads start now). Throws nothing. */
  static open(config: QssConfig, options?: QssOptions): Qss {
    return new Qss(config, options);
  }

  private info(record: MetaRecord): ObjectInfo {
    const meta = record.meta!;
    let stored = 0;
    let absent = 0;
    for (const b of meta.blocks) {
      const size = Math.ceil(b.storedSize / meta.k);
      for (const s of b.shards) {
        if (isAbsent(s.location)) absent++;
        else stored += size;
      }
    }
    return {
      path: record.path,
      size: meta.size,
      blocks: meta.blocks.length,
      k: meta.k,
      m: meta.m,
      generation: record.generation,
      time: record.time,
      storedBytes: stored,
      absentShards: absent,
    };
  }

  private async live(path: string): Promise<MetaRecord & { meta: ObjectMetadata }> {
    const record = await this.metadata.read(path);
    if (record?.unreadable) throw new QssError('bad_metadata', `${path}: ${record.unreadable}`);
    if (!record || record.deleted || !record.meta) throw new QssError('not_found', `no object at ${path}`);
    return record as MetaRecord & { meta: ObjectMetadata };
  }

  /**
   * Learns which backends are up and how much room they have (at most every 30 s, or when
   * forced); undefined when it was not time yet. Throws nothing: a backend that fails is down.
   */
  async refresh(force = false): Promise<BackendStatus[] | undefined> {
    if (!force && Date.now() - this.refreshedAt < REFRESH_MS) return undefined;
    this.refreshedAt = Date.now();
    return this.store.refresh();
  }

  /**
   * Stores `source` at `path`, replacing what was there once the new version is durable; the
   * previous version's shards are deleted after. All or nothing: on failure nothing is visible
   * and what was written is deleted.
   * @throws QssError store_failed when a block cannot get k + margin shards onto the backends,
   *   no_metadata_quorum when too few metadata backends answer or acknowledge, bad_path, bad_coding.
   */
  async put(path: string, source: ByteSource, options: { onProgress?: (bytes: number) => void } = {}) {
    // fails early if too few metadata backends answer; learns the data backends meanwhile
    const [previous] = await Promise.all([this.metadata.read(path), this.refresh()]);
    const { k, m, margin, blockSize, compression } = this.config;
    const meta = await putObject(source, this.store, {
      k,
      m,
      margin,
      blockSize,
      compression,
      runner: this.runner,
      parallelism: this.parallelism,
      onProgress: options.onProgress,
    });
    let record: MetaRecord;
    try {
      record = await this.metadata.write(path, meta, previous);
    } catch (e) {
      await this.dropShards(meta);
      throw e;
    }
    if (previous?.meta) await this.dropShards(previous.meta, undefined, meta);
    return this.info(record);
  }

  /**
   * Stores the file at `file` (a path on this machine) at `path`, as put does; the file is read
   * straight into the blocks that are encoded, one block ahead.
   * @throws as put does; a file that cannot be read fails with the file system's error (ENOENT…).
   */
  async putFile(path: string, file: string, options: { onProgress?: (bytes: number) => void } = {}) {
    return this.put(path, fileBlocks(file, this.config.blockSize), options);
  }

  /**
   * Deletes the shards of `meta` (or only those listed), each once the store has proved it is
   * the shard meant; never one at a location that `keep` (the object as it now is) references.
   */
  private async dropShards(meta: ObjectMetadata, only?: ShardRecord[], keep?: ObjectMetadata): Promise<void> {
    const kept = new Set(keep?.blocks.flatMap((b) => b.shards.map((s) => shardKey(s.location))));
    const list = (only ?? meta.blocks.flatMap((b) => b.shards)).filter(
      (s) => !isAbsent(s.location) && !kept.has(shardKey(s.location)),
    );
    for (let i = 0; i < list.length; i += 64)
      await Promise.allSettled(
        list.slice(i, i + 64).map((s) => this.store.deleteShard(s.location, s.checksum)),
      );
  }

  /**
   * The object's info.
   * @throws QssError not_found when there is no object at `path`, bad_metadata when its record cannot
   *   be opened, no_metadata_quorum, bad_path.
   */
  async stat(path: string): Promise<ObjectInfo> {
    return this.info(await this.live(path));
  }

  /**
   * The object's info and its bytes as a stream (blocks in order, each verified); shards read
   * around (missing, corrupt, slow) are told to `onDamage`.
   * @throws QssError not_found, bad_metadata, no_metadata_quorum, bad_path; the stream throws too_few_shards when a block
   *   has fewer than k intact shards, decrypt_failed or bad_block when a block does not verify.
   */
  async get(
    path: string,
    options: { onDamage?: (d: ShardDamage) => void } = {},
  ): Promise<{ info: ObjectInfo; stream: AsyncGenerator<Uint8Array> }> {
    const record = await this.live(path);
    return {
      info: this.info(record),
      stream: getObject(record.meta, this.store, {
        runner: this.runner,
        parallelism: this.parallelism,
        hedgeMs: this.hedgeMs,
        onDamage: options.onDamage,
      }),
    };
  }

  /**
   * Every shard present and intact? `deep` (default) fetches and verifies each one; otherwise
   * the backends verify their own copies. Damage is reported, not thrown.
   * @throws QssError not_found, bad_metadata, no_metadata_quorum, bad_path.
   */
  async check(
    path: string,
    options: { deep?: boolean; onProgress?: (blocks: number) => void } = {},
  ): Promise<CheckResult> {
    const record = await this.live(path);
    await this.refresh(true); // a backend skipped after a blip is asked again, not reported missing
    return this.report(path, await checkObject(record.meta, this.store, { ...options, parallelism: 4 }));
  }

  private report(path: string, r: CheckReport): CheckResult {
    return {
      path,
      ok: r.damaged.length === 0,
      blocks: r.blocks,
      shards: r.shards,
      damaged: r.damaged.map((d) => ({
        block: d.block,
        shard: d.shard,
        state: d.state,
        backend: d.location.backend,
      })),
      lost: r.lost,
    };
  }

  /**
   * Re-codes every damaged shard of the object onto healthy backends (deep check first) and
   * records the new generation.
   * @throws QssError not_found, bad_metadata, no_metadata_quorum, bad_path; store_failed when the object changed while
   *   it was being rebuilt (nothing is changed then).
   */
  async rebuild(path: string, options: { deep?: boolean } = {}): Promise<RebuildResult> {
    await this.refresh(true);
    const record = await this.live(path);
    const check = await checkObject(record.meta, this.store, { deep: options.deep ?? true, parallelism: 4 });
    return this.rebuildFrom(record, check);
  }

  /** Re-codes what `check` found damaged in `record`'s object and records the new generation. */
  private async rebuildFrom(
    record: MetaRecord & { meta: ObjectMetadata },
    check: CheckReport,
  ): Promise<RebuildResult> {
    const path = record.path;
    const result: RebuildResult = {
      path,
      damaged: check.damaged.length,
      rebuilt: 0,
      remaining: check.damaged.length,
      lost: check.lost,
      generation: record.generation,
    };
    if (check.damaged.length === 0) return result;
    const repaired = await repairObject(record.meta, this.store, check.damaged, { parallelism: 2 });
    result.remaining = repaired.remaining;
    result.lost = repaired.lost;
    if (repaired.rebuilt === 0) return result;
    const fresh = repaired.meta.blocks.flatMap((b, i) =>
      b.shards.filter((s, j) => s.location !== record.meta.blocks[i]!.shards[j]!.location),
    );
    // the object must not have changed meanwhile: a newer version wins, our shards go
    const now = await this.metadata.read(path);
    if (!now || now.generation !== record.generation) {
      await this.dropShards(repaired.meta, fresh, now?.meta);
      throw new QssError('store_failed', `${path} changed while it was being rebuilt; nothing was changed`);
    }
    try {
      const written = await this.metadata.write(path, repaired.meta, record);
      result.generation = written.generation;
    } catch (e) {
      await this.dropShards(repaired.meta, fresh, record.meta);
      throw e;
    }
    await this.dropShards(record.meta, repaired.replaced, repaired.meta);
    result.rebuilt = repaired.rebuilt;
    return result;
  }

  /**
   * Removes the object: a tombstone on the metadata quorum, then its shards.
   * @throws QssError not_found, no_metadata_quorum, bad_path.
   */
  async delete(path: string): Promise<void> {
    const found = await this.metadata.read(path);
    if (found?.unreadable && !found.deleted) {
      // an object of an older format: its record goes; its shards cannot be proved ours (gc skips them)
      await this.metadata.write(path, undefined, found);
      return;
    }
    const record = await this.live(path);
    await this.metadata.write(path, undefined, record);
    await this.dropShards(record.meta);
  }

  /**
   * Objects whose path starts with `prefix`, by path.
   * @throws QssError no_metadata_quorum when too few metadata backends answer.
   */
  async list(prefix = ''): Promise<ObjectInfo[]> {
    const records = await this.metadata.records();
    return records.filter((r) => !r.deleted && r.meta && r.path.startsWith(prefix)).map((r) => this.info(r));
  }

  /**
   * Deletes shards that no object references: left on a backend that was down when they were
   * replaced or deleted, or by a writer that died mid-put. Only entries older than
   * `graceSeconds` (default 1 h) go, so writes in progress keep theirs. Refuses unless the
   * metadata backends answer for every object (a read quorum). Only entries whose owner tag
   * proves them this configuration's are touched: namespaces may be shared with other owners.
   * @throws QssError bad_config for a negative grace period, no_metadata_quorum.
   */
  async collectGarbage(options: { graceSeconds?: number; dryRun?: boolean } = {}): Promise<GarbageReport> {
    const grace = options.graceSeconds ?? 3600;
    if (!Number.isFinite(grace) || grace < 0)
      throw new QssError('bad_config', 'the grace period must be ≥ 0 seconds');
    const before = Date.now() - grace * 1000;
    const records = await this.metadata.records();
    const referenced = new Set<string>();
    for (const r of records)
      for (const b of r.meta?.blocks ?? [])
        for (const s of b.shards) if (!isAbsent(s.location)) referenced.add(shardKey(s.location));
    const swept = await this.store.collect(referenced, before, { dryRun: options.dryRun });
    return {
      objects: records.filter((r) => !r.deleted).length,
      referenced: referenced.size,
      ...swept,
      dryRun: !!options.dryRun,
    };
  }

  /**
   * The health of every backend (asked now), and whether reads and writes can proceed. Throws
   * nothing: a backend that does not answer is reported unreachable.
   */
  async status(): Promise<QssStatus> {
    const [data, meta] = await Promise.all([this.refresh(true), this.metadata.status()]);
    const up = data!.filter((d) => d.reachable).length;
    const metaUp = meta.filter((d) => d.reachable).length;
    const { k, m, margin, tolerate } = this.config;
    return {
      k,
      m,
      tolerate,
      data: data!,
      meta,
      metaQuorum: this.metadata.quorum,
      writable: up >= k + margin && metaUp >= this.metadata.quorum,
      readable: up >= k && metaUp >= this.metadata.readQuorum,
    };
  }

  /**
   * One repair sweep: every object is checked (cheaply by default: the backends verify their own
   * copies; `deep` fetches and verifies every shard) and its damaged or absent shards re-coded onto
   * healthy backends; metadata copies that missed writes are brought up to date. An object that
   * fails is listed in the report's errors; the sweep goes on.
   * @throws QssError no_metadata_quorum when the metadata backends cannot be read or brought up to date.
   */
  async repair(
    options: { deep?: boolean; onObject?: (path: string, done: number, total: number) => void } = {},
  ): Promise<RepairReport> {
    await this.refresh(true);
    const report: RepairReport = {
      objects: 0,
      degraded: 0,
      rebuilt: 0,
      failed: 0,
      shards: 0,
      metadataCopied: 0,
      errors: [],
    };
    const sync = await this.metadata.sync();
    report.metadataCopied = sync.copied;
    const records = (await this.metadata.records()).filter(
      (r): r is MetaRecord & { meta: ObjectMetadata } => !r.deleted && !!r.meta,
    );
    for (const record of records) {
      report.objects++;
      try {
        const check = await checkObject(record.meta, this.store, {
          deep: options.deep ?? false,
          parallelism: 8,
        });
        if (check.damaged.length > 0) {
          report.degraded++;
          const r = await this.rebuildFrom(record, check);
          report.shards += r.rebuilt;
          if (r.remaining > 0 || r.lost.length > 0) {
            report.failed++;
            report.errors.push({
              path: record.path,
              error:
                r.lost.length > 0
                  ? `${r.lost.length} block(s) have fewer than ${record.meta.k} intact shards`
                  : `${r.remaining} shard(s) could not be placed on a healthy backend`,
            });
          } else report.rebuilt++;
        }
      } catch (e) {
        report.failed++;
        report.errors.push({ path: record.path, error: (e as Error).message });
      }
      options.onObject?.(record.path, report.objects, records.length);
    }
    return report;
  }

  /**
   * Sweeps now and then every `intervalMs` until the signal aborts; each report goes to
   * `onReport` (a sweep that throws is reported as one failure). Throws nothing.
   */
  async watch(
    intervalMs: number,
    onReport: (r: RepairReport) => void,
    signal: AbortSignal,
    options: { deep?: boolean } = {},
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        onReport(await this.repair(options));
      } catch (e) {
        onReport({
          objects: 0,
          degraded: 0,
          rebuilt: 0,
          failed: 1,
          shards: 0,
          metadataCopied: 0,
          errors: [{ path: '', error: (e as Error).message }],
        });
      }
      // the timer's abort listener goes with the timer: none piles up sweep after sweep
      await sleep(intervalMs, undefined, { signal }).catch(() => {});
    }
  }

  /** Closes the connections and stops the worker threads. Throws nothing. */
  async close(): Promise<void> {
    this.store.close();
    this.metadata.close();
    await this.runner.close();
  }
}
