export type PhonebookErrorCode =
  | 'bad_request' // malformed input
  | 'bad_signature' // signature or proof does not verify
  | 'bad_nonce' // replayed or out-of-order transaction
  | 'name_taken'
  | 'bad_name'
  | 'key_taken'
  | 'not_found'
  | 'forbidden' // signer is not allowed to act on the subject
  | 'read_only' // a replica does not accept transactions
  | 'fork' // a replica saw history rewritten
  | 'unverified' // a record or checkpoint failed client-side verification
  | 'unavailable'; // the phonebook could not be reached

export class PhonebookError extends Error {
  constructor(
    readonly code: PhonebookErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PhonebookError';
  }

  get status(): number {
    switch (this.code) {
      case 'not_found':
        return 404;
      case 'name_taken':
      case 'key_taken':
      case 'bad_nonce':
      case 'fork':
        return 409;
      case 'forbidden':
      case 'read_only':
      case 'bad_signature':
        return 403;
      case 'unavailable':
        return 503;
      default:
        return 400;
    }
  }
}
