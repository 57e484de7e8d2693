/**
 * Objects over a ShardStore: putObject streams bytes through the pipeline into the store and
 * returns the object's metadata (to be sealed with sealMetadata); getObject streams them back,
 * reading k shards per block and more only when some are missing, corrupt or slow (hedging);
 * checkObject finds damaged shards; repairObject re-codes them onto healthy backends.
 */
import { randomBytes } from 'node:crypto';
import { type BlockLayout, blockCodec, type EncodedBlock, KEY_BYTES, shardSize } from './block.ts';
import { sameChecksum, shardChecksum } from './checksum.ts';
import { QssError } from './errors.ts';
import type { BlockRecord, ObjectMetadata, ShardRecord } from './metadata.ts';
import { mapOrdered } from './ordered.ts';
import {
  type ByteSource,
  DEFAULT_BLOCK_SIZE,
  type EncodeOptions,
  encodeStream,
  type PipelineOptions,
} from './pipeline.ts';
import { InlineRunner } from './runner.ts';
import { ABSENT, isAbsent, type ShardLocation, type ShardStore } from './store.ts';

export interface PutOptions extends EncodeOptions {
  /**
   * A block is accepted when at least k + margin of its k+m shards are stored (default 1,
   * at most m); the missing ones are recorded as absent for the repair sweep to complete.
   */
  margin?: number;
  /** Told the object's plain bytes stored so far, after each block. */
  onProgress?: (bytes: number) => void;
}

/** Stores `source` and returns its metadata. On failure, deletes what it stored (best effort). */
export async function putObject(
  source: ByteSource,
  store: ShardStore,
  options: PutOptions,
): Promise<ObjectMetadata> {
  const { k, m } = options;
  const margin = Math.min(options.margin ?? 1, m);
  if (!Number.isInteger(margin) || margin < 0)
    throw new QssError('bad_config', `margin must be a non-negative integer, got ${options.margin}`);
  const key = randomBytes(KEY_BYTES);
  const parallelism = options.parallelism ?? 2;
  const stored: ShardRecord[] = [];
  /** Blocks being written: on failure the later ones are still landing and must be undone too. */
  const writing = new Set<Promise<unknown>>();
  const blocks: BlockRecord[] = [];
  let size = 0;
  try {
    const storeBlock = async (block: EncodedBlock): Promise<BlockRecord> => {
      const locations = await store.putShards(block.shards, {
        block: block.index,
        k,
        m,
        checksums: block.checksums,
      });
      let count = 0;
      locations.forEach((l, i) => {
        if (!l) return;
        stored.push({ location: l, checksum: block.checksums[i]! });
        count++;
      });
      if (locations.length !== k + m)
        throw new QssError(
          'store_failed',
          `store returned ${locations.length} locations for ${k + m} shards`,
        );
      if (count < k + margin)
        throw new QssError(
          'store_failed',
          `block ${block.index}: only ${count} of ${k + m} shards could be stored, ${k + margin} needed ` +
            `(k=${k} + margin ${margin}); too many backends are down, full or in the same group`,
        );
      const record: BlockRecord = {
        plainSize: block.plainSize,
        storedSize: block.storedSize,
        compressed: block.compressed,
        shards: locations.map((location, i) => ({
          location: location ?? ABSENT,
          checksum: block.checksums[i]!,
        })),
      };
      return record;
    };
    const records = mapOrdered(encodeStream(source, key, options), parallelism, (block) => {
      const writes = storeBlock(block);
      writing.add(writes);
      const done = () => writing.delete(writes);
      writes.then(done, done);
      return writes;
    });
    for await (const record of records) {
      blocks.push(record);
      size += record.plainSize;
      options.onProgress?.(size);
    }
  } catch (e) {
    while (writing.size > 0) await Promise.allSettled([...writing]);
    await Promise.allSettled(stored.map((s) => store.deleteShard(s.location, s.checksum)));
    throw e;
  }
  return {
    size,
    blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
    k,
    m,
    compression: options.compression ?? 'auto',
    key,
    blocks,
  };
}

/** A shard found intact, not there (missing), with wrong bytes (corrupt), or never stored (absent). */
export type ShardState = 'ok' | 'missing' | 'corrupt' | 'absent';

/** A shard read around while an object was read (Qss.get's onDamage). */
export interface ShardDamage {
  block: number;
  shard: number;
  state: Exclude<ShardState, 'ok'>;
  location: ShardLocation;
}

export interface GetOptions extends PipelineOptions {
  /** Told about every shard found missing or corrupt on the way (for repair). */
  onDamage?: (damage: ShardDamage) => void;
  /**
   * When k shards of a block have not all arrived after this long, the parity shards are asked
   * for too and the first k good ones win (default 250 ms).
   */
  hedgeMs?: number;
}

