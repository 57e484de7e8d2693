/**
 * What the object layer needs from wherever shards are kept.
 *
 * A ShardStore keeps opaque shard bytes on a set of backends (0-db namespaces in sequential
 * mode: ZdbShardStore) and answers with a location that it alone interprets. Placement is the
 * store's job: the k+m shards of one block land on k+m different backends, spread over the
 * groups (sites/farms) so that losing a whole site loses at most m shards of any block. The
 * object layer records the locations in the object's metadata and asks for shards by location.
 *
 * Contract for implementations:
 * - putShards stores the shards it is given (an undefined slot is not to be stored) on backends
 *   other than those in `context.held` (where the block's other shards already are), honouring
 *   the placement rules for the block as a whole. It resolves, per slot, the location where the
 *   shard was acknowledged, or undefined where it could not be placed or stored (no healthy
 *   backend left within the rules): a degraded write, which the caller accepts or undoes. It
 *   never rejects for a failing backend, only on misuse.
 * - getShard resolves `undefined` when the shard cannot be had (backend down or gone, entry
 *   deleted, or an absent location): an erasure, the decoder uses another shard. It returns the
 *   bytes as stored, unchecked (the decoder verifies checksums).
 * - deleteShard removes a shard only once it has proved that the entry at the location is the
 *   shard meant (its recorded checksum, and for stores shared with other owners that it is the
 *   caller's own); it resolves false and leaves the entry alone otherwise. Deleting something
 *   already gone is not an error.
 */

/** Where a shard is: its backend's id and its key there (an empty backend: never stored). */
export interface ShardLocation {
  /** Which backend holds the shard, as the store names it (e.g. "zdb://host:port/namespace"). */
  backend: string;
  /** The shard's key on that backend (e.g. the 4-byte id a sequential-mode 0-db assigned). */
  key: Uint8Array;
}

/** The location recorded for a shard that was never stored (a degraded write, until repaired). */
export const ABSENT: ShardLocation = Object.freeze({ backend: '', key: new Uint8Array(0) });
export const isAbsent = (l: ShardLocation) => l.backend === '';

/** Which block is being stored, for stores that place or label by it. */
export interface ShardContext {
  block: number;
  /** Shard indices are 0..k-1 for data shards and k..k+m-1 for parity shards. */
  k: number;
  m: number;
  /** Per shard index, where that shard of the block already is (repair): avoid those backends. */
  held?: ReadonlyArray<ShardLocation | undefined>;
  /** Per shard index, the checksum of the shard being stored (what the store labels it with). */
  checksums: ReadonlyArray<Uint8Array>;
}

export interface ShardStore {
  putShards(
    shards: ReadonlyArray<Uint8Array | undefined>,
    context: ShardContext,
  ): Promise<Array<ShardLocation | undefined>>;
  /** `evenIfDown`: try a backend the store skips as recently failed (a last resort before a block is given up). */
  getShard(location: ShardLocation, options?: { evenIfDown?: boolean }): Promise<Uint8Array | undefined>;
  /** Deletes the shard at `location` if it is proved to be the one with `checksum`; true if it was. */
  deleteShard(location: ShardLocation, checksum: Uint8Array): Promise<boolean>;
  /**
   * Cheap health of one stored shard without fetching it: 'ok', 'missing' (gone or backend
   * unreachable) or 'corrupt' (the backend's own checksum fails). Stores that cannot tell
   * answer by fetching.
   */
  probeShard?(location: ShardLocation): Promise<'ok' | 'missing' | 'corrupt'>;
}
