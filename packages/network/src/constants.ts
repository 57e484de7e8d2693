/** Every timeout and limit of the network package, in one place. */

/** The libp2p protocol of the twin bus (v2: connection-authenticated requests, signed messages). */
export const BUS_PROTOCOL = '/twin/bus/2.0.0';

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

/** Inbound bus streams libp2p lets one connection open at once. */
export const MAX_INBOUND_STREAMS = 256;
/** Outbox messages one delivery worker sends down a stream before it waits for their acks. */
export const DELIVERY_BATCH = 512;
/** Delivery retries: backoff starts here, doubles per failed attempt … */
export const BACKOFF_BASE_MS = 250;
/** … up to this ceiling (with full jitter over its upper half). */
export const BACKOFF_MAX_MS = 30_000;

/**
 * Ids of signed requests remembered for replay detection (until each expires). Requests framed
 * without a signature ride a Noise session, which no one but the peer can inject into or replay
 * within, so only signed ones are remembered; past this many unexpired ids, signed requests are
 * refused with `busy` until some expire.
 */
export const MAX_REMEMBERED_REQUESTS = 100_000;
