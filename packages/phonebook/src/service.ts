/**
 * The phonebook service: the ledger state in memory, the entries in SQLite, and a server key
 * that signs checkpoints. Both the authoritative server and a replica are a PhonebookService;
 * only the server accepts transactions.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initIdentity, loadIdentity, type TwinIdentity } from '@twin/identity';
import { PhonebookError } from './errors.ts';
import { CHECKPOINT_CONTEXT, checkpointBytes, decodeTx, LedgerState } from './ledger.ts';
import { LedgerStore } from './store.ts';
import type {
  FarmRecord,
  LedgerEntry,
  NodeRecord,
  SignedCheckpoint,
  SignedTx,
  TwinProof,
  TwinRecord,
} from './types.ts';

export interface SubmitResult {
  height: number;
  hash: string;
  twin: number;
  farm?: number;
  node?: number;
}

export class PhonebookService {
  readonly state = new LedgerState();
  readonly store: LedgerStore;
  readonly key: TwinIdentity;
  private checkpointCache: SignedCheckpoint | null = null;
  private readonly proofCache = new Map<number, string>();

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
  submit(signed: SignedTx): SubmitResult {
    const decoded = decodeTx(signed);
    const height = this.state.height + 1;
    const entry = this.state.chain(height, signed);
    // applyEntry validates everything before it changes the state; store only what it accepted.
    const ids = this.state.applyEntry(entry, decoded);
    try {
      this.store.append(entry);
    } catch (e) {
      throw new PhonebookError(
        'unavailable',
        `ledger write failed: ${(e as Error).message}; restart the phonebook`,
      );
    }
    this.invalidate(ids.twin);
    return { height, hash: entry.hash, ...ids };
  }

  /** Applies entries pulled from upstream (replica); each is fully verified. */
  follow(entries: LedgerEntry[]): void {
    for (const e of entries) {
      const ids = this.state.applyEntry(e);
      this.store.append(e);
      this.invalidate(ids.twin);
    }
  }

  private invalidate(twin: number): void {
    this.checkpointCache = null;
    this.proofCache.delete(twin);
  }

  checkpoint(): SignedCheckpoint {
    if (!this.checkpointCache) {
      const checkpoint = { height: this.state.height, head: this.state.head, timestamp: Date.now() };
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

  /** The twin's record and the entries proving it, serialised once and cached until it changes. */
  twinProofJson(id: number): string | undefined {
    let json = this.proofCache.get(id);
    if (json === undefined) {
      const twin = this.state.twins.get(id);
      if (!twin) return undefined;
      const heights = this.state.twinEntries.get(id) ?? [];
      const entries = heights.map((h) => this.store.entries(h, 1)[0]!);
      const proof: TwinProof = { twin, entries };
      json = JSON.stringify(proof);
      this.proofCache.set(id, json);
    }
    return json;
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

  ledger(from: number, limit: number): LedgerEntry[] {
    return this.store.entries(from, limit);
  }

  close(): void {
    this.store.close();
  }
}