/**
 * Fetches shards of a block until k have arrived: the data shards first, one more for each that
 * fails, and every remaining one when the first k are slower than `hedgeMs`. `done` resolves
 * when k arrived or none is left to ask; `rest` asks for every remaining shard; `retry` asks again
 * even of backends the store skips as recently failed. `shards` holds the k+m slots (undefined
 * where absent, failed or not yet arrived).
 */
function fetchShards(
  record: BlockRecord,
  store: ShardStore,
  want: number,
  hedgeMs: number,
): {
  shards: Array<Uint8Array | undefined>;
  done: Promise<void>;
  rest: () => Promise<void>;
  retry: () => Promise<boolean>;
} {
  const n = record.shards.length;
  const shards: Array<Uint8Array | undefined> = new Array(n).fill(undefined);
  const order = record.shards.flatMap((s, i) => (isAbsent(s.location) ? [] : [i]));
  let next = 0;
  let arrived = 0;
  let settled = 0;
  let started = 0;
  const all: Promise<void>[] = [];
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const check = () => {
    if (arrived >= want || settled === order.length) finish();
  };
  const start = () => {
    if (next >= order.length) return;
    const i = order[next++]!;
    started++;
    const p = store.getShard(record.shards[i]!.location).then(
      (bytes) => {
        settled++;
        shards[i] = bytes;
        if (bytes) arrived++;
        else start();
        check();
      },
      () => {
        settled++;
        start();
        check();
      },
    );
    all.push(p);
  };
  for (let i = 0; i < want; i++) start();
  check();
  let timer: NodeJS.Timeout | undefined;
  if (hedgeMs >= 0 && next < order.length) {
    timer = setTimeout(() => {
      while (next < order.length) start();
    }, hedgeMs);
    done.then(() => clearTimeout(timer));
  }
  const rest = async () => {
    clearTimeout(timer);
    while (next < order.length) start();
    while (settled < started) await Promise.allSettled([...all]);
  };
  /** Asks again, even of backends believed down, for every shard not at hand; true if any arrived. */
  const retry = async () => {
    const again = await Promise.all(
      order.map(async (i) => {
        if (shards[i]) return false;
        shards[i] = await store
          .getShard(record.shards[i]!.location, { evenIfDown: true })
          .catch(() => undefined);
        return !!shards[i];
      }),
    );
    return again.includes(true);
  };
  if (order.length === 0) finish();
  return { shards, done, rest, retry };
}

/** The object's bytes, block by block, in order. */
export function getObject(
  meta: ObjectMetadata,
  store: ShardStore,
  options: GetOptions = {},
): AsyncGenerator<Uint8Array> {
  const { k, m, key } = meta;
  const runner = options.runner ?? new InlineRunner();
  const hedgeMs = options.hedgeMs ?? 250;
  return mapOrdered(meta.blocks, options.parallelism ?? 2, async (record, index) => {
    const layout = layoutOf(record, index);
    const fetch = fetchShards(record, store, k, hedgeMs);
    await fetch.done;
    let decoded: Awaited<ReturnType<typeof runner.decode>>;
    const decode = () => runner.decode(k, m, layout, [...fetch.shards], key);
    const short = (e: unknown) => e instanceof QssError && e.code === 'too_few_shards';
    try {
      decoded = await decode();
    } catch (e) {
      if (!short(e)) throw e;
      await fetch.rest();
      try {
        decoded = await decode();
      } catch (e) {
        // last resort: the backends the store skips as recently failed may be back by now
        if (!short(e) || !(await fetch.retry())) throw e;
        decoded = await decode();
      }
    }
    for (const [state, list] of [
      ['missing', decoded.missing],
      ['corrupt', decoded.corrupt],
    ] as const)
      for (const shard of list) {
        const location = record.shards[shard]!.location;
        options.onDamage?.({
          block: index,
          shard,
          state: isAbsent(location) ? 'absent' : state,
          location,
        });
      }
    return decoded.plain;
  });
}

function layoutOf(record: BlockRecord, index: number): BlockLayout {
  return {
    index,
    plainSize: record.plainSize,
    storedSize: record.storedSize,
    compressed: record.compressed,
    checksums: record.shards.map((s) => s.checksum),
  };
}

const intact = (bytes: Uint8Array | undefined, size: number, checksum: Uint8Array) =>
  !!bytes && bytes.length === size && sameChecksum(shardChecksum(bytes), checksum);

export interface CheckOptions {
  /** Fetch every shard and verify its checksum (default); otherwise ask the backends (cheap). */
  deep?: boolean;
  /** Blocks examined at once (default 4). */
  parallelism?: number;
  /** Told after each block with the number of blocks examined. */
  onProgress?: (blocks: number) => void;
}

export interface CheckReport {
  blocks: number;
  shards: number;
  /** Shards not in the state they should be, block by block. */
  damaged: ShardDamage[];
  /** Blocks with fewer than k intact shards: their bytes are lost. */
  lost: number[];
}

