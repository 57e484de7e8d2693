import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the twin package. */
export type TwinErrorCode = ErrorCodes<
  | 'twin_running' // the command needs the twin stopped, and it runs
  | 'twin_not_running' // the command talks to the running twin, and it does not run
  | 'home_invalid' // the home directory cannot be created or used
  | 'home_insecure' // the home (or a file in it) is open to other users and cannot be tightened
  | 'bad_reply' // the running twin answered something that is not a reply
>;

/** The one error class of the twin package. */
export class TwinError extends TwinBaseError<TwinErrorCode> {
  override readonly name = 'TwinError';
}
