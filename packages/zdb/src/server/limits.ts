/**
 * What one client may make the server hold, and how many clients there may be. Without these a
 * stranger on the port needs no password to grow the server's memory without bound (pipelined
 * reads whose replies it never reads, one request that never ends) or to exhaust its file
 * descriptors. The idea is Redis's client-output-buffer-limit and maxclients.
 *
 * - maxOutput: once a client's unsent replies (queued in the server and in the socket) pass it,
 *   the server stops reading from that client until they drain below it (TCP backpressure then
 *   stops the client). One reply may still exceed it by a value's size (8 MiB at most).
 * - maxRequest: bytes of one request (a SET's value is at most MAX_BULK); beyond it the client
 *   gets `-Request too large` and is disconnected.
 * - maxWaits: WAITs pending on one connection; more get an error reply.
 * - maxclients: connections at once; one more gets `-Max number of clients reached` and is closed.
 * - idleTimeout: seconds without a byte either way (and nothing pending for it) before the server
 *   closes a connection; 0 keeps idle connections forever.
 *
 * Worst case memory held for clients: maxclients × (maxOutput + maxRequest + one value).
 */
import { DEFAULT_LIMITS, type ParserLimits } from '../resp/parser.ts';
import { ReplyWriter } from '../resp/reply.ts';

export interface ClientLimits {
  /** Connections at once (0 = unlimited). */
  maxclients: number;
  /** Seconds an idle connection is kept (0 = forever). */
  idleTimeout: number;
  /** Bytes of unsent replies per client before the server stops reading from it. */
  maxOutput: number;
  /** Bytes of one request. */
  maxRequest: number;
  /** WAITs pending per connection. */
  maxWaits: number;
}

const MiB = 1024 * 1024;

/** Largest argument (a value): 0-db's REDIS_MAX_PAYLOAD, the parser's own default. */
export const MAX_BULK = DEFAULT_LIMITS.maxBulk;
/** Most arguments in one request: 0-db's limit. */
export const MAX_ARGS = 1024;

export const SERVER_PARSER_LIMITS: ParserLimits = { ...DEFAULT_LIMITS, maxArgs: MAX_ARGS };

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  maxclients: 10_000,
  idleTimeout: 300,
  maxOutput: 32 * MiB,
  maxRequest: 16 * MiB,
  maxWaits: 16,
};

/** Error replies of the limits, in 0-db's style (no "ERR" prefix). */
export const LIMIT_ERRORS = {
  maxclients: 'Max number of clients reached',
  request: 'Request too large',
  waits: 'Too many pending WAIT on this connection',
  reply: 'Reply too large',
} as const;

/**
 * The reply writer with a count of the bulk bytes of the batch being built (large bulks are kept
 * by reference, outside `length`), so the server can stop a batch before it holds too much.
 */
export class MeteredReplyWriter extends ReplyWriter {
  /** Bulk payload bytes written since the last take(). */
  bulkBytes = 0;

  override bulk(b: Buffer): void {
    this.bulkBytes += b.length;
    super.bulk(b);
  }

  override take(): Buffer[] {
    this.bulkBytes = 0;
    return super.take();
  }

  /** Bytes of the batch so far (an upper bound). */
  get size(): number {
    return this.length + this.bulkBytes;
  }
}
