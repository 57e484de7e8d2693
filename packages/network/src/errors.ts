/** Stable error codes of the twin bus: callers and UIs match on them. */
export type BusErrorCode =
  | 'unknown_twin' // the sender (or recipient) is not in the phonebook
  | 'bad_signature' // the envelope is not signed by the sender's current key
  | 'bad_envelope' // malformed bytes
  | 'wrong_recipient' // addressed to another twin
  | 'expired' // created + ttl is in the past (or created is in the future)
  | 'replayed' // an envelope id already seen from this sender
  | 'too_large' // payload above the limit
  | 'unknown_command' // no handler for the command
  | 'handler_error' // the handler threw
  | 'timeout' // no response in time
  | 'unreachable'; // no address of the twin could be dialled

export class BusError extends Error {
  constructor(
    readonly code: BusErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BusError';
  }
}
