import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/**
 * The contract between the 0-db engine (storage: namespaces, data + index files, recovery)
 * and the RESP server (protocol, commands, auth, sync batching).
 *
 * The engine is synchronous on its hot path (SET/GET/DEL run to completion without awaiting),
 * so the server can answer a pipelined batch in one pass and write all replies at once.
 * Writes are staged in memory (reads see them at once) and reach the OS in one write(2) per file
 * when `commit()` runs; the server calls `commit()` once per batch of commands, before it sends
 * that batch's replies, so nothing is acknowledged that a process crash could lose.
 * `sync()` commits and then fsyncs every file written since the last sync. The server decides
 * when to call it (`--sync`: once per event-loop tick, before the replies of that tick are sent,
 * batched across clients; otherwise every `--synctime` seconds).
 */

export type NamespaceMode = 'user' | 'seq';

/** Properties a namespace carries on disk (0-db's NSSET/NSINFO fields). */
export interface NamespaceProps {
  /** Bytes of live payload allowed; 0 = unlimited. Enforced byte-exactly on SET. */
  maxsize: number;
  /** Empty string = no password. */
  password: string;
  /** A public namespace is readable by anyone; if it also has a password, writes need it. */
  public: boolean;
  mode: NamespaceMode;
  /** Refuse writes (0-db `NSSET ns lock 1`). */
  locked: boolean;
  /** Refuse writes but keep reads; set by the admin (0-db `NSSET ns freeze 1`). */
  frozen: boolean;
}

export interface NamespaceStats {
  name: string;
  /** Live keys. */
  entries: number;
  /** Sum of live payload bytes (what maxsize limits). */
  dataSizeBytes: number;
  /** Bytes of data files on disk, dead entries included. */
  dataDiskBytes: number;
  /** Bytes of index files on disk. */
  indexDiskBytes: number;
  /** Current (write) data file id. */
  dataFileId: number;
  /** Current index file id. */
  indexFileId: number;
  /** Next sequential id (seq mode). */
  nextId: number;
  /** Unix seconds of the namespace's creation. */
  created: number;
}

export interface EntryInfo {
  key: Buffer;
  /** Payload length in bytes. */
  size: number;
  /** Unix seconds of the write that made this version. */
  timestamp: number;
  crc: number;
}

/** Result of a SET: the key that was written, or null when the payload was identical (0-db answers nil). */
export type SetResult = Buffer | null;

export interface ScanPage {
  /** Opaque cursor to pass back to continue after the last returned entry. */
  cursor: Buffer;
  entries: EntryInfo[];
}

export interface HistoryEntry extends EntryInfo {
  payload: Buffer;
  /** Opaque position to pass back to get the version before this one; null when this is the first. */
  previous: Buffer | null;
}

/**
 * The engine's error codes. Where 0-db answers one reply for the failure, the code is the one a
 * client derives from that reply (`key_not_found`, `namespace_not_found`); the server maps the rest
 * to 0-db's error texts (the message of each error is that text).
 */
export type EngineErrorCode = ErrorCodes<
  | 'key_not_found'
  | 'data_corrupted' // CRC mismatch on read, or a data file that is not one
  | 'no_space_left' // the namespace's maxsize would be exceeded
  | 'invalid_key' // key too long, or a seq-mode key that is not an existing id
  | 'read_only' // locked / frozen namespace
  | 'namespace_exists'
  | 'namespace_not_found'
  | 'invalid_namespace_name'
  | 'namespace_removed' // the namespace was deleted (NSDEL) while a client had it selected
  | 'invalid_cursor'
  | 'locked' // the data or index directory is held by another zdb
  | 'io_error' // a data file is shorter than its index says
>;

/**
 * The storage engine's one error class (the client's is `ZdbError`).
 *
 * @example
 * ```ts
 * try { ns.del(key); } catch (e) { if (e instanceof EngineError && e.code === 'key_not_found') ... }
 * ```
 */
export class EngineError extends TwinBaseError<EngineErrorCode> {
  override readonly name = 'EngineError';
}

