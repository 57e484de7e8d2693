/**
 * @packageDocumentation
 * Planetary Secure Network: the twin's libp2p host, keyed by its own ed25519 key, and the twin
 * bus between twins on it.
 *
 * Main types:
 * - {@link createTwinHost} / {@link TwinHost}: TCP + WebSocket, Noise, Yamux, identify, ping and
 *   circuit relay v2. The PeerId is the twin's signing key, so a Noise handshake proves that the
 *   peer holds the key its phonebook record publishes.
 * - {@link TwinBus}: `request()` (request/response, many in flight on one stream per peer) and
 *   `send()` (reliable one-way delivery through a durable {@link Mailbox}: exactly once, across
 *   crashes and lost sender state — see mailbox.ts for sender epochs and duplicates).
 * - {@link NetworkError}: the one error class, with a snake_case `code` and a `cause`.
 *
 * What is signed and what the connection proves. Every envelope arrives on a Noise session whose
 * remote key the receiver compares with the sender's phonebook key (a relayed connection is
 * Noise end to end: the relay only forwards ciphertext). Within that session nobody else can
 * inject, alter or replay a frame. So requests, responses and acknowledgements — answered at
 * once and relied on by no one after the connection — are framed without a signature
 * (`signed: false`): signing and verifying them proved nothing the session had not, and cost two
 * signatures and two verifications per round trip. One-way messages are different: the receiver
 * stores them and relies on them later (an access decision, a chat message shown days later, a
 * message a relay twin might one day forward), when no connection vouches for them any more. They
 * stay signed by their sender over their exact bytes, the receiver refuses an unsigned one, and
 * the inbox keeps the signature with the message (`Mailbox.envelope()`), so a stored message can
 * be verified again by anyone holding the sender's public key. A signed request is still accepted
 * and verified (and its id remembered against replays until it expires, bounded).
 *
 * @example
 * ```ts
 * const host = await createTwinHost(identity);
 * const bus = new TwinBus({ identity, twinId, host, phonebook, mailbox: new Mailbox('bus.sqlite') });
 * bus.handle('echo', (payload, { from }) => payload);
 * await bus.start();
 * const reply = await bus.request('bob', 'echo', Buffer.from('hi'));   // NetworkError on failure
 * const id = await bus.send('bob', 'note', Buffer.from('hello'));      // stored, then delivered
 * bus.on('delivery', (e) => e.id === id && console.log(e.status));
 * ```
 */

// Node 20 polyfills first: libp2p (imported below) calls APIs that Node 20 lacks.
import './polyfills.ts';

/** The twin bus facade and its options. */
export { type BusOptions, type RequestOptions, TwinBus } from './bus.ts';
/** The bus's protocol id and its timeouts and limits. */
export * from './constants.ts';
/** Logging the bus needs (pino fits). */
export type { BusLogger } from './context.ts';
/** Reliable delivery: options, events, inbox handlers, and queueing from another process (throws NetworkError `too_large`). */
export {
  type DeliveryEvent,
  type MessageHandler,
  queueMessage,
  type SendOptions,
} from './delivery.ts';
/**
 * Envelopes: make headers, seal (signed) or frame (unsigned) them — both throw NetworkError
 * `too_large` for a header over 64 KiB —, open them (throws `bad_envelope`), verify (never throws).
 */
export {
  ENVELOPE_CONTEXT,
  type Envelope,
  type EnvelopeHeader,
  type EnvelopeKind,
  envelopeHeader,
  frameEnvelope,
  type HeaderFields,
  openEnvelope,
  sealEnvelope,
  verifyEnvelope,
} from './envelope.ts';
/** The package's error class and codes (BusError is its earlier name). */
export { BusError, type BusErrorCode, NetworkError, type NetworkErrorCode } from './errors.ts';
/** The libp2p host (createTwinHost throws libp2p's errors; peerSigningKey never throws). */
export { createTwinHost, type HostOptions, peerSigningKey, type TwinHost } from './host.ts';
/** Request handlers and what they are told about the sender. */
export type { Handler, RequestContext } from './inbound.ts';
/** The durable outbox/inbox (its methods throw SQLite's errors when the database fails). */
export {
  type DeliveryStatus,
  type InboxMessage,
  LEGACY_EPOCH,
  MAILBOX_BUSY_TIMEOUT_MS,
  Mailbox,
  newEpoch,
  type OutboxMessage,
  type ReceiveOutcome,
  type SealFor,
} from './mailbox.ts';
