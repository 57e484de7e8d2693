import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the TFChain backend. Each message says what to do. */
export type TfchainErrorCode = ErrorCodes<
  | 'bad_url' // not a tfchain+ws:// or tfchain+wss:// URL
  | 'missing_dependency' // @polkadot/api is not installed
  | 'unavailable' // the chain node could not be reached, or did not include the extrinsic in time
  | 'no_funds' // the twin's account cannot pay the fee or the contract's billing
  | 'terms_not_accepted' // the account has not accepted TFChain's terms and conditions
  | 'stale_nonce' // an extrinsic reused a nonce (another one was signed concurrently)
  | 'not_found'
  | 'name_taken' // a name contract with this name exists (another twin's)
  | 'bad_name' // a name TFChain refuses (lowercase letters, digits, '-' and '_' only)
  | 'too_large' // addresses that do not fit in the twin's relay field
  | 'forbidden' // the chain refused: this account may not act on the subject
  | 'chain_refused' // any other dispatch error (its pallet and name are in the message)
>;

export class TfchainError extends TwinBaseError<TfchainErrorCode> {
  override readonly name = 'TfchainError';
}