export interface Namespace {
  readonly name: string;
  readonly props: Readonly<NamespaceProps>;
  /** Deleted (NSDEL): every operation of a session still holding it must be refused. */
  readonly removed: boolean;
  /**
   * user mode: key 1..255 bytes. seq mode: empty key = append (returns the new id as 8-byte LE), an existing id = update.
   * `value` may be given as a list of chunks (written one after the other, never joined). A value of
   * 64 KiB or more is written from the caller's buffers at the next commit: leave them unchanged until then.
   */
  set(key: Buffer, value: Buffer | readonly Buffer[]): SetResult;
  /** null when absent; throws EngineError('data_corrupted') when the stored CRC does not match. */
  get(key: Buffer): Buffer | null;
  /** Appends a tombstone; throws `key_not_found` when absent. */
  del(key: Buffer): void;
  exists(key: Buffer): boolean;
  /** null when absent, true when the stored payload matches its CRC, false otherwise. */
  check(key: Buffer): boolean | null;
  info(key: Buffer): EntryInfo | null;
  /** Opaque cursor positioned at this key (KEYCUR), null when absent. */
  cursorOf(key: Buffer): Buffer | null;
  /** Entries after `cursor` (null = from the start) in write order; `reverse` walks backward (RSCAN). */
  scan(cursor: Buffer | null, count: number, reverse: boolean): ScanPage;
  /** The version at `position` (null = the current one) with a pointer to the previous version. */
  history(key: Buffer, position: Buffer | null): HistoryEntry | null;
  stats(): NamespaceStats;
  setProps(patch: Partial<NamespaceProps>): void;
  /** Removes every entry (0-db FLUSH): data and index files are reset. */
  flush(): void;
  /** Nothing was ever written (no entry, no deletion, first file pair): its mode may change. */
  fresh(): boolean;
}

export type HookEvent =
  | 'ready'
  | 'close'
  | 'jump-data'
  | 'jump-index'
  | 'crash'
  | 'namespace-created'
  | 'namespace-deleted'
  | 'namespace-updated'
  | 'namespace-reloaded'
  | 'namespace-closing';

/** Smallest data file rotation size accepted (0-db asks 512 KiB; smaller helps tests rotate). */
export const MIN_DATASIZE = 1024;
/** Largest: offsets within a data file are 32-bit (as in 0-db). */
export const MAX_DATASIZE = 0xffffffff - 1;

export interface EngineOptions {
  dataDir: string;
  indexDir: string;
  /** Default mode for new namespaces; 'mix' lets each namespace choose (NSSET ns mode). */
  mode: NamespaceMode | 'mix';
  /** Data file rotation size in bytes (0-db --datasize, default 256 MiB). */
  datasize: number;
  /** Default maxsize for new namespaces (0 = unlimited). */
  maxsize: number;
  /**
   * Bound in bytes of each namespace's cache of recent values (written or read, up to 16 KiB
   * each): GET answers from it without a read. Default 64 MiB; 0 = none. See valuecache.ts.
   */
  cacheBytes?: number;
  /** Called on hook-worthy events; the server runs the --hook program. */
  onHook?: (event: HookEvent, args: string[]) => void;
  /** Called on recovery events (truncated torn tail, rebuilt index) for logs. */
  onRecovery?: (namespace: string, message: string) => void;
}

export interface Engine {
  readonly options: Readonly<EngineOptions>;
  namespace(name: string): Namespace | undefined;
  /** Creates a namespace (name: 1..128 chars, no '/' or '..'); throws namespace_exists. */
  create(name: string, props?: Partial<NamespaceProps>): Namespace;
  /** Deletes a namespace and its files; 'default' cannot be deleted. Sessions see `removed`. */
  remove(name: string): void;
  /** Drops a namespace's in-memory state and loads it again from its files (0-db RELOAD). */
  reload(name: string): void;
  list(): string[];
  /** Writes every staged append to the OS (one write per file); cheap when nothing is staged. */
  commit(): void;
  /** commit() then fsync every file written since the last sync; resolves when durable. */
  sync(): Promise<void>;
  /** Same as sync() but blocking (used at shutdown and in tests). */
  syncNow(): void;
  close(): void;
}
