/**
 * Canonical JSON: object keys sorted, no whitespace, only JSON-safe values. Transactions are
 * signed as these exact bytes, and a transaction whose bytes are not canonical is refused, so
 * one transaction has exactly one encoding (no malleability).
 */
import { PhonebookError } from './errors.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The canonical JSON text of `value`.
 * @throws PhonebookError `bad_request` for a number that is not finite
 * @example
 * canonical({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonical(value: Json): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new PhonebookError('bad_request', `not canonical JSON: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k]!)}`).join(',')}}`;
}

/**
 * {@link canonical} as UTF-8 bytes (what is signed).
 * @throws PhonebookError `bad_request`
 */
export function canonicalBytes(value: Json): Buffer {
  return Buffer.from(canonical(value));
}
