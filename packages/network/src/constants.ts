/** Every timeout and limit of the network package, in one place. */

/** The libp2p protocol of the twin bus (v2: connection-authenticated requests, signed messages). */
export const BUS_PROTOCOL = '/twin/bus/2.0.0';
/** The libp2p protocol of byte streams between twins (one libp2p stream per byte stream). */
export const STREAM_PROTOCOL = '/twin/stream/1.0.0';

/** Largest payload a bus accepts or sends unless `BusOptions.maxPayload` says otherwise. */
export const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024;
/** Room for the envelope header and signature on top of the payload in one length-prefixed frame. */
export const FRAME_OVERHEAD = 64 * 1024;
/** Largest header of an envelope (its length is a u16). */
export const MAX_HEADER = 0xffff;

/** Tolerated clock skew for an envelope's `created` unless `BusOptions.skewMs` says otherwise. */
export const DEFAULT_SKEW_MS = 60_000;
/** The longest an envelope stays valid: one-way messages wait at most this long for delivery. */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;
/** Validity of requests, responses and acknowledgements unless the caller says otherwise. */
export const REQUEST_TTL_MS = 60_000;
/** How long `request()` waits for its response unless the caller says otherwise. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** How long the delivery worker waits for the acknowledgement of one message. */
export const DELIVERY_TIMEOUT_MS = 15_000;
/** How long one dial of one of a twin's addresses may take. */
export const DIAL_TIMEOUT_MS = 5_000;

/**
 * Inbound bus streams libp2p lets one connection open at once. A bus needs one per peer (its
 * channel); each may hold two frames of `maxPayload` in libp2p's read buffer, so this bounds what
 * one connection can make a twin buffer (16 × 2 × 4 MiB with the defaults).
 */
export const MAX_INBOUND_STREAMS = 16;
/** Outbox messages one delivery worker sends down a stream before it waits for their acks. */
export const DELIVERY_BATCH = 512;
/**
 * One-way messages sent in one turn towards one twin are signed together, one signature per
 * Merkle tree of up to 2^MAX_SEAL_BATCH_DEPTH of them (envelope.ts): each message then carries
 * MAX_SEAL_BATCH_DEPTH × 32 bytes of sibling hashes at most, beside the signature.
 */
export const MAX_SEAL_BATCH_DEPTH = 6;
/** Delivery retries: backoff starts here, doubles per failed attempt … */
export const BACKOFF_BASE_MS = 250;
/** … up to this ceiling (with full jitter over its upper half). */
export const BACKOFF_MAX_MS = 30_000;

/**
 * Ids of signed requests remembered for replay detection (until each expires). Every request is
 * accepted only on its sender's own Noise-authenticated connection, where nobody else can inject
 * or replay; a signed one is remembered anyway because its bytes are a transferable statement.
 * Past this many unexpired ids in all, signed requests are refused with `busy` until some expire …
 */
export const MAX_REMEMBERED_REQUESTS = 100_000;
/** … and past this many from one twin, that twin's (so one twin cannot use up everyone's share). */
export const MAX_REMEMBERED_PER_TWIN = 4_096;

/**
 * Requests and messages one inbound stream may have unanswered (being handled, or answered but
 * not yet written because the peer does not read): past this, the stream is not read until some
 * are answered, so a peer cannot make a twin hold more than this per stream.
 */
export const MAX_STREAM_INFLIGHT = 256;

/**
 * How long the twin a connection was found to be (the phonebook record holding its key) is
 * trusted before it is looked up again: a key rotated away stops vouching within this time.
 */
export const PEER_RECHECK_MS = 10_000;
/** How long "this connection's key is no twin's" (or "the phonebook did not answer") is kept. */
export const PEER_UNKNOWN_RECHECK_MS = 1_000;

/** Largest chunk of a byte stream in one frame: bigger writes are cut into chunks of this size. */
export const STREAM_CHUNK = 64 * 1024;
/**
 * Bytes of a byte stream a writer may send beyond what the reader has read: the reader grants
 * more (CREDIT frames) as its consumer reads, so `write()` waits for a slow reader, and a reader
 * never holds more than this (a writer that sends past its credit is cut off).
 */
export const STREAM_WINDOW = 1024 * 1024;
/** How long opening a byte stream waits for the other twin to accept or refuse it. */
export const STREAM_OPEN_TIMEOUT_MS = 10_000;
/** Byte streams one connection may have open towards this twin at once. */
export const MAX_INBOUND_BYTE_STREAMS = 64;
/** Twins whose last-seen time (and peer) the presence book keeps; the least recently seen go first. */
export const MAX_PRESENCE_ENTRIES = 10_000;
/** How often, at most, the replay memory is swept of expired ids when it is full. */
export const REPLAY_SWEEP_INTERVAL_MS = 1_000;

/** Longest command name of an envelope. */
export const MAX_COMMAND = 256;
/** Longest error message an envelope or a byte stream carries. */
export const MAX_ERROR_MESSAGE = 4096;

/** Relay reservations a twin serving as a circuit relay holds at once. */
export const MAX_RELAY_RESERVATIONS = 128;
/** Connections the libp2p host keeps open at once. */
export const MAX_CONNECTIONS = 512;
