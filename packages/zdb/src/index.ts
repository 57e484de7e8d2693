export { zdbCommand } from './cli.ts';
export { type NamespaceInfo, ZdbClient, type ZdbClientOptions, ZdbError } from './client/client.ts';
export { compactNamespace, DEFAULT_NAMESPACE, openEngine } from './engine/index.ts';
export * from './engine/types.ts';
export { spawnZdb, ZDB_BIN, type ZdbProcessOptions } from './process.ts';
export { DEFAULT_OPTIONS, VERSION, ZdbServer, type ZdbServerOptions } from './server/server.ts';
