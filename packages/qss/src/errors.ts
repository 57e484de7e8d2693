import { TwinBaseError } from '@twin/errors';

/**
 * Error codes of the qss package. Still in the old upper-case style: renaming them to snake_case
 * (and wrapping the union in `ErrorCodes<...>` from @twin/errors) touches every throw site and the
 * qss CLI, which belong to the qss refactor.
 */
export type QssErrorCode =
  | 'ECODER' // invalid Reed-Solomon parameters or shard shapes
  | 'ESHARDS' // fewer than k intact shards: the block cannot be rebuilt
  | 'EDECRYPT' // AES-GCM authentication failed (wrong key, tampered or mismatched shards)
  | 'EBLOCK' // a decoded block does not match what its metadata promises
  | 'EMETADATA' // metadata malformed, tampered, of an unknown version, or sealed with another key
  | 'ESTORE' // a shard store failed to keep a shard
  | 'ECONFIG' // backends or groups misconfigured (too few backends, duplicates, an unknown backend)
  | 'EMETASTORE' // too few metadata backends answered or acknowledged
  | 'EPATH' // an object path that is empty, too long or not valid
  | 'ENOENT' // no object at that path
  | 'EWORKER'; // a block worker thread failed or answered out of turn, or the pool is closed

/** The one error class of the qss package. */
export class QssError extends TwinBaseError<QssErrorCode> {
  override readonly name = 'QssError';
}
