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
 * - {@link TwinStream}: a byte stream to another twin for large bytes (`openStream()` /
 *   `handleStream()`): any size, read as it arrives, written with back-pressure (a writer is
 *   allowed STREAM_WINDOW bytes beyond what the reader has read), aborted by `stop()`.
 * - `presence()` and the 'presence' event: whether a twin's connection is open and when it was
 *   last heard from, without touching the network.
 * - {@link NetworkError}: the one error class, with a snake_case `code` and a `cause`.
 *
 * What the connection proves. Every bus stream rides a libp2p connection whose Noise handshake
 * proved that the remote peer holds the ed25519 key its PeerId is (a relayed connection is Noise
 * end to end: the relay forwards ciphertext it can neither read, alter, inject into nor replay).
 * - Inbound, the sender is the twin whose phonebook record holds that key (peers.ts): looked up by
 *   the key — never by the id an envelope claims — once per connection and again every
 *   PEER_RECHECK_MS (a rotated-away key stops vouching). Every envelope whose `from` is not that
 *   twin is refused `bad_signature`, signed or not, so neither a relay, nor another twin, nor a
 *   stranger (refused `unknown_twin`, at one phonebook lookup per connection) can speak as a twin.
 *   A connection has exactly one remote peer, so there is no "other peer on the same connection".
 * - Outbound, a channel (channels.ts) is opened only on a connection whose remote key is the key
 *   of the twin's current record, and is dropped when that record's key changes; the address a
 *   record publishes proves nothing by itself.
 * - A response is bound to its request by the request's random 128-bit id, looked up only among
 *   the requests pending on the one stream it arrives on (so only the twin asked can answer it),
 *   and must name that twin as `from` and this twin as `to`. A peer may answer only with the codes
 *   in REMOTE_ERROR_CODES; `stopped`, `timeout` or an unknown string becomes `bad_envelope`.
 * - A byte stream is opened with a `stream` envelope checked exactly like a request (the
 *   connection's twin, `from`, `to`, expiry, a handler), so its handler learns the calling twin as
 *   a request handler does; its bytes then ride the same authenticated stream, unsigned.
 * - Replays: inside a Noise session nobody can replay a frame; across sessions a stranger would
 *   have to hold the sender's key. So unsigned requests need no replay memory.
 *
 * What is signed per envelope, and why. Requests, responses and acknowledgements are answered at
 * once and relied on by no one after the connection: they are framed without a signature
 * (`signed: false`) — signing and verifying them proved nothing the connection had not, and cost
 * two signatures and two verifications per round trip. One-way messages are different: the
 * receiver stores them and relies on them later (an access decision, a chat message shown days
 * later, a message a relay twin might one day forward), when no connection vouches for them any
 * more. They are signed by their sender over their exact bytes (context "twin/bus/envelope/v1"),
 * an unsigned one is refused, and the inbox keeps the signature with the message
 * (`Mailbox.envelope()`), so anyone holding the sender's public key can verify a stored message
 * again. The messages sent towards one twin in one turn are signed together: each is a leaf of a
 * Merkle tree whose root the sender signs once (context "twin/bus/batch/v1"), and each carries its
 * sibling hashes and that signature, so each is still verified — on receipt, and later from the
 * inbox — alone, while a burst of 64 costs one signature and one verification instead of 64 of
 * each (the receiver remembers the roots it verified). Verifying on receipt is kept although the
 * connection already proves the sender: it is what makes "stored" imply "verifiable by anyone".
 * A signed request is still accepted and verified (its bytes are a transferable statement, so its
 * id is remembered until it expires, bounded per twin and in all).
 *
 * What a peer can make a twin hold: per inbound bus stream at most MAX_STREAM_INFLIGHT envelopes
 * being answered (then the stream is not read) and two frames of at most `maxPayload` +
 * FRAME_OVERHEAD bytes buffered (more and libp2p resets the stream), MAX_INBOUND_STREAMS bus
 * streams and MAX_INBOUND_BYTE_STREAMS byte streams per connection, STREAM_WINDOW unread bytes
 * per byte stream (a writer past its credit is cut off), one phonebook lookup per connection.
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
 *
 * // large bytes move as streams, not envelopes
 * bus.handleStream('experience.put', async (stream, { from }) => {
 *   for await (const chunk of stream) await file.write(chunk);   // throw: the caller gets handler_error
 *   await stream.write(Buffer.from('stored'));
 * });
 * const s = await bus.openStream('bob', 'experience.put');       // NetworkError unknown_command, …
 * await s.writeAll(createReadStream(path));                       // waits for a slow reader
 * for await (const reply of s) console.log(reply.toString());     // NetworkError if bob's handler threw
 * const { connected, lastSeen } = await bus.presence('bob');
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
 * Envelopes: make headers, seal (signed, alone or several under one signature) or frame
 * (unsigned) them — all throw NetworkError `too_large` for a header over 64 KiB —, open them
 * (throws `bad_envelope`), verify (never throws).
 */
export {
  BATCH_CONTEXT,
  ENVELOPE_CONTEXT,
  type Envelope,
  type EnvelopeHeader,
  type EnvelopeKind,
  envelopeHeader,
  frameEnvelope,
  type HeaderFields,
  openEnvelope,
  sealEnvelope,
  sealEnvelopes,
  verifyEnvelope,
} from './envelope.ts';
/** The package's error class and codes (BusError is its earlier name). */
export {
  BusError,
  type BusErrorCode,
  NetworkError,
  type NetworkErrorCode,
  REMOTE_ERROR_CODES,
} from './errors.ts';
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
/** Presence: whether a twin's connection is open and when it was last heard from (`TwinBus.presence()`, 'presence' events). */
export type { Presence } from './presence.ts';
/**
 * Byte streams between twins (`TwinBus.openStream()` / `handleStream()`): reading throws
 * NetworkError with the code the other side failed with, `unreachable` or `stopped`.
 */
export type { StreamContext, StreamHandler, TwinStream } from './streams.ts';
