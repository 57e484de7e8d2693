export type BcdbErrorCode =
  | 'not_found'
  | 'conflict' // expected version does not match
  | 'denied' // the ACL does not grant this permission
  | 'bad_request';

export class BcdbError extends Error {
  constructor(
    readonly code: BcdbErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BcdbError';
  }
}
