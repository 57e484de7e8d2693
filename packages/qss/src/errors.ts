/**
 * The one error class of the package. Callers match `code`, never the message; a failure that
 * wraps another keeps it as `cause`.
 */
/** Why a QssError was thrown: stable, for callers to match. */
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

/** Every failure this package throws on purpose: a `code`, a message, and the `cause` if any. */
export class QssError extends Error {
  constructor(
    readonly code: QssErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'QssError';
  }
}
