import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the `twin` command's own failures (a package's failures keep its codes). */
export type CliErrorCode = ErrorCodes<
  | 'bad_reply' // a twin answered something other than what the command asked for
  | 'stop_failed' // a service did not stop cleanly on SIGINT/SIGTERM
>;

/** The one error class of the cli package. */
export class CliError extends TwinBaseError<CliErrorCode> {
  override readonly name = 'CliError';
}
