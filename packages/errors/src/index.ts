/**
 * @twin/errors: the one base class of every error the Digital Twin's packages throw on purpose.
 *
 * Each package has exactly one error class, a subclass of {@link TwinBaseError}, and a union of
 * stable snake_case codes (`not_found`, `bad_signature`, ...). Callers match the `code`, never the
 * message text; the CLI prints `twin: <message> (<code>)`; HTTP answers `{ code, message }`. This
 * package sits at the bottom of the layers and imports nothing.
 *
 * Main types: {@link TwinBaseError} (the class), {@link ErrorCodes} (declares a package's code union
 * and refuses, at compile time, a code that is not snake_case), {@link hasCode} (narrows an
 * unknown caught value).
 *
 * @example
 * ```ts
 * import { type ErrorCodes, TwinBaseError } from '@twin/errors';
 *
 * export type ShelfErrorCode = ErrorCodes<'not_found' | 'too_large'>;
 *
 * export class ShelfError extends TwinBaseError<ShelfErrorCode> {
 *   override readonly name = 'ShelfError';
 * }
 *
 * try {
 *   throw new ShelfError('not_found', 'no book 7', { cause: lookupFailure });
 * } catch (e) {
 *   if (e instanceof ShelfError && e.code === 'not_found') ...
 * }
 * ```
 */

type Letter =
  | 'a'
  | 'b'
  | 'c'
  | 'd'
  | 'e'
  | 'f'
  | 'g'
  | 'h'
  | 'i'
  | 'j'
  | 'k'
  | 'l'
  | 'm'
  | 'n'
  | 'o'
  | 'p'
  | 'q'
  | 'r'
  | 's'
  | 't'
  | 'u'
  | 'v'
  | 'w'
  | 'x'
  | 'y'
  | 'z';
type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';

/** True when every character of `S` is a lower-case letter, a digit or `_`. */
type _IsSnakeTail<S extends string> = S extends `${infer H}${infer R}`
  ? H extends Letter | Digit | '_'
    ? _IsSnakeTail<R>
    : false
  : true;

/** The members of the union `C` that are snake_case: a lower-case letter, then `[a-z0-9_]*`. */
export type SnakeCase<C extends string> = C extends `${infer H}${infer R}`
  ? H extends Letter
    ? _IsSnakeTail<R> extends true
      ? C
      : never
    : never
  : never;

/**
 * Declares a package's union of error codes. When a member is not snake_case (`'EKEY'`,
 * `'not-found'`), the result is not a string type, so the package's error class fails to compile
 * at `extends TwinBaseError<...>`, and the message names the offending codes.
 *
 * @example
 * ```ts
 * type Codes = ErrorCodes<'not_found' | 'denied'>; // 'not_found' | 'denied'
 * class Wrong extends TwinBaseError<ErrorCodes<'ENOENT'>> {} // compile error: { notSnakeCase: 'ENOENT' }
 * ```
 */
export type ErrorCodes<C extends string> = [C] extends [SnakeCase<C>]
  ? C
  : { notSnakeCase: Exclude<C, SnakeCase<C>> };

/** What a {@link TwinBaseError} can carry besides its code and message. */
export interface TwinErrorOptions {
  /** The failure this one explains (kept for logs; never shown as the reason to a user). */
  cause?: unknown;
}

/**
 * The base class of every package's error class: a stable snake_case `code` that callers match,
 * a one-line human `message`, and an optional `cause`. Subclass it once per package and set
 * `name`; don't throw it directly.
 *
 * @param code - the stable code (a member of the package's {@link ErrorCodes} union)
 * @param message - one line for a person: what failed and, where useful, what to do
 * @param options - `cause`: the underlying failure
 */
export class TwinBaseError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: TwinErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** The error as an HTTP or bus reply body: `{ code, message }` (never the cause or stack). */
  toJSON(): { code: C; message: string } {
    return { code: this.code, message: this.message };
  }
}

/**
 * True when `e` is one of our errors (any package's) with the code `code`: for a caller that
 * handles a code whatever package threw it.
 *
 * @example
 * ```ts
 * try { await client.twin('bob'); } catch (e) { if (!hasCode(e, 'not_found')) throw e; }
 * ```
 */
export function hasCode<C extends string>(e: unknown, code: C): e is TwinBaseError<C> {
  return e instanceof TwinBaseError && e.code === code;
}
