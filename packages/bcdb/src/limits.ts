/**
 * The bounds of a BCDB, checked for the owner and for peers alike: what a stranger can make the
 * twin hold (statements, joins, rows in one reply) is bounded here.
 */

/** Objects in one page when the query does not say. */
export const DEFAULT_PAGE_SIZE = 100;
/** The most objects in one page (`limit` above this is refused from peers, clamped locally). */
export const MAX_PAGE_SIZE = 1000;
/** The most tag equalities in one query (each one is a join). */
export const MAX_QUERY_TAGS = 8;
/** The most tags on one object. */
export const MAX_OBJECT_TAGS = 64;
/** Tag keys are 1 to this many characters. */
export const MAX_TAG_KEY_LENGTH = 128;
/** Tag values are at most this many characters. */
export const MAX_TAG_VALUE_LENGTH = 1024;
/** Collection names are 1 to this many characters. */
export const MAX_COLLECTION_LENGTH = 128;
/** The reason of an access request is cut to this many characters. */
export const MAX_REASON_LENGTH = 1000;
/** A page cursor ("updated:id") is at most this long. */
export const MAX_CURSOR_LENGTH = 64;
/** Prepared find statements kept per catalog (one per query shape; the oldest is dropped). */
export const MAX_CACHED_STATEMENTS = 64;
