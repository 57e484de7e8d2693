import { type ErrorCodes, TwinBaseError } from '@twin/errors';

/** The grid's one error class: a stable snake_case code callers match, and a message for people. */
export type GridErrorCode = ErrorCodes<
  | 'bad_deployment' // not a well-formed deployment (shape, canonical bytes, size)
  | 'invalid_workload' // a workload name, type or data the node does not accept
  | 'bad_signature' // the signatures do not meet the deployment's requirement
  | 'wrong_sender' // the bus sender is not the deployment's twin
  | 'wrong_node' // the deployment or its contract is for another node
  | 'no_contract' // no pending or active contract with this id
  | 'hash_mismatch' // the contract holds another deployment hash
  | 'bad_version' // an update whose version is not the current one + 1 (or a replay)
  | 'over_capacity' // the node cannot reserve what the deployment asks
  | 'exists' // a deployment for this contract is already there (deploy, not update)
  | 'not_found' // no deployment for this contract on this node
  | 'forbidden' // a twin asking about another twin's deployment
  | 'busy' // the node's provisioning queue is full
  | 'unavailable' // the phonebook or a backing service could not be reached
  | 'provision_failed' // a workload could not be provisioned
>;

export class GridError extends TwinBaseError<GridErrorCode> {
  override readonly name = 'GridError';
}
