/**
 * @twin/bcdb: a twin's own database (BCDB). Objects live in collections, carry indexed tags and
 * an ACL, and change by versions; every change is a record appended to a sequential 0-db
 * namespace (the truth), applied in order to a SQLite index (a cache that `rebuild` recreates
 * from 0-db alone). Other twins reach objects only over the bus, as their verified selves,
 * where an ACL grants it; without a grant they file an access request the owner decides.
 *
 * Main types: {@link Bcdb} (open, set, get, update, delete, find, ACLs), {@link serveBcdb} /
 * {@link serveOwner} (the bcdb.* bus commands, arguments parsed with zod), {@link RemoteBcdb}
 * and {@link BcdbApi} (a peer's objects), {@link AccessRequests}. Bounds are in `limits.ts`
 * (MAX_PAGE_SIZE, MAX_QUERY_TAGS, ...). Errors: {@link BcdbError} with codes `not_found`,
 * `conflict`, `denied`, `bad_request`, `bad_record`, `bad_reply`, `internal`.
 *
 * @example
 * ```ts
 * const db = await Bcdb.open({ indexPath: 'home/bcdb.sqlite', zdb, owner: myTwinId });
 * const acl = await db.createAcl({ [bob]: 'r' });
 * const doc = await db.set('docs', Buffer.from('plan'), { tags: { title: 'plan' }, acl: acl.id });
 * serveBcdb(bus, db); // bob: await new RemoteBcdb(bobBus, 'alice').get(doc.id)
 * ```
 */
export {
  Bcdb,
  type BcdbObject,
  type BcdbOptions,
  PRIVATE_ACL,
  type SetOptions,
  type UpdateOptions,
} from './bcdb.ts';
export { Catalog, type FindQuery, type ObjectMeta, type Page } from './catalog.ts';
export { BCDB_ERROR_CODES, BcdbError, type BcdbErrorCode } from './errors.ts';
export * from './limits.ts';
export {
  type AccessDecision,
  type AccessRequest,
  AccessRequests,
  BcdbApi,
  type BcdbLog,
  callBcdb,
  REQUESTS,
  RemoteBcdb,
  type RemoteObject,
  type RemotePage,
  serveBcdb,
  serveOwner,
  unwrapReply,
} from './peer.ts';
export { type AclHeader, decodeRecord, encodeRecord, type ObjectHeader, type Perm } from './record.ts';
export { accessDecisionSchema } from './schemas.ts';