/** The state of every shard of the object. */
export async function checkObject(
  meta: ObjectMetadata,
  store: ShardStore,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const deep = options.deep ?? true;
  const report: CheckReport = { blocks: meta.blocks.length, shards: 0, damaged: [], lost: [] };
  const states = mapOrdered(meta.blocks, options.parallelism ?? 4, async (record) => {
    const size = shardSize(record.storedSize, meta.k);
    return Promise.all(
      record.shards.map(async (s): Promise<ShardState> => {
        if (isAbsent(s.location)) return 'absent';
        if (!deep && store.probeShard) return store.probeShard(s.location);
        const bytes = await store.getShard(s.location);
        // a backend refuses to return a payload failing its own CRC: ask it which it is
        if (!bytes) return (await store.probeShard?.(s.location)) === 'corrupt' ? 'corrupt' : 'missing';
        return intact(bytes, size, s.checksum) ? 'ok' : 'corrupt';
      }),
    );
  });
  let index = 0;
  for await (const list of states) {
    report.shards += list.length;
    let ok = 0;
    list.forEach((state, shard) => {
      if (state === 'ok') ok++;
      else
        report.damaged.push({
          block: index,
          shard,
          state,
          location: meta.blocks[index]!.shards[shard]!.location,
        });
    });
    if (ok < meta.k) report.lost.push(index);
    index++;
    options.onProgress?.(index);
  }
  return report;
}

export interface RepairResult {
  /** The metadata after repair (the same object when nothing was rebuilt). */
  meta: ObjectMetadata;
  /** Shards written anew. */
  rebuilt: number;
  /** Damaged shards that could not be rebuilt or placed (still degraded). */
  remaining: number;
  /** Blocks with fewer than k intact shards (unrecoverable). */
  lost: number[];
  /** Replaced shards (old location, checksum): delete them once the new metadata is durable. */
  replaced: ShardRecord[];
}

/**
 * Re-codes the damaged shards of `meta` (as found by checkObject) from the intact ones and
 * stores them on healthy backends within the placement rules. Never re-encrypts: the rebuilt
 * shards are the ones originally written, checked against their recorded checksums.
 */
export async function repairObject(
  meta: ObjectMetadata,
  store: ShardStore,
  damaged: readonly ShardDamage[],
  options: { parallelism?: number } = {},
): Promise<RepairResult> {
  const { k, m } = meta;
  const byBlock = new Map<number, number[]>();
  for (const d of damaged) byBlock.set(d.block, [...(byBlock.get(d.block) ?? []), d.shard]);
  const blocks = [...meta.blocks];
  const result: RepairResult = { meta, rebuilt: 0, remaining: 0, lost: [], replaced: [] };
  const work = mapOrdered([...byBlock], options.parallelism ?? 2, async ([index, bad]) => {
    const record = blocks[index]!;
    const size = shardSize(record.storedSize, k);
    const slots: Array<Uint8Array | undefined> = new Array(k + m).fill(undefined);
    await Promise.all(
      record.shards.map(async (s, i) => {
        if (bad.includes(i) || isAbsent(s.location)) return;
        const bytes = await store.getShard(s.location);
        if (intact(bytes, size, s.checksum)) slots[i] = bytes;
        else if (!bad.includes(i)) bad.push(i); // found damaged since the check
      }),
    );
    if (slots.filter(Boolean).length < k)
      return { index, lost: true, record, rebuilt: 0, remaining: bad.length };
    const rebuilt = blockCodec(k, m).coder.reconstruct(slots, bad);
    const fresh: Array<Uint8Array | undefined> = new Array(k + m).fill(undefined);
    bad.forEach((shard, n) => {
      if (!sameChecksum(shardChecksum(rebuilt[n]!), record.shards[shard]!.checksum))
        throw new QssError('bad_block', `block ${index}: rebuilt shard ${shard} does not match its checksum`);
      fresh[shard] = rebuilt[n];
    });
    const held = record.shards.map((s, i) => (slots[i] ? s.location : undefined));
    const locations = await store.putShards(fresh, {
      block: index,
      k,
      m,
      held,
      checksums: record.shards.map((s) => s.checksum),
    });
    let count = 0;
    const shards = record.shards.map((s, i) => {
      const l = locations[i];
      if (!fresh[i] || !l) return s;
      count++;
      if (!isAbsent(s.location)) result.replaced.push(s);
      return { ...s, location: l };
    });
    return {
      index,
      lost: false,
      record: { ...record, shards },
      rebuilt: count,
      remaining: bad.length - count,
    };
  });
  for await (const r of work) {
    if (r.lost) result.lost.push(r.index);
    blocks[r.index] = r.record;
    result.rebuilt += r.rebuilt;
    result.remaining += r.remaining;
  }
  if (result.rebuilt > 0) result.meta = { ...meta, blocks };
  return result;
}
