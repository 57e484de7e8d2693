import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the identity package. */
export type IdentityErrorCode = ErrorCodes<
  | 'bad_mnemonic' // not a valid 24-word BIP-39 mnemonic
  | 'bad_keystore' // keystore missing, malformed, already present, or not matching its mnemonic
  | 'bad_passphrase' // passphrase missing or wrong, or the keystore was tampered with
  | 'bad_sealed_box' // sealed box malformed or tampered, or not for this key
  | 'bad_key' // a key or signature context of the wrong shape
  | 'bad_directory' // a directory that cannot be created, or a path that is not a directory
>;

/** The one error class of the identity package. */
export class IdentityError extends TwinBaseError<IdentityErrorCode> {
  override readonly name = 'IdentityError';
}
