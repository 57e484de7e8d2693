import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** Stable error codes of the network package: callers and UIs match on them, never on message text. */
export type NetworkErrorCode = ErrorCodes<
  | 'unknown_twin' // the sender (or recipient) is not in the phonebook
  | 'bad_signature' // not signed by the sender's current key, or the connection is not the sender's
  | 'bad_envelope' // malformed bytes, or a header that fails validation
  | 'wrong_recipient' // addressed to another twin
  | 'expired' // created + ttl is in the past (or created is in the future)
  | 'replayed' // an envelope id already seen from this sender
  | 'sequence_conflict' // a message slot (epoch, seq) the receiver holds with other bytes
  | 'too_large' // payload above the limit
  | 'unknown_command' // no handler for the command
  | 'handler_error' // the handler threw
  | 'busy' // the receiver holds as much replay state as it allows: retry later
  | 'no_mailbox' // send() on a bus without a mailbox
  | 'stopped' // the bus was stopped while the call was pending
  | 'timeout' // no response in time
  | 'unreachable' // no address of the twin could be dialled, or the connection broke
>;

/**
 * The codes another twin may answer a request or message with. The rest (`stopped`, `timeout`,
 * `unreachable`, `no_mailbox`) describe this side only: a response carrying one of them, or any
 * other string, is malformed and reaches the caller as `bad_envelope`.
 */
export const REMOTE_ERROR_CODES: ReadonlySet<NetworkErrorCode> = new Set<NetworkErrorCode>([
  'unknown_twin',
  'bad_signature',
  'bad_envelope',
  'wrong_recipient',
  'expired',
  'replayed',
  'sequence_conflict',
  'too_large',
  'unknown_command',
  'handler_error',
  'busy',
]);

/** The one error class of the network package. */
export class NetworkError extends TwinBaseError<NetworkErrorCode> {
  override readonly name = 'NetworkError';
}

/** The error a peer answered with, as a NetworkError (`bad_envelope` for a code it may not send). */
export function remoteError(twin: number, error: { code: string; message: string }): NetworkError {
  const code = error.code as NetworkErrorCode;
  if (REMOTE_ERROR_CODES.has(code)) return new NetworkError(code, error.message);
  return new NetworkError(
    'bad_envelope',
    `twin ${twin} answered with the code "${error.code}": ${error.message}`,
  );
}

/** @deprecated The earlier name of {@link NetworkError}: the same class. */
export const BusError = NetworkError;
/** @deprecated The earlier name of {@link NetworkError}. */
export type BusError = NetworkError;
/** @deprecated The earlier name of {@link NetworkErrorCode}. */
export type BusErrorCode = NetworkErrorCode;

/** What a failure is called on the wire: a NetworkError keeps its code, anything else is `handler_error`. */
export function asNetworkError(e: unknown): NetworkError {
  return e instanceof NetworkError
    ? e
    : new NetworkError('handler_error', (e as Error).message, { cause: e });
}
