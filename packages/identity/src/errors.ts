export type IdentityErrorCode =
  | 'EMNEMONIC' // invalid mnemonic
  | 'EKEYSTORE' // keystore missing, malformed or already present
  | 'EPASSPHRASE' // wrong passphrase / tampered keystore
  | 'ESEALED' // sealed box malformed or tampered
  | 'EKEY'; // malformed key

export class IdentityError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}
