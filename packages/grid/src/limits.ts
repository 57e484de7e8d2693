/** Every limit and period of the grid, in one place. */

/** Largest deployment accepted (its canonical JSON with signatures). */
export const MAX_DEPLOYMENT_BYTES = 64 * 1024;
/** Most workloads in one deployment. */
export const MAX_WORKLOADS = 32;
/** Most signatures / signature requests in one deployment. */
export const MAX_SIGNERS = 16;
/** Most metadata characters. */
export const MAX_METADATA = 4096;
/** Most environment variables of a twin workload, and the longest value. */
export const MAX_ENV = 32;
export const MAX_ENV_VALUE = 1024;

/** How often a node agent sends its heartbeat (ms). */
export { DEFAULT_HEARTBEAT_MS } from '@twin/phonebook';
/** How often a node agent reads the ledger for its contracts' changes (ms). */
export const LEDGER_FOLLOW_MS = 1000;
/** Deployments waiting to be provisioned at most (beyond that: `busy`). */
export const MAX_QUEUED = 256;
/** How long a deploying client trusts the node → twin map it read from the phonebook (ms). */
export const NODE_TWIN_CACHE_MS = 10_000;
/** How often `GridClient.wait()` asks the node for its deployment (ms). */
export const WAIT_POLL_MS = 50;
/** Acceptance deadline a deploying client asks for its contract (ms). */
export const CONTRACT_ACCEPT_WITHIN_MS = 2 * 60_000;

/** Compute workloads: restart backoff (doubling from MIN to MAX) and when to give up. */
export const RESTART_MIN_MS = 200;
export const RESTART_MAX_MS = 10_000;
/** This many crashes, each within CRASH_WINDOW_MS of the previous start, put a workload in `error`. */
export const MAX_CRASHES = 5;
/** A process that ran this long is considered healthy again (crash count reset). */
export const CRASH_WINDOW_MS = 30_000;
/** Log bytes kept per compute workload (the tail). */
export const MAX_LOG_BYTES = 256 * 1024;
/** Grace between SIGTERM and SIGKILL when stopping a workload. */
export const STOP_GRACE_MS = 3000;
