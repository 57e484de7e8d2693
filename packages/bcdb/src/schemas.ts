/**
 * The shapes of what crosses the boundary: the arguments of every bcdb.* command (from a peer over
 * the bus, or from the owner's CLI through the control socket) and the replies a peer sends back.
 * Nothing from outside is used before it is parsed here; a payload that does not parse is
 * refused with `bad_request` (arguments) or `bad_reply` (replies), naming the field.
 */
import { z } from 'zod';
import { BCDB_ERROR_CODES, BcdbError } from './errors.ts';
import {
  MAX_COLLECTION_LENGTH,
  MAX_CURSOR_LENGTH,
  MAX_OBJECT_TAGS,
  MAX_PAGE_SIZE,
  MAX_QUERY_TAGS,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
} from './limits.ts';

const id = z.number().int().positive();
const twinId = z.number().int().positive();
const collection = z.string().min(1).max(MAX_COLLECTION_LENGTH);
const base64 = z.base64();
const perms = z.string().regex(/^[rwd]{0,3}$/, 'permissions are a subset of "rwd"');
const tagsOf = (max: number) =>
  z
    .record(z.string().min(1).max(MAX_TAG_KEY_LENGTH), z.string().max(MAX_TAG_VALUE_LENGTH))
    .refine((t) => Object.keys(t).length <= max, `at most ${max} tags`);
/** Tags stored on an object. */
const objectTags = tagsOf(MAX_OBJECT_TAGS);
/** Tags a query matches (each one is a join). */
const queryTags = tagsOf(MAX_QUERY_TAGS);
const cursor = z.string().max(MAX_CURSOR_LENGTH);
const limit = z.number().int().min(1).max(MAX_PAGE_SIZE);
const status = z.enum(['pending', 'approved', 'declined']);

/** Arguments of each bcdb.* command. */
export const args = {
  get: z.object({ id }),
  find: z.object({
    collection,
    tags: queryTags.optional(),
    prefix: z
      .object({ key: z.string().min(1).max(MAX_TAG_KEY_LENGTH), value: z.string().max(MAX_TAG_VALUE_LENGTH) })
      .optional(),
    order: z.enum(['asc', 'desc']).optional(),
    limit: limit.optional(),
    cursor: cursor.optional(),
  }),
  list: z.object({ collection, cursor: cursor.optional(), limit: limit.optional() }),
  set: z.object({
    id,
    data: base64.optional(),
    tags: objectTags.optional(),
    expectedVersion: z.number().int().positive().optional(),
  }),
  delete: z.object({ id }),
  accessRequest: z.object({
    object: id.optional(),
    collection: collection.optional(),
    perms: z.string().regex(/^[rwd]{1,3}$/, 'perms is a subset of "rwd"'),
    reason: z.string().optional(),
  }),
  create: z.object({
    collection,
    data: base64,
    tags: objectTags.optional(),
    acl: z.number().int().nonnegative().optional(),
  }),
  aclCreate: z.object({ entries: z.record(z.string(), perms).optional() }),
  aclId: z.object({ id }),
  none: z.object({}),
  aclSet: z.object({ id, twin: twinId, perms }),
  aclGrant: z.object({ id, twins: z.array(twinId).max(1000), perms }),
  aclRevoke: z.object({ id, twins: z.array(twinId).max(1000) }),
  requestsList: z.object({ status: status.optional() }),
};

/** An object's metadata as a peer returns it (no 0-db key). */
export const remoteMetaSchema = z.object({
  id,
  collection,
  tags: z.record(z.string(), z.string()),
  acl: z.number().int().nonnegative(),
  version: z.number().int().positive(),
  created: z.number(),
  updated: z.number(),
  size: z.number().int().nonnegative(),
});
/** `bcdb.get`'s result: metadata and the data in base64. */
export const remoteObjectSchema = remoteMetaSchema.extend({ data: base64 });
/** `bcdb.find` and `bcdb.list`'s result. */
export const pageSchema = z.object({ objects: z.array(remoteMetaSchema), cursor: cursor.nullable() });
/** `bcdb.access.request`'s result. */
export const requestIdSchema = z.object({ request: id });

/** The one-way message an owner sends when it decides an access request. */
export const accessDecisionSchema = z.object({
  request: id,
  status: z.enum(['approved', 'declined']),
  object: id.optional(),
  collection: collection.optional(),
  perms: z.string(),
});

/** Every bcdb.* reply: a result, or a typed error. */
export const replySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: z.enum(BCDB_ERROR_CODES), message: z.string().max(4096) }),
  }),
]);

/** `where`: the first problem, naming the field ("limit: Too big: expected number to be <=1000"). */
function problem(e: z.ZodError, where: string): string {
  const issue = e.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : where;
  return `${path}: ${issue?.message ?? 'invalid'}`;
}

/**
 * Parses bytes that should be JSON of `schema`'s shape.
 * @throws BcdbError `code` (bad_request for arguments, bad_reply for replies) naming the field
 */
export function parseJson<S extends z.ZodType>(
  schema: S,
  bytes: Uint8Array | string,
  code: 'bad_request' | 'bad_reply',
  where: string,
): z.output<S> {
  let value: unknown;
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString();
  try {
    value = JSON.parse(text || '{}');
  } catch {
    throw new BcdbError(code, `${where}: not JSON`);
  }
  return parse(schema, value, code, where);
}

/**
 * Checks `value` against `schema`.
 * @throws BcdbError `code` naming the first field that does not fit
 */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: 'bad_request' | 'bad_reply',
  where: string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new BcdbError(code, problem(r.error, where));
  return r.data;
}
