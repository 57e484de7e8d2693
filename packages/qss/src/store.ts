/**
 * What the object layer needs from wherever shards are kept.
 *
 * A ShardStore keeps opaque shard bytes on a set of backends (0-db namespaces in sequential
 * mode, next: one `ZdbClient` from `@twin/zdb` per backend) and answers with a location that it
 * alone interprets. Placement is the store's job: the k+m shards of one block must land on k+m
 * different backends, spread over as many groups (sites/farms) as it has, so that losing a whole
 * site loses at most m shards of any block. The object layer records the locations in the
 * object's metadata, and later asks for the shards back by location.
 *
 * Contract for implementations:
 * - putShards resolves only when every shard of the block is stored (acknowledged by its
 *   backend), with one location per shard in shard order; otherwise it rejects (the caller
 *   then fails the whole object; shards already written are garbage the store may reclaim).
 * - getShard resolves `undefined` when the shard cannot be had (backend down or gone, entry
 *   deleted): that is an erasure, and the decoder will use another shard. It returns the bytes
 *   as stored, without checking them (checksums are verified by the decoder). It rejects only
 *   on misuse (a location this store cannot interpret).
 * - deleteShard removes a shard; deleting something already gone is not an error.
 */

export interface ShardLocation {
  /** Which backend holds the shard, as the store names it (e.g. "zdb://host:port/namespace"). */
  backend: string;
  /** The shard's key on that backend (e.g. the 4-byte id a sequential-mode 0-db assigned). */
  key: Uint8Array;
}

/** Which block and shard is being stored, for stores that place or label by it. */
export interface ShardContext {
  block: number;
  /** Shard indices are 0..k-1 for data shards and k..k+m-1 for parity shards. */
  k: number;
  m: number;
}

export interface ShardStore {
  putShards(shards: readonly Uint8Array[], context: ShardContext): Promise<ShardLocation[]>;
  getShard(location: ShardLocation): Promise<Uint8Array | undefined>;
  deleteShard(location: ShardLocation): Promise<void>;
}
