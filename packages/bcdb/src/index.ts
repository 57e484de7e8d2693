export {
  Bcdb,
  type BcdbObject,
  type BcdbOptions,
  PRIVATE_ACL,
  type SetOptions,
  type UpdateOptions,
} from './bcdb.ts';
export { Catalog, type FindQuery, type ObjectMeta, type Page } from './catalog.ts';
export { BcdbError, type BcdbErrorCode } from './errors.ts';
export {
  type AccessDecision,
  type AccessRequest,
  AccessRequests,
  BcdbApi,
  callBcdb,
  REQUESTS,
  RemoteBcdb,
  type RemoteObject,
  serveBcdb,
  serveOwner,
} from './peer.ts';
export { type AclHeader, decodeRecord, encodeRecord, type ObjectHeader, type Perm } from './record.ts';
