import { type ErrorCodes, TwinBaseError, type TwinErrorOptions } from '@twin/errors';

/** Stable error codes of the phonebook package (also the `code` of its HTTP error replies). */
export type PhonebookErrorCode = ErrorCodes<
  | 'bad_request' // malformed input
  | 'bad_signature' // signature or proof does not verify
  | 'bad_nonce' // replayed or out-of-order transaction
  | 'name_taken'
  | 'bad_name'
  | 'key_taken'
  | 'key_retired' // the key belonged to a deleted twin or was rotated away: its nonces are spent
  | 'bad_timestamp' // a transaction dated too far in the future
  | 'not_found'
  | 'too_large' // a transaction, field or request body over its bound
  | 'rate_limited' // too many writes from this client or for this twin: retry after Retry-After
  | 'forbidden' // signer is not allowed to act on the subject
  | 'read_only' // a replica does not accept transactions
  | 'fork' // a replica saw history rewritten
  | 'unverified' // a record or checkpoint failed client-side verification
  | 'unavailable' // the phonebook could not be reached
  | 'conflict' // a contract or node transaction that the entity's state does not allow
>;

/** What a PhonebookError carries besides its code and message. */
export interface PhonebookErrorOptions extends TwinErrorOptions {
  /** rate_limited: how long the server asked to wait (its Retry-After), when it said. */
  retryAfterMs?: number;
}

/** The one error class of the phonebook package; `status` is the HTTP status its code answers. */
export class PhonebookError extends TwinBaseError<PhonebookErrorCode> {
  override readonly name = 'PhonebookError';
  /** rate_limited: how long the server asked to wait (its Retry-After), when it said. */
  readonly retryAfterMs?: number;

  constructor(code: PhonebookErrorCode, message: string, options: PhonebookErrorOptions = {}) {
    super(code, message, options);
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  get status(): number {
    switch (this.code) {
      case 'not_found':
        return 404;
      case 'name_taken':
      case 'key_taken':
      case 'key_retired':
      case 'bad_nonce':
      case 'fork':
      case 'conflict':
        return 409;
      case 'forbidden':
      case 'read_only':
      case 'bad_signature':
        return 403;
      case 'unavailable':
        return 503;
      case 'too_large':
        return 413;
      case 'rate_limited':
        return 429;
      default:
        return 400;
    }
  }
}
