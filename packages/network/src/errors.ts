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

/** The one error class of the network package. */
export class NetworkError extends TwinBaseError<NetworkErrorCode> {
  override readonly name = 'NetworkError';
}

/** @deprecated The earlier name of {@link NetworkError}: the same class. */
export const BusError = NetworkError;
/** @deprecated The earlier name of {@link NetworkError}. */
export type BusError = NetworkError;
/** @deprecated The earlier name of {@link NetworkErrorCode}. */
export type BusErrorCode = NetworkErrorCode;
