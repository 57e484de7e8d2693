/**
 * @twin/qss — Quantum Safe Storage: a twin's private files, each block compressed (when that
 * pays), encrypted with AES-256-GCM under a fresh key per object, Reed-Solomon coded into k data
 * + m parity shards with a SHA-256 checksum each, and dispersed over 0-db backends in groups
 * (sites) so that a whole group can be lost; any k intact shards give a block back. The object's
 * metadata (layout, shard locations and checksums, its key) is sealed under the owner's key and
 * replicated on a quorum of metadata backends.
 *
 * Main types:
 * - `Qss`: the store of one owner under one configuration — put / putFile / get / stat / list /
 *   delete, check / rebuild / repair / watch, collectGarbage, status. Writes are all-or-nothing.
 * - `QssConfig`: the configuration, from a file (`loadConfig`, `parseConfig`), built
 *   (`buildConfig`) or written (`renderConfig`).
 * - `QssError`: every failure, with a `code` callers match (see QssErrorCode).
 *
 * Where things happen (all private modules): a shard is placed in `zdb-store.ts` (distinct
 * backends, a quota per group, free space); blocks are coded in `block.ts` on worker threads
 * (`runner.ts`); objects are streamed in `object.ts`; metadata is sealed in `metadata.ts` and
 * replicated in `meta-store.ts`.
 *
 * @example
 * ```ts
 * import { loadConfig, Qss } from '@twin/qss';
 *
 * const qss = Qss.open(loadConfig('qss.json'));            // worker threads: one per core
 * const info = await qss.putFile('albums/photo.jpg', '/home/me/photo.jpg');
 * const { stream } = await qss.get('albums/photo.jpg');    // verified blocks, in order
 * for await (const bytes of stream) process.stdout.write(bytes);
 * const report = await qss.check('albums/photo.jpg');       // { ok, damaged, lost }
 * await qss.close();
 * ```
 */
export {
  type BuildConfigOptions,
  buildConfig,
  loadConfig,
  parseConfig,
  type QssConfig,
  renderConfig,
  worstLoss,
} from './config.ts';
export { QssError, type QssErrorCode } from './errors.ts';
export type { ShardDamage, ShardState } from './object.ts';
export type { ByteSource } from './pipeline.ts';
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
export { WorkerPool, type WorkerPoolOptions } from './runner.ts';
export type { ShardLocation } from './store.ts';
export type { BackendStatus, ZdbBackendConfig, ZdbGroupConfig } from './zdb-store.ts';
