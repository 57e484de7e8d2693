/**
 * The phonebook service: the ledger state in memory, the entries in SQLite, and a server key
 * that signs checkpoints. Both the authoritative server and a replica are a PhonebookService;
 * only the server accepts transactions.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initIdentity, loadIdentity, type TwinIdentity } from '@twin/identity';
import type { ContractProof } from './contract-proof.ts';
import { contractStateAt } from './contracts.ts';
import { PhonebookError } from './errors.ts';
import { CONTRACT_KINDS, type ContractRecord } from './grid-types.ts';
import { HeartbeatBoard } from './heartbeats.ts';
import {
  CHECKPOINT_CONTEXT,
  checkpointBytes,
  checkTimestamp,
  decodeTx,
  LedgerState,
  type ProofPointer,
} from './ledger.ts';
import { MAX_CONTRACT_SKEW_MS } from './limits.ts';
import { LedgerStore } from './store.ts';
import type {
  FarmRecord,
  LedgerEntry,
  NodeRecord,
  ProvenEntry,
  SignedCheckpoint,
  SignedTx,
  TwinProof,
  TwinRecord,
} from './types.ts';

/** Proofs kept serialised at most (least recently built dropped first). */
export const MAX_CACHED_PROOFS = 2_000;

export interface SubmitResult {
  height: number;
  hash: string;
  twin: number;
  farm?: number;
  node?: number;
  contract?: number;
}

/**
 * The ledger behind a phonebook server or replica: state, entries, server key, checkpoints and
 * proofs. `submit` (server only) throws PhonebookError: `bad_request`, `bad_signature`,
 * `bad_nonce`, `bad_name`, `name_taken`, `key_taken`, `key_retired`, `bad_timestamp`,
 * `forbidden`, `too_large`.
 */
export class PhonebookService {
  readonly state = new LedgerState();
  readonly store: LedgerStore;
  readonly key: TwinIdentity;
  /** Node heartbeats (memory only; the server's, not replicated). */
  readonly heartbeats = new HeartbeatBoard(this.state.nodes, this.state.twins);
  private checkpointCache: SignedCheckpoint | null = null;
  /** Serialised proofs of recently looked-up twins, for the checkpoint they were made under. */
  private readonly proofCache = new Map<number, { size: number; root: string; json: string }>();

  constructor(readonly dataDir: string) {
    this.store = new LedgerStore(dataDir);
    const keyHome = join(dataDir, 'server-key');
    this.key = existsSync(join(keyHome, 'keystore.json'))
      ? loadIdentity(keyHome)
      : initIdentity({ home: keyHome, name: 'phonebook' }).identity;
    for (const e of this.store.all()) this.state.applyEntry(e);
  }

  get serverKey(): string {
    return Buffer.from(this.key.signingPublicKey).toString('base64');
  }

  /** Validates, orders and durably stores a transaction. */
  submit(signed: SignedTx, decoded = decodeTx(signed)): SubmitResult {
    checkTimestamp(decoded.tx);
    if (
      CONTRACT_KINDS.has(decoded.tx.kind) &&
      Math.abs(decoded.tx.timestamp - Date.now()) > MAX_CONTRACT_SKEW_MS
    )
      throw new PhonebookError(
        'bad_timestamp',
        `a contract transaction must be dated within ${MAX_CONTRACT_SKEW_MS / 1000} s of the server's clock`,
      );
    const height = this.state.height + 1;
    const entry = this.state.chain(height, signed);
    // applyEntry validates everything before it changes the state; store only what it accepted.
    const { meta: _meta, ...ids } = this.state.applyEntry(entry, decoded);
    try {
      this.store.append(entry);
    } catch (e) {
      throw new PhonebookError(
        'unavailable',
        `ledger write failed: ${(e as Error).message}; restart the phonebook`,
      );
    }
    this.checkpointCache = null;
    return { height, hash: entry.hash, ...ids };
  }

  /** Applies entries pulled from upstream (replica); each is fully verified. */
  follow(entries: LedgerEntry[]): void {
    for (const e of entries) {
      this.state.applyEntry(e);
      this.store.append(e);
      this.checkpointCache = null;
    }
  }

  checkpoint(): SignedCheckpoint {
    if (!this.checkpointCache) {
      const checkpoint = {
        height: this.state.height,
        head: this.state.head,
        root: this.state.tree.root().toString('hex'),
        timestamp: Date.now(),
      };
      const signature = Buffer.from(this.key.sign(CHECKPOINT_CONTEXT, checkpointBytes(checkpoint))).toString(
        'base64',
      );
      this.checkpointCache = { checkpoint, signature, serverKey: this.serverKey };
    }
    return this.checkpointCache;
  }

