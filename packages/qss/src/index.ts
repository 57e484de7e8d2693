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
export {
  type BuildConfigOptions,
  buildConfig,
  formatBackend,
  loadConfig,
  parseBackend,
  parseConfig,
  type QssConfig,
  renderConfig,
  tolerableGroups,
  validateConfig,
  worstLoss,
} from './config.ts';
export { QssError, type QssErrorCode } from './errors.ts';
export { MemoryShardStore } from './memory-store.ts';
export {
  checkPath,
  MAX_PATH_BYTES,
  type MetaRecord,
  MetaStore,
  type MetaStoreOptions,
} from './meta-store.ts';
export {
  type BlockRecord,
  decodeMetadata,
  encodeMetadata,
  type ObjectMetadata,
  openBytes,
  openMetadata,
  type ShardRecord,
  sealBytes,
  sealMetadata,
  validateMetadata,
} from './metadata.ts';
export {
  type CheckOptions,
  type CheckReport,
  checkObject,
  type GetOptions,
  getObject,
  type PutOptions,
  putObject,
  type RepairResult,
  repairObject,
  type ShardDamage,
  type ShardState,
} from './object.ts';
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
export {
  type CheckResult,
  type DamageReport,
  type GarbageReport,
  type ObjectInfo,
  Qss,
  type QssOptions,
  type QssStatus,
  type RebuildResult,
  type RepairReport,
} from './qss.ts';
export { ReedSolomon } from './reed-solomon.ts';
export { type BlockRunner, InlineRunner, WorkerPool } from './runner.ts';
export { ABSENT, isAbsent, type ShardContext, type ShardLocation, type ShardStore } from './store.ts';
export {
  type BackendStatus,
  backendId,
  shardKey,
  type ZdbBackendConfig,
  type ZdbGroupConfig,
  ZdbShardStore,
  type ZdbStoreOptions,
} from './zdb-store.ts';
