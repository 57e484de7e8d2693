import { TwinBaseError } from '@twin/errors';

/**
 * The zdb client's one error class. `code` is stable and snake_case: for an error reply it is
 * derived from 0-db's text (the words before any ':' or '('), so callers match codes, not text:
 *
 * | 0-db reply                                    | code                       |
 * | --------------------------------------------- | -------------------------- |
 * | `-Key not found`                              | `key_not_found`            |
 * | `-No more data` (end of SCAN)                 | `no_more_data`             |
 * | `-Namespace not found`                        | `namespace_not_found`      |
 * | `-Access denied`                              | `access_denied`            |
 * | `-Permission denied`                          | `permission_denied`        |
 * | `-Namespace is in read-only mode`             | `namespace_is_in_read_only_mode` |
 * | `-Your active namespace is not available anymore (probably removed).` | `your_active_namespace_is_not_available_anymore` |
 * | `-Internal Error: write failed`               | `internal_error`           |
 *
 * Without a reply: `connection_failed`, `connection_closed`, `not_connected`, `client_closed`,
 * `timeout`, `protocol_error` (the server's bytes are not RESP), `not_ready` (a spawned zdb did
 * not come up); a reply of an unexpected shape: `unexpected_reply`.
 */

/** What failed: the server answered an error ('reply'), the link failed, or no reply came in time. */
export type ZdbErrorKind = 'reply' | 'connection' | 'timeout';

/** Codes callers match today (every other 0-db reply has a code derived the same way). */
export const ZDB_CODES = {
  keyNotFound: 'key_not_found',
  noMoreData: 'no_more_data',
  namespaceNotFound: 'namespace_not_found',
  accessDenied: 'access_denied',
  timeout: 'timeout',
} as const;

/**
 * The code of an error text: its words before any ':' or '(', lower-case, joined by '_'.
 *
 * @param message - an error reply's text, without the leading '-'
 * @example
 * ```ts
 * errorCode('Internal Error: write failed'); // 'internal_error'
 * ```
 */
export function errorCode(message: string): string {
  const head = message.split(/[:(]/, 1)[0]!;
  const code = head
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return code || 'error';
}

/** What a {@link ZdbError} carries besides its code and message. */
export interface ZdbErrorOptions {
  /** What failed: an error reply, the connection, or the wait for a reply. */
  kind: ZdbErrorKind;
  /** The failure this one explains. */
  cause?: unknown;
}

/**
 * An error of the zdb client (or of a zdb process it spawned). Its `code` is always snake_case:
 * one of the table above, or for any other error reply the code {@link errorCode} derives from it.
 *
 * @example
 * ```ts
 * try { await client.get('k'); } catch (e) { if (e instanceof ZdbError && e.kind === 'connection') retry(); }
 * ```
 */
export class ZdbError extends TwinBaseError<string> {
  override readonly name = 'ZdbError';
  /** What failed: the server answered an error ('reply'), the link failed, or no reply came in time. */
  readonly kind: ZdbErrorKind;

  constructor(code: string, message: string, options: ZdbErrorOptions) {
    super(code, message, options);
    this.kind = options.kind;
  }

  /** The error for 0-db's error reply `-<text>`: the text as message, its derived code. */
  static fromReply(text: string): ZdbError {
    return new ZdbError(errorCode(text), text, { kind: 'reply' });
  }
}
