import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the bcdb package (also the codes a peer's bcdb.* reply carries). */
export const BCDB_ERROR_CODES = [
  'not_found',
  'conflict', // expected version does not match
  'denied', // the ACL does not grant this permission
  'bad_request', // malformed arguments (from the owner or a peer)
  'bad_record', // a 0-db record that does not decode (corrupt, or not written by a BCDB)
  'bad_reply', // a peer answered something that is not a bcdb reply
  'internal', // an unexpected failure while serving a call (details are logged, not sent)
] as const;

/** One of {@link BCDB_ERROR_CODES}. */
export type BcdbErrorCode = ErrorCodes<(typeof BCDB_ERROR_CODES)[number]>;

/** The one error class of the bcdb package. */
export class BcdbError extends TwinBaseError<BcdbErrorCode> {
  override readonly name = 'BcdbError';
}
