/**
 * PhonebookClient: verified lookups with a cache, and transaction helpers that sign with a
 * twin's identity. Every record it returns was replayed from its signed ledger entries; with a
 * pinned server key, checkpoints (also those relayed by replicas) are verified too.
 */
import type { TwinIdentity } from '@twin/identity';
import { HttpBackend, type PhonebookBackend } from './backend.ts';
import { canonicalBytes, type Json } from './canonical.ts';
import { PhonebookError } from './errors.ts';
import { ROTATE_CONTEXT, TX_CONTEXT } from './ledger.ts';
import type { SubmitResult } from './service.ts';
import type { SignedCheckpoint, SignedTx, TwinRecord, Tx } from './types.ts';
import { verifySignedCheckpoint, verifyTwinProof } from './verify.ts';

export interface PhonebookClientOptions {
  url?: string;
  backend?: PhonebookBackend;
  /** Base64 ed25519 key of the phonebook server whose checkpoints to trust. */
  serverKey?: string;
  cacheTtlMs?: number;
}

export const DEFAULT_PHONEBOOK_URL = 'http://127.0.0.1:8730';

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

export function signTx(identity: TwinIdentity, tx: Tx): SignedTx {
  const bytes = canonicalBytes(tx as unknown as Json);
  return { tx: bytes.toString('base64'), signature: b64(identity.sign(TX_CONTEXT, bytes)) };
}

export class PhonebookClient {
  readonly backend: PhonebookBackend;
  private readonly cache = new Map<string, { record: TwinRecord; until: number }>();
  private readonly ttl: number;

  constructor(readonly options: PhonebookClientOptions = {}) {
    this.backend =
      options.backend ?? new HttpBackend(options.url ?? process.env.TWIN_PHONEBOOK ?? DEFAULT_PHONEBOOK_URL);
    this.ttl = options.cacheTtlMs ?? 10_000;
  }

  /** A verified twin record by name or id; throws PhonebookError('not_found') when absent. */
  async twin(ref: string | number, fresh = false): Promise<TwinRecord> {
    const key = String(ref).toLowerCase();
    const hit = this.cache.get(key);
    if (hit && !fresh && hit.until > Date.now()) return hit.record;
    const proof = await this.backend.twinProof(ref);
    if (!proof) throw new PhonebookError('not_found', `no twin ${ref} in the phonebook`);
    const record = await this.verified(proof);
    const expected = /^\d+$/.test(key) ? record.id === Number(key) : record.name.toLowerCase() === key;
    if (!expected)
      throw new PhonebookError('unverified', `asked for twin ${ref}, got ${record.name} (${record.id})`);
    this.remember(record);
    return record;
  }

  async twinByKey(signingKey: Uint8Array | string): Promise<TwinRecord | null> {
    const key = typeof signingKey === 'string' ? signingKey : b64(signingKey);
    const proof = await this.backend.twinProofByKey(key);
    if (!proof) return null;
    const record = await this.verified(proof);
    if (record.signingKey !== key)
      throw new PhonebookError('unverified', 'record does not carry the requested key');
    this.remember(record);
    return record;
  }

  private async verified(proof: Parameters<typeof verifyTwinProof>[0]): Promise<TwinRecord> {
    const record = verifyTwinProof(proof);
    if (this.options.serverKey) {
      const checkpoint = await this.checkpoint();
      const newest = proof.entries[proof.entries.length - 1]!.height;
      if (newest > checkpoint.checkpoint.height) {
        const again = await this.checkpoint();
        if (newest > again.checkpoint.height)
          throw new PhonebookError('unverified', 'record is newer than the signed checkpoint');
      }
    }
    return record;
  }

  private remember(record: TwinRecord): void {
    const until = Date.now() + this.ttl;
    this.cache.set(record.name.toLowerCase(), { record, until });
    this.cache.set(String(record.id), { record, until });
  }

  forget(ref: string | number): void {
    this.cache.delete(String(ref).toLowerCase());
  }

  /** The phonebook's signed checkpoint, verified against the pinned server key when one is set. */
  async checkpoint(): Promise<SignedCheckpoint> {
    const c = await this.backend.checkpoint();
    if (this.options.serverKey) verifySignedCheckpoint(c, this.options.serverKey);
    return c;
  }

  submit(signed: SignedTx): Promise<SubmitResult> {
    return this.backend.submit(signed);
  }

  /**
   * Registers `identity`, or updates its addresses when it is already registered (found by its
   * signing key). Returns the verified record.
   */
  async publish(
    identity: TwinIdentity,
    addresses: string[] = [],
    relays: string[] = [],
  ): Promise<TwinRecord> {
    const existing = await this.twinByKey(identity.signingPublicKey);
    const timestamp = Date.now();
    if (!existing) {
      await this.submit(
        signTx(identity, {
          kind: 'twin.register',
          name: identity.name,
          signingKey: b64(identity.signingPublicKey),
          encryptionKey: b64(identity.encryptionPublicKey),
          addresses,
          relays,
          nonce: 0,
          timestamp,
        }),
      );
    } else if (existing.addresses.join() !== addresses.join() || existing.relays.join() !== relays.join()) {
      await this.submit(
        signTx(identity, {
          kind: 'twin.update',
          twin: existing.id,
          nonce: existing.nonce + 1,
          timestamp,
          addresses,
          relays,
        }),
      );
    } else {
      return existing;
    }
    return (await this.twinByKey(identity.signingPublicKey))!;
  }

  /** Rotates a twin's keys: signed by the old key, with a proof of possession by the new one. */
  async rotate(current: TwinIdentity, next: TwinIdentity): Promise<TwinRecord> {
    const existing = await this.twinByKey(current.signingPublicKey);
    if (!existing) throw new PhonebookError('not_found', 'the current key is not registered');
    const tx: Tx = {
      kind: 'twin.rotate',
      twin: existing.id,
      nonce: existing.nonce + 1,
      timestamp: Date.now(),
      signingKey: b64(next.signingPublicKey),
      encryptionKey: b64(next.encryptionPublicKey),
    };
    const signed = signTx(current, tx);
    signed.proof = b64(next.sign(ROTATE_CONTEXT, Buffer.from(signed.tx, 'base64')));
    await this.submit(signed);
    this.forget(existing.id);
    this.forget(existing.name);
    return this.twin(existing.id, true);
  }
}
