import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the `twin` command's own failures (a package's failures keep its codes). */
export type CliErrorCode = ErrorCodes<
  | 'bad_reply' // a twin answered something other than what the command asked for
  | 'stop_failed' // a service did not stop cleanly on SIGINT/SIGTERM
  | 'port_in_use' // `twin demo`: a port it needs is taken (the message names the flag that moves it)
  | 'not_demo_dir' // `twin demo`: --dir names a folder the demo did not make
  | 'twin_start_failed' // `twin demo`: a twin did not come up
  | 'bad_name' // a file reference that is neither a path nor an id
  | 'bad_request' // an argument of the wrong shape (OWNER:ID)
  | 'not_found' // no such file (local or in the twin)
  | 'unreachable' // a download broke off
>;

/** The one error class of the cli package. */
export class CliError extends TwinBaseError<CliErrorCode> {
  override readonly name = 'CliError';
}

/**
 * A failure as the one line the user sees: `twin: <message> (<code>)`, the message on one line,
 * the code when the error has one (commander's own codes are left out: its text says enough).
 */
export function oneLine(e: unknown): string {
  const err = e as Error & { code?: unknown };
  const message = (err instanceof Error ? err.message : String(e)).replace(/\s*\n\s*/g, ' ').trim();
  const code = typeof err?.code === 'string' && !err.code.startsWith('commander') ? ` (${err.code})` : '';
  return `twin: ${message}${code}`;
}
