/**
 * Every size and rate the phonebook enforces, in one place. A stranger can write to the ledger,
 * so each field, each transaction and each client's (and each twin's) write rate is bounded:
 * what the server holds in memory and on disk grows only as fast as these allow.
 */

/** A transaction dated later than this past the server's clock is refused (bad_timestamp). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Longest name (twin or farm). */
export const MAX_NAME_LENGTH = 64;
/** Most addresses (and, separately, relays) a twin or node publishes. */
export const MAX_ADDRESSES = 8;
/** Longest single address (a multiaddr). */
export const MAX_ADDRESS_LENGTH = 256;
/** Longest country / city of a node's location. */
export const MAX_COUNTRY_LENGTH = 64;
export const MAX_CITY_LENGTH = 128;
/** Largest canonical transaction (the signed bytes), whatever its fields. */
export const MAX_TX_BYTES = 4096;
/** Largest HTTP request body: a maximal transaction in base64 with its signatures, plus JSON. */
export const MAX_BODY_BYTES = 8192;

/** A token bucket: `burst` writes at once, then one more every `refillMs`. */
export interface RateLimit {
  burst: number;
  refillMs: number;
}

export interface RateLimits {
  /** Writes from one client address (IP). */
  perClient: RateLimit;
  /** Writes concerning one twin (its updates, rotations, farms and nodes), whoever submits them. */
  perTwin: RateLimit;
  /** Buckets kept at most per kind; the least recently used is dropped first (memory bound). */
  maxBuckets: number;
}

/** 60 writes at once per client, then one a second; 10 per twin, then one every 6 s. */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  perClient: { burst: 60, refillMs: 1000 },
  perTwin: { burst: 10, refillMs: 6000 },
  maxBuckets: 100_000,
};

/** A very large budget: no practical limit (benchmarks, trusted setups). */
export const UNLIMITED: RateLimit = { burst: Number.MAX_SAFE_INTEGER, refillMs: 1 };

/** How long a node has to accept a contract when its creator does not say (ms). */
export const DEFAULT_ACCEPT_WITHIN_MS = 2 * 60_000;
/** Bounds a contract creator may choose for acceptance: no contract stays pending longer. */
export const MIN_ACCEPT_WITHIN_MS = 1000;
export const MAX_ACCEPT_WITHIN_MS = 10 * 60_000;
/**
 * Contract transactions must be dated within this of the server's clock when submitted (both
 * ways): the ledger decides expiry by the transactions' own timestamps, so replicas replaying it
 * agree, and a node cannot accept late by back-dating.
 */
export const MAX_CONTRACT_SKEW_MS = 30_000;
/** Heartbeats: default period, the smallest gap accepted between two of one node, and skew. */
export const DEFAULT_HEARTBEAT_MS = 5000;
export const MIN_HEARTBEAT_GAP_MS = 200;
export const MAX_HEARTBEAT_SKEW_MS = 30_000;
/** A node is `suspect` after this many missed heartbeats, `down` after DOWN_AFTER_MISSED. */
export const SUSPECT_AFTER_MISSED = 3;
export const DOWN_AFTER_MISSED = 6;
