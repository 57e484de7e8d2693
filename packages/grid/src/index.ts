/**
 * @packageDocumentation
 * ThreeFold Grid and Zero-OS: the node agent, the deployment format and the deploying side.
 *
 * - {@link NodeAgent}: a node is a twin of its own; registers in its farm, heartbeats, and serves
 *   exactly the grid commands ({@link COMMANDS}) on the bus; storage (`zdb` namespaces on its own
 *   0-db) and compute (`twin` instances, supervised, in their own cgroup).
 * - Deployments: canonical JSON signed by the twin over a domain-separated SHA-256
 *   ({@link deploymentHash}, {@link signDeployment}, {@link decodeDeployment},
 *   {@link verifySignatures}); contracts live on the phonebook ledger.
 * - {@link GridClient}: contract + deployment + waiting, from the deploying twin's bus.
 * - {@link GridError}: the one error class, with a snake_case `code`.
 */
export { AGENT_VERSION, machineCapacity, NodeAgent, type NodeAgentOptions } from './agent.ts';
export { GridClient, type GridClientOptions } from './client.ts';
export {
  DEPLOYMENT_HASH_CONTEXT,
  DEPLOYMENT_SIGN_CONTEXT,
  type Deployment,
  decodeDeployment,
  deploymentHash,
  deploymentSchema,
  encodeDeployment,
  signDeployment,
  type UnsignedDeployment,
  verifySignatures,
  type Workload,
} from './deployment.ts';
export { GridError, type GridErrorCode } from './errors.ts';
export * from './limits.ts';
export { COMMANDS, type DeploymentInfo, type NodeStatistics } from './protocol.ts';
export { Cgroup } from './workloads/cgroup.ts';
export type { TwinLauncher } from './workloads/runtime.ts';
export {
  checkWorkload,
  type TwinData,
  twinData,
  WORKLOAD_TYPES,
  type WorkloadResult,
  type WorkloadState,
  type ZdbData,
  zdbData,
} from './workloads/types.ts';
