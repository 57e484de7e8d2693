/**
 * @twin/zdb: a 0-db (ThreeFold's 0-db v2) compatible key-value store: the append-only engine
 * (namespaces of data and index files, user-key or sequential mode), the RESP server with 0-db's
 * commands and error texts, per-client limits, and a pipelined client.
 *
 * Main types: `ZdbServer` (start()/close()), `ZdbClient`, `ZdbError` (its `code` is derived from
 * 0-db's reply: callers match `e.code === ZDB_CODES.keyNotFound`, never the text), `EngineError`
 * (the storage engine's, codes in `EngineErrorCode`). Both extend `TwinBaseError` from @twin/errors.
 * The `zdb` command lives in the `@twin/zdb/cli` subpath, so importing this package loads neither
 * commander nor pino.
 *
 * @example
 * const server = await ZdbServer.start({ port: 0, data: 'd', index: 'i', admin: 'secret' });
 * const client = new ZdbClient({ port: server.port });
 * await client.set('key', 'value');
 * client.close();
 * await server.close();
 */
export { type NamespaceInfo, ZdbClient, type ZdbClientOptions } from './client/client.ts';
export { errorCode, ZDB_CODES, ZdbError, type ZdbErrorKind } from './client/errors.ts';
export { compactNamespace, DEFAULT_NAMESPACE, openEngine } from './engine/index.ts';
export { type DirectoryLock, LOCK_FILE, lockDirectories } from './engine/lock.ts';
export * from './engine/types.ts';
export { spawnZdb, ZDB_BIN, type ZdbProcessOptions } from './process.ts';
export { type ClientLimits, DEFAULT_CLIENT_LIMITS, LIMIT_ERRORS } from './server/limits.ts';
export { DEFAULT_OPTIONS, VERSION, ZdbServer, type ZdbServerOptions } from './server/server.ts';
