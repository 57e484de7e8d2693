/**
 * The streaming block pipeline, with no I/O of its own: a byte stream becomes a stream of
 * encoded blocks (shards + checksums), and a stream of shard sets becomes the bytes again.
 * At most `parallelism` blocks are in flight, so memory is bounded by blockSize × parallelism
 * (times the ~2.5 copies a block has while it is encoded) whatever the size of the stream.
 */
import type { BlockLayout, DecodedBlock, EncodedBlock } from './block.ts';
import type { CompressionPolicy } from './compression.ts';
import { QssError } from './errors.ts';
import { fixedBlocks, mapOrdered } from './ordered.ts';
import { type BlockRunner, InlineRunner } from './runner.ts';

export const DEFAULT_BLOCK_SIZE = 4 << 20;
export const MAX_BLOCK_SIZE = 1 << 30;

export interface CodeOptions {
  k: number;
  m: number;
}

export interface PipelineOptions {
  /** Blocks in flight at once (default 2). */
  parallelism?: number;
  /** Where blocks are encoded and decoded (default: inline on this thread). */
  runner?: BlockRunner;
}

export interface EncodeOptions extends CodeOptions, PipelineOptions {
  /** Bytes per block (default 4 MiB); the last block of a stream may be shorter. */
  blockSize?: number;
  compression?: CompressionPolicy;
}

/** An object's bytes as they are stored: any (async) iterable of byte chunks, of any sizes. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

const inline = new InlineRunner();

function checkOptions(o: EncodeOptions): { blockSize: number; parallelism: number } {
  if (!Number.isInteger(o.k) || !Number.isInteger(o.m) || o.k < 1 || o.m < 0 || o.k + o.m > 256)
    throw new QssError('bad_coding', `invalid code ${o.k}+${o.m}: need k ≥ 1, m ≥ 0, k + m ≤ 256`);
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  const parallelism = o.parallelism ?? 2;
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK_SIZE)
    throw new QssError('bad_coding', `block size must be 1 B to 1 GiB, got ${blockSize}`);
  if (!Number.isInteger(parallelism) || parallelism < 1)
    throw new QssError('bad_coding', `parallelism must be a positive integer, got ${parallelism}`);
  return { blockSize, parallelism };
}

/** Cuts `source` into blocks and encodes each with `key`; yields blocks in order. */
export function encodeStream(
  source: ByteSource,
  key: Uint8Array,
  options: EncodeOptions,
): AsyncGenerator<EncodedBlock> {
  const { blockSize, parallelism } = checkOptions(options);
  const { k, m } = options;
  const runner = options.runner ?? inline;
  const policy = options.compression ?? 'auto';
  return mapOrdered(fixedBlocks(source, blockSize), parallelism, (plain, index) =>
    runner.encode(k, m, plain, index, key, policy),
  );
}

export interface ShardSet {
  layout: BlockLayout;
  /** k+m slots; undefined where a shard could not be read. */
  shards: Array<Uint8Array | undefined>;
}

/** Decodes shard sets in order; yields each block's bytes with what was found damaged. */
export function decodeStream(
  blocks: AsyncIterable<ShardSet> | Iterable<ShardSet>,
  key: Uint8Array,
  options: CodeOptions & PipelineOptions,
): AsyncGenerator<DecodedBlock> {
  const runner = options.runner ?? inline;
  const parallelism = options.parallelism ?? 2;
  return mapOrdered(blocks, parallelism, (set) =>
    runner.decode(options.k, options.m, set.layout, set.shards, key),
  );
}
