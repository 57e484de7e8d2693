/** The node's bus commands and their payloads (JSON), validated at the boundary. */
import { z } from 'zod';
import { MAX_DEPLOYMENT_BYTES } from './limits.ts';

export const COMMANDS = {
  deploy: 'grid.deployment.deploy',
  update: 'grid.deployment.update',
  get: 'grid.deployment.get',
  list: 'grid.deployment.list',
  changes: 'grid.deployment.changes',
  logs: 'grid.deployment.logs',
  statistics: 'grid.node.statistics',
  version: 'grid.node.version',
} as const;

const contract = z.number().int().positive();
export const deployRequest = z.strictObject({
  contract,
  /** base64 of the signed deployment's canonical bytes. */
  deployment: z.string().max(Math.ceil(MAX_DEPLOYMENT_BYTES / 3) * 4),
});
export const contractRequest = z.strictObject({ contract });
export const logsRequest = z.strictObject({ contract, workload: z.string().max(32) });

/** A deployment as the node reports it. */
export interface DeploymentInfo {
  contract: number;
  twin: number;
  version: number;
  hash: string;
  state: 'active' | 'deleted';
  /** The signed deployment as deployed (canonical JSON). */
  deployment: unknown;
  results: Record<string, { state: string; message: string; data: Record<string, unknown>; created: number }>;
}

export interface NodeStatistics {
  node: number;
  total: { cpu: number; memory: number; storage: number };
  used: { cpu: number; memory: number; storage: number };
  deployments: number;
  workloads: number;
}

/** Answers carry either a value or a refusal with its GridError code. */
export type Answer<T> = { ok: true; value: T } | { ok: false; code: string; message: string };
