import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the qss package: callers match them, never the message text. */
export type QssErrorCode = ErrorCodes<
  | 'bad_coding' // invalid Reed-Solomon parameters or shard shapes
  | 'too_few_shards' // fewer than k intact shards: the block cannot be rebuilt
  | 'decrypt_failed' // AES-GCM authentication failed (wrong key, tampered or mismatched shards)
  | 'bad_block' // a decoded block does not match what its metadata promises
  | 'bad_metadata' // metadata malformed, tampered, of an unknown version, or sealed with another key
  | 'store_failed' // a shard store failed to keep a shard
  | 'bad_config' // backends or groups misconfigured (too few backends, duplicates, an unknown backend)
  | 'no_metadata_quorum' // too few metadata backends answered or acknowledged
  | 'bad_path' // an object path that is empty, too long or not valid
  | 'not_found' // no object at that path
  | 'worker_failed' // a block worker thread failed or answered out of turn, or the pool is closed
>;

/** The one error class of the qss package. */
export class QssError extends TwinBaseError<QssErrorCode> {
  override readonly name = 'QssError';
}
