/**
 * The backend interface callers depend on: a phonebook reached over HTTP today; a TFChain-backed
 * one can implement the same interface later without touching callers.
 */

import type { ContractProof } from './contract-proof.ts';
import { PhonebookError } from './errors.ts';
import type { ContractRecord, NodeStatus, SignedHeartbeat } from './grid-types.ts';
import type { SubmitResult } from './service.ts';
import type {
  FarmRecord,
  LedgerEntry,
  NodeRecord,
  SignedCheckpoint,
  SignedTx,
  TwinProof,
  TwinRecord,
} from './types.ts';

export interface PhonebookBackend {
  submit(signed: SignedTx): Promise<SubmitResult>;
  /** By numeric id or name; null when there is no such twin. */
  twinProof(ref: string | number): Promise<TwinProof | null>;
  twinProofByKey(signingKey: string): Promise<TwinProof | null>;
  twins(from: number, limit: number): Promise<TwinRecord[]>;
  farms(): Promise<FarmRecord[]>;
  nodes(): Promise<NodeRecord[]>;
  ledger(from: number, limit: number): Promise<{ height: number; entries: LedgerEntry[] }>;
  checkpoint(): Promise<SignedCheckpoint>;
  /** RFC 9162 consistency proof (hex hashes) from tree size `from` to `to`; optional. */
  consistency?(from: number, to: number): Promise<string[]>;
  /** Contracts (unverified listing), filtered by node and/or twin. */
  contracts(filter: { node?: number; twin?: number }): Promise<ContractRecord[]>;
  /** A contract with its proof; null when there is no such contract. */
  contractProof(id: number): Promise<ContractProof | null>;
  /** Sends a node's signed heartbeat; returns its status as the server now sees it. */
  heartbeat(signed: SignedHeartbeat): Promise<NodeStatus>;
  /** Every node's liveness as the server sees it. */
  nodeStatus(): Promise<NodeStatus[]>;
}

/**
 * The phonebook over HTTP (the server's or a replica's /v1 API). Reads retry once; answers are
 * not trusted here: PhonebookClient verifies them.
 * Throws PhonebookError: `unavailable` (unreachable, non-JSON), or the server's own code.
 */
export class HttpBackend implements PhonebookBackend {
  private readonly base: string;

  constructor(
    url: string,
    private readonly timeoutMs = 5000,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  private async call<T>(
    path: string,
    init?: { method: string; body: unknown },
  ): Promise<{ status: number; body: T }> {
    let res: Response | undefined;
    // A GET is retried once: a kept-alive socket to a restarted server fails on first use.
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await fetch(`${this.base}${path}`, {
          method: init?.method ?? 'GET',
          headers: init ? { 'content-type': 'application/json' } : undefined,
          body: init ? JSON.stringify(init.body) : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        if (init || attempt > 0)
          throw new PhonebookError(
            'unavailable',
            `phonebook ${this.base} unreachable: ${(e as Error).message}`,
          );
      }
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PhonebookError('unavailable', `phonebook answered ${res.status} with non-JSON`);
    }
    if (res.status >= 400 && res.status !== 404) {
      const err = body as { code?: string; message?: string };
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new PhonebookError(
        (err.code as PhonebookError['code']) ?? 'unavailable',
        err.message ?? `HTTP ${res.status}`,
        retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {},
      );
    }
    return { status: res.status, body: body as T };
  }

  async submit(signed: SignedTx): Promise<SubmitResult> {
    const r = await this.call<SubmitResult>('/v1/transactions', { method: 'POST', body: signed });
    if (r.status === 404)
      throw new PhonebookError('not_found', (r.body as unknown as { message: string }).message);
    return r.body;
  }

  private async proof(path: string): Promise<TwinProof | null> {
    const r = await this.call<TwinProof>(path);
    return r.status === 404 ? null : r.body;
  }

  twinProof(ref: string | number): Promise<TwinProof | null> {
    return this.proof(`/v1/twins/${encodeURIComponent(String(ref))}`);
  }

  twinProofByKey(signingKey: string): Promise<TwinProof | null> {
    return this.proof(`/v1/twins/by-key/${encodeURIComponent(signingKey)}`);
  }

  async twins(from: number, limit: number): Promise<TwinRecord[]> {
    return (await this.call<{ twins: TwinRecord[] }>(`/v1/twins?from=${from}&limit=${limit}`)).body.twins;
  }

  async farms(): Promise<FarmRecord[]> {
    return (await this.call<{ farms: FarmRecord[] }>('/v1/farms')).body.farms;
  }

  async nodes(): Promise<NodeRecord[]> {
    return (await this.call<{ nodes: NodeRecord[] }>('/v1/nodes')).body.nodes;
  }

  async ledger(from: number, limit: number): Promise<{ height: number; entries: LedgerEntry[] }> {
    return (
      await this.call<{ height: number; entries: LedgerEntry[] }>(`/v1/ledger?from=${from}&limit=${limit}`)
    ).body;
  }

  async consistency(from: number, to: number): Promise<string[]> {
    const r = await this.call<{ proof: string[] }>(`/v1/consistency?from=${from}&to=${to}`);
    if (r.status === 404) throw new PhonebookError('not_found', 'the phonebook serves no consistency proofs');
    return r.body.proof;
  }

  async contracts(filter: { node?: number; twin?: number }): Promise<ContractRecord[]> {
    const q = new URLSearchParams();
    if (filter.node !== undefined) q.set('node', String(filter.node));
    if (filter.twin !== undefined) q.set('twin', String(filter.twin));
    return (await this.call<{ contracts: ContractRecord[] }>(`/v1/contracts?${q}`)).body.contracts;
  }

  async contractProof(id: number): Promise<ContractProof | null> {
    const r = await this.call<ContractProof>(`/v1/contracts/${id}`);
    return r.status === 404 ? null : r.body;
  }

  async heartbeat(signed: SignedHeartbeat): Promise<NodeStatus> {
    const r = await this.call<NodeStatus>('/v1/heartbeats', { method: 'POST', body: signed });
    if (r.status === 404)
      throw new PhonebookError('not_found', (r.body as unknown as { message: string }).message);
    return r.body;
  }

  async nodeStatus(): Promise<NodeStatus[]> {
    return (await this.call<{ statuses: NodeStatus[] }>('/v1/nodes/status')).body.statuses;
  }

  async checkpoint(): Promise<SignedCheckpoint> {
    return (await this.call<SignedCheckpoint>('/v1/checkpoint')).body;
  }
}
