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
