import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ErrorCodes, hasCode, TwinBaseError } from '../src/index.ts';

type ShelfErrorCode = ErrorCodes<'not_found' | 'too_large' | 'v2_only'>;
class ShelfError extends TwinBaseError<ShelfErrorCode> {
  override readonly name = 'ShelfError';
}

// Codes that are not snake_case are refused where the error class is declared (checked by tsc).
// @ts-expect-error an upper-case code
export class Upper extends TwinBaseError<ErrorCodes<'ENOENT'>> {}
// @ts-expect-error a kebab-case code
export class Kebab extends TwinBaseError<ErrorCodes<'not-found'>> {}
// @ts-expect-error one bad member spoils the union
export class Mixed extends TwinBaseError<ErrorCodes<'not_found' | 'Denied'>> {}
// @ts-expect-error a code must start with a letter
export class Digit extends TwinBaseError<ErrorCodes<'2fa_required'>> {}

test('a subclass carries its code, message, name and cause, and is an Error', () => {
  const cause = new Error('socket closed');
  const e = new ShelfError('not_found', 'no book 7', { cause });
  assert.ok(e instanceof Error && e instanceof TwinBaseError && e instanceof ShelfError);
  assert.equal(e.code, 'not_found');
  assert.equal(e.message, 'no book 7');
  assert.equal(e.name, 'ShelfError');
  assert.equal(e.cause, cause);
  assert.match(String(e.stack), /^ShelfError: no book 7/);
});

test('without a cause there is no cause property', () => {
  assert.equal('cause' in new ShelfError('too_large', 'x'), false);
});

test('hasCode matches any package error by code, and nothing else', () => {
  const e: unknown = new ShelfError('too_large', 'big');
  assert.equal(hasCode(e, 'too_large'), true);
  assert.equal(hasCode(e, 'not_found'), false);
  assert.equal(hasCode(Object.assign(new Error('x'), { code: 'too_large' }), 'too_large'), false);
  assert.equal(hasCode('too_large', 'too_large'), false);
});

test('toJSON is the reply body: code and message only', () => {
  const e = new ShelfError('not_found', 'no book 7', { cause: new Error('secret detail') });
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'not_found', message: 'no book 7' });
});
