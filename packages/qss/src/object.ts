/**
 * Objects over a ShardStore: putObject streams bytes through the pipeline into the store and
 * returns the object's metadata (to be sealed with sealMetadata); getObject streams them back,
 * reading k shards per block and the rest only when some of those are missing or corrupt.
 */
import { randomBytes } from 'node:crypto';
import { type BlockLayout, KEY_BYTES } from './block.ts';
import { QssError } from './errors.ts';
import type { BlockRecord, ObjectMetadata } from './metadata.ts';
import { mapOrdered } from './ordered.ts';
import {
  type ByteSource,
  DEFAULT_BLOCK_SIZE,
  type EncodeOptions,
  encodeStream,
  type PipelineOptions,
} from './pipeline.ts';
import { InlineRunner } from './runner.ts';
import type { ShardLocation, ShardStore } from './store.ts';

/** Stores `source` and returns its metadata. On failure, deletes what it stored (best effort). */
export async function putObject(
  source: ByteSource,
  store: ShardStore,
  options: EncodeOptions,
): Promise<ObjectMetadata> {
  const { k, m } = options;
  const key = randomBytes(KEY_BYTES);
  const parallelism = options.parallelism ?? 2;
  const stored: ShardLocation[] = [];
  const blocks: BlockRecord[] = [];
  let size = 0;
  try {
    const records = mapOrdered(encodeStream(source, key, options), parallelism, async (block) => {
      const locations = await store.putShards(block.shards, { block: block.index, k, m });
      stored.push(...locations);
      if (locations.length !== k + m)
        throw new QssError('ESTORE', `store returned ${locations.length} locations for ${k + m} shards`);
      const record: BlockRecord = {
        plainSize: block.plainSize,
        storedSize: block.storedSize,
        compressed: block.compressed,
        shards: locations.map((location, i) => ({ location, checksum: block.checksums[i]! })),
      };
      return record;
    });
    for await (const record of records) {
      blocks.push(record);
      size += record.plainSize;
    }
  } catch (e) {
    await Promise.allSettled(stored.map((l) => store.deleteShard(l)));
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

export interface ShardDamage {
  block: number;
  shard: number;
  state: 'missing' | 'corrupt';
  location: ShardLocation;
}

export interface GetOptions extends PipelineOptions {
  /** Told about every shard found missing or corrupt on the way (for repair). */
  onDamage?: (damage: ShardDamage) => void;
}

/** The object's bytes, block by block, in order. */
export function getObject(
  meta: ObjectMetadata,
  store: ShardStore,
  options: GetOptions = {},
): AsyncGenerator<Uint8Array> {
  const { k, m, key } = meta;
  const runner = options.runner ?? new InlineRunner();
  return mapOrdered(meta.blocks, options.parallelism ?? 2, async (record, index) => {
    const layout: BlockLayout = {
      index,
      plainSize: record.plainSize,
      storedSize: record.storedSize,
      compressed: record.compressed,
      checksums: record.shards.map((s) => s.checksum),
    };
    const shards: Array<Uint8Array | undefined> = new Array(k + m).fill(undefined);
    const fetch = (from: number, to: number) =>
      Promise.all(
        record.shards.slice(from, to).map(async (s, i) => {
          shards[from + i] = await store.getShard(s.location);
        }),
      );
    await fetch(0, k);
    let decoded: Awaited<ReturnType<typeof runner.decode>>;
    try {
      decoded = await runner.decode(k, m, layout, shards, key);
    } catch (e) {
      if (!(e instanceof QssError) || e.code !== 'ESHARDS' || m === 0) throw e;
      await fetch(k, k + m);
      decoded = await runner.decode(k, m, layout, shards, key);
    }
    for (const [state, list] of [
      ['missing', decoded.missing],
      ['corrupt', decoded.corrupt],
    ] as const)
      for (const shard of list)
        options.onDamage?.({ block: index, shard, state, location: record.shards[shard]!.location });
    return decoded.plain;
  });
}
