/**
 * The grid's entries on the ledger: nodes that are twins of their own (`node.register`, admitted
 * by their farm's owner), and contracts binding a twin's deployment hash to a node
 * (`contract.create` → pending, `contract.accept` by the node → active, `contract.update`,
 * `contract.cancel`; a pending contract not accepted by `acceptBy` is expired for good).
 *
 * A contract's id is the ledger height of its `contract.create` entry, so anyone holding that
 * entry (and its inclusion proof) can check which contract it created without replaying the
 * ledger.
 */
import { z } from 'zod';
import {
  MAX_ACCEPT_WITHIN_MS,
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES,
  MAX_TX_BYTES,
  MIN_ACCEPT_WITHIN_MS,
} from './limits.ts';

const id = z.number().int().positive();
const nonce = z.number().int().nonnegative();
const timestamp = z.number().int().nonnegative();
const addresses = z.array(z.string().min(1).max(MAX_ADDRESS_LENGTH)).max(MAX_ADDRESSES);
const signature = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 64-byte signature');
/** A deployment hash: lowercase hex SHA-256. */
export const deploymentHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256');

/** The grid's transaction schemas, given the ledger's capacity and location schemas. */
export function gridTxSchemas<C extends z.ZodType, L extends z.ZodType>(capacity: C, location: L) {
  return [
    z.strictObject({
      kind: z.literal('node.register'),
      /** The node's own twin (its signer). */
      twin: id,
      nonce,
      timestamp,
      farm: id,
      capacity,
      location,
      addresses,
      /** The farm owner's signature admitting this node's key to the farm (see farmGrantBytes). */
      grant: signature,
    }),
    z.strictObject({
      kind: z.literal('contract.create'),
      twin: id,
      nonce,
      timestamp,
      node: id,
      deploymentHash: deploymentHashSchema,
      /** How long the node has to accept (ms from `timestamp`); DEFAULT_ACCEPT_WITHIN_MS when absent. */
      acceptWithin: z.number().int().min(MIN_ACCEPT_WITHIN_MS).max(MAX_ACCEPT_WITHIN_MS).optional(),
    }),
    z.strictObject({
      kind: z.literal('contract.accept'),
      /** The node's twin. */
      twin: id,
      nonce,
      timestamp,
      contract: id,
      /** The hash the node provisioned: must be the contract's. */
      deploymentHash: deploymentHashSchema,
    }),
    z.strictObject({
      kind: z.literal('contract.update'),
      twin: id,
      nonce,
      timestamp,
      contract: id,
      deploymentHash: deploymentHashSchema,
    }),
    z.strictObject({ kind: z.literal('contract.cancel'), twin: id, nonce, timestamp, contract: id }),
  ] as const;
}

export const CONTRACT_KINDS = new Set([
  'contract.create',
  'contract.accept',
  'contract.update',
  'contract.cancel',
]);

/** As stored: `pending`, `active` or `cancelled`; served with `expired` for a pending one past acceptBy. */
export type ContractState = 'pending' | 'active' | 'cancelled' | 'expired';

export interface ContractRecord {
  /** The ledger height of its contract.create entry. */
  id: number;
  twin: number;
  node: number;
  deploymentHash: string;
  state: ContractState;
  created: number;
  /** A pending contract not accepted by then is expired. */
  acceptBy: number;
  /** When the node accepted it (absent while pending). */
  accepted?: number;
  /** Who cancelled it: the twin, or the node (only before accepting). */
  cancelledBy?: 'twin' | 'node';
  updated: number;
}

/** A signed heartbeat: a node's twin signs the canonical bytes of {node, timestamp, interval}. */
export const heartbeatSchema = z.strictObject({
  node: id,
  timestamp,
  /** The node's heartbeat period (ms): its status is computed against it. */
  interval: z.number().int().min(1000).max(60_000),
  /** What the node has reserved for deployments (cores, bytes, bytes), as it reports. */
  used: z
    .strictObject({
      cpu: z.number().nonnegative(),
      memory: z.number().int().nonnegative(),
      storage: z.number().int().nonnegative(),
    })
    .optional(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const signedHeartbeatSchema = z.strictObject({
  /** base64 of the heartbeat's canonical bytes. */
  heartbeat: z.string().max(512),
  signature,
});
export type SignedHeartbeat = z.infer<typeof signedHeartbeatSchema>;

export type NodeLiveness = 'up' | 'suspect' | 'down';

export interface NodeStatus {
  node: number;
  status: NodeLiveness;
  /** Server time of the last accepted heartbeat (null: none since the server started). */
  lastSeen: number | null;
  interval: number;
  /** The node's reserved capacity as of its last heartbeat (self-reported, unverified). */
  used?: { cpu: number; memory: number; storage: number };
}

/** Bounds of a contract proof as a client receives it. */
export const MAX_CONTRACT_PROOF_ENTRIES = 4;
export const MAX_ENCODED_TX = Math.ceil(MAX_TX_BYTES / 3) * 4;