  twinId(ref: string): number | undefined {
    if (/^\d+$/.test(ref)) return this.state.twins.has(Number(ref)) ? Number(ref) : undefined;
    return this.state.twinByName.get(ref.toLowerCase());
  }

  twinIdByKey(key: string): number | undefined {
    return this.state.twinByKey.get(key);
  }

  /**
   * The twin's record and its proof under `checkpoint` (this server's own by default; a replica
   * passes the upstream's), serialised once per twin and checkpoint. Undefined when there is no
   * such twin; 'unavailable' when the twin changed after the checkpoint (a replica catching up).
   */
  twinProofJson(id: number, checkpoint: SignedCheckpoint = this.checkpoint()): string | undefined {
    const size = checkpoint.checkpoint.height;
    const cached = this.proofCache.get(id);
    if (cached && cached.size === size && cached.root === checkpoint.checkpoint.root) return cached.json;
    const twin = this.state.twins.get(id);
    const pointers = this.state.proofs.get(id);
    if (!twin || !pointers) return undefined;
    if (pointers.latest.height > size)
      throw new PhonebookError('unavailable', `twin ${id} changed after checkpoint ${size}: retry shortly`);
    const entries = this.provenEntries(
      [pointers.registered, pointers.keys, pointers.addresses, pointers.latest],
      size,
    );
    const proof: TwinProof = { twin, entries, checkpoint };
    const json = JSON.stringify(proof);
    this.proofCache.delete(id);
    if (this.proofCache.size >= MAX_CACHED_PROOFS)
      this.proofCache.delete(this.proofCache.keys().next().value!);
    this.proofCache.set(id, { size, root: checkpoint.checkpoint.root, json });
    return json;
  }

  /**
   * The entries `pointers` name (each once, in ledger order), with their inclusion paths in the
   * tree of `size` entries: what a twin proof and a contract proof both carry.
   */
  private provenEntries(pointers: (ProofPointer | undefined)[], size: number): ProvenEntry[] {
    const heights = new Map<number, ProofPointer>();
    for (const p of pointers) if (p) heights.set(p.height, p);
    return [...heights.values()]
      .sort((a, b) => a.height - b.height)
      .map((p) => ({
        ...this.store.entries(p.height, 1)[0]!,
        meta: p.meta,
        path: this.state.tree.inclusion(p.height - 1, size).map((h) => h.toString('hex')),
      }));
  }

  /** RFC 9162 consistency proof (hex) between two tree sizes this ledger holds. */
  consistency(from: number, to: number): string[] {
    if (!(from >= 1 && from <= to && to <= this.state.height))
      throw new PhonebookError(
        'bad_request',
        `no consistency proof from ${from} to ${to} (height ${this.state.height})`,
      );
    return this.state.tree.consistency(from, to).map((h) => h.toString('hex'));
  }

  twins(from: number, limit: number): TwinRecord[] {
    const out: TwinRecord[] = [];
    for (const [id, t] of this.state.twins) {
      if (id >= from) out.push(t);
    }
    return out.sort((a, b) => a.id - b.id).slice(0, limit);
  }

  farms(): FarmRecord[] {
    return [...this.state.farms.values()];
  }

  nodes(): NodeRecord[] {
    return [...this.state.nodes.values()];
  }

  /** Contracts (states as of now), filtered by node and/or twin, in id order from `from`. */
  contracts(filter: { node?: number; twin?: number; from?: number; limit?: number }): ContractRecord[] {
    const now = Date.now();
    const out: ContractRecord[] = [];
    for (const c of this.state.grid.contracts.values()) {
      if (filter.node !== undefined && c.node !== filter.node) continue;
      if (filter.twin !== undefined && c.twin !== filter.twin) continue;
      if (c.id < (filter.from ?? 1)) continue;
      out.push({ ...c, state: contractStateAt(c, now) });
      if (out.length >= (filter.limit ?? 1000)) break;
    }
    return out;
  }

  /** A contract and the entries proving it under `checkpoint` (undefined: no such contract). */
  contractProof(id: number, checkpoint: SignedCheckpoint = this.checkpoint()): ContractProof | undefined {
    const c = this.state.grid.contracts.get(id);
    const pointers = this.state.grid.pointers.get(id);
    if (!c || !pointers) return undefined;
    const size = checkpoint.checkpoint.height;
    if (pointers.latest.height > size)
      throw new PhonebookError(
        'unavailable',
        `contract ${id} changed after checkpoint ${size}: retry shortly`,
      );
    const entries = this.provenEntries(
      [pointers.created, pointers.hashSet, pointers.accepted, pointers.latest],
      size,
    );
    return { contract: { ...c, state: contractStateAt(c, Date.now()) }, entries, checkpoint };
  }

  ledger(from: number, limit: number): LedgerEntry[] {
    return this.store.entries(from, limit);
  }

  close(): void {
    this.store.close();
  }
}
