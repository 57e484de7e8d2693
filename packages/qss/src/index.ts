export {
  BlockCodec,
  type BlockLayout,
  type DecodedBlock,
  type EncodedBlock,
  KEY_BYTES,
  shardSize,
} from './block.ts';
export { CHECKSUM_ALGORITHM, shardChecksum } from './checksum.ts';
export type { CompressionPolicy } from './compression.ts';
export { QssError, type QssErrorCode } from './errors.ts';
export { MemoryShardStore } from './memory-store.ts';
export {
  type BlockRecord,
  decodeMetadata,
  encodeMetadata,
  type ObjectMetadata,
  openMetadata,
  type ShardRecord,
  sealMetadata,
  validateMetadata,
} from './metadata.ts';
export { type GetOptions, getObject, putObject, type ShardDamage } from './object.ts';
export {
  type ByteSource,
  type CodeOptions,
  DEFAULT_BLOCK_SIZE,
  decodeStream,
  type EncodeOptions,
  encodeStream,
  type PipelineOptions,
  type ShardSet,
} from './pipeline.ts';
export { ReedSolomon } from './reed-solomon.ts';
export { type BlockRunner, InlineRunner, WorkerPool } from './runner.ts';
export type { ShardContext, ShardLocation, ShardStore } from './store.ts';
export { backendId, type ZdbBackendConfig, type ZdbGroupConfig, ZdbShardStore } from './zdb-store.ts';
