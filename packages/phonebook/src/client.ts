/**
 * PhonebookClient: verified lookups with a cache, and transaction helpers that sign with a
 * twin's identity. Every record it returns was checked against its bounded proof (the twin's
 * signed entries, included in the ledger under a signed checkpoint; see verifyTwinProof); with a
 * pinned server key, that checkpoint (also when relayed by a replica) must be signed by it.
 */
import type { TwinIdentity } from '@twin/identity';
import { HttpBackend, type PhonebookBackend } from './backend.ts';
import { canonicalBytes, type Json } from './canonical.ts';
import { type VerifiedContract, verifyContractProof } from './contract-proof.ts';
import { FARM_GRANT_CONTEXT, farmGrantBytes } from './contracts.ts';
import { PhonebookError } from './errors.ts';
import type { NodeStatus } from './grid-types.ts';
import { HEARTBEAT_CONTEXT } from './heartbeats.ts';
import { ROTATE_CONTEXT, TX_CONTEXT } from './ledger.ts';
import { verifyConsistency } from './merkle.ts';
import type { SubmitResult } from './service.ts';
import type { Checkpoint, SignedCheckpoint, SignedTx, TwinProof, TwinRecord, Tx } from './types.ts';
import { verifySignedCheckpoint, verifyTwinProof } from './verify.ts';

export interface PhonebookClientOptions {
  /** The phonebook server (default DEFAULT_PHONEBOOK_URL; the CLI reads TWIN_PHONEBOOK, the library never does). */
  url?: string;
  backend?: PhonebookBackend;
  /** Base64 ed25519 key of the phonebook server whose checkpoints to trust. */
  serverKey?: string;
  cacheTtlMs?: number;
  /**
   * How far behind the newest checkpoint this client saw an older one may be (by the checkpoints'
   * own signed timestamps) and still be accepted, when it is a prefix of the newest (lookups in
   * flight while the ledger grows). Default CHECKPOINT_GRACE_MS.
   */
  checkpointGraceMs?: number;
}

/** See PhonebookClientOptions.checkpointGraceMs. */
export const CHECKPOINT_GRACE_MS = 60_000;
/** Server keys whose newest checkpoint a client remembers (an unpinned server could send many). */
export const MAX_WITNESSED_SERVERS = 16;

/** The phonebook a client asks when given no url. */
export const DEFAULT_PHONEBOOK_URL = 'http://127.0.0.1:8730';

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

/** `tx` as canonical bytes signed by `identity` (TX_CONTEXT), ready to submit. */
export function signTx(identity: TwinIdentity, tx: Tx): SignedTx {
  const bytes = canonicalBytes(tx as unknown as Json);
  return { tx: bytes.toString('base64'), signature: b64(identity.sign(TX_CONTEXT, bytes)) };
}

/**
 * The verifying client (see the module doc): lookups return only records proven under a signed
 * checkpoint; publish/submit sign and send transactions.
 * Throws PhonebookError: `not_found`, `unverified` (a proof or checkpoint that fails, a fork or
 * rollback), `unavailable`, and the server's refusals (`name_taken`, `bad_nonce`, `rate_limited`, ...).
 * @example
 * const client = new PhonebookClient({ url: 'http://127.0.0.1:8730', serverKey });
 * await client.publish(identity, ['/ip4/127.0.0.1/tcp/4001']);
 * const bob = await client.twin('bob'); // verified
 */
export class PhonebookClient {
  readonly backend: PhonebookBackend;
  private readonly cache = new Map<string, { record: TwinRecord; until: number }>();
  private readonly ttl: number;
  /** The newest checkpoint seen, per server key: every later one must extend it. */
  private readonly newest = new Map<string, Checkpoint>();
  /** The same, as signed (what this client can show others to compare). */
  private readonly newestSigned = new Map<string, SignedCheckpoint>();
  /** Per signing key, the last write submitAs queued (settled when it is done). */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly options: PhonebookClientOptions = {}) {
    this.backend = options.backend ?? new HttpBackend(options.url ?? DEFAULT_PHONEBOOK_URL);
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

  /** The record its proof proves, under a checkpoint signed by the pinned server key when one is set. */
  private async verified(proof: TwinProof): Promise<TwinRecord> {
    const record = verifyTwinProof(proof, this.options.serverKey);
    await this.witness(proof.checkpoint);
    return record;
  }

  /**
   * Keeps the newest checkpoint seen from each server key and refuses a view that does not agree
   * with it: a newer checkpoint must extend it (RFC 9162 consistency proof from the backend), the
   * same height must have the same root, and an older one is refused unless it is a prefix of it
   * signed within the grace period. So a server (or a replica) that shows this client two
   * histories, or rolls it back, is caught.
   */
  private async witness(signed: SignedCheckpoint): Promise<void> {
    const c = signed.checkpoint;
    const seen = this.newest.get(signed.serverKey);
    const fail = (why: string) => new PhonebookError('unverified', `checkpoint ${c.height} refused: ${why}`);
    if (!seen || seen.height === 0) {
      if (!seen && this.newest.size >= MAX_WITNESSED_SERVERS) {
        const oldest = this.newest.keys().next().value!;
        this.newest.delete(oldest);
        this.newestSigned.delete(oldest);
      }
      this.newest.set(signed.serverKey, c);
      this.newestSigned.set(signed.serverKey, signed);
      return;
    }
    if (c.height === seen.height) {
      if (c.root !== seen.root)
        throw fail(`a different history at the same height (${seen.root.slice(0, 12)}…)`);
      return;
    }
    const [older, newer] = c.height < seen.height ? [c, seen] : [seen, c];
    if (
      c.height < seen.height &&
      seen.timestamp - c.timestamp > (this.options.checkpointGraceMs ?? CHECKPOINT_GRACE_MS)
    )
      throw fail(`older than checkpoint ${seen.height}, already seen (a rolled-back view)`);
    if (older.height > 0 && this.backend.consistency) {
      let proof: string[];
      try {
        proof = await this.backend.consistency(older.height, newer.height);
      } catch (e) {
        throw fail(`no consistency proof from ${older.height} to ${newer.height}: ${(e as Error).message}`);
      }
      const hex = (h: string) => Buffer.from(h, 'hex');
      if (!verifyConsistency(older.height, newer.height, hex(older.root), hex(newer.root), proof.map(hex)))
        throw fail(`checkpoint ${newer.height} does not extend checkpoint ${older.height}: two histories`);
    }
    const latest = this.newest.get(signed.serverKey);
    if (!latest || c.height > latest.height) {
      this.newest.set(signed.serverKey, c);
      this.newestSigned.set(signed.serverKey, signed);
    }
  }

  private remember(record: TwinRecord): void {
    const until = Date.now() + this.ttl;
    this.cache.set(record.name.toLowerCase(), { record, until });
    this.cache.set(String(record.id), { record, until });
  }

  forget(ref: string | number): void {
    this.cache.delete(String(ref).toLowerCase());
  }

  /** The newest signed checkpoint this client saw (of the pinned server key when one is set). */
  newestCheckpoint(): SignedCheckpoint | undefined {
    const key = this.options.serverKey;
    return key ? this.newestSigned.get(key) : [...this.newestSigned.values()].at(-1);
  }

  /**
   * Compares a checkpoint another party saw (a peer twin, a replica) with the newest this client
   * saw: verified against the pinned key, then held to the same rules as its own views (see
   * witness). Throws PhonebookError `unverified` when the two prove two histories.
   */
  async compareCheckpoint(signed: SignedCheckpoint): Promise<void> {
    verifySignedCheckpoint(signed, this.options.serverKey ?? signed.serverKey);
    await this.witness(signed);
  }

  /** The phonebook's signed checkpoint, verified against the pinned server key when one is set. */
  async checkpoint(): Promise<SignedCheckpoint> {
    const c = await this.backend.checkpoint();
    verifySignedCheckpoint(c, this.options.serverKey ?? c.serverKey);
    await this.witness(c);
    return c;
  }

  submit(signed: SignedTx): Promise<SubmitResult> {
    return this.backend.submit(signed);
  }

  /**
   * Registers `identity`, or updates its addresses when it is already registered (found by its
   * signing key). Addresses or relays left undefined keep the twin's current ones (none at
   * registration). Returns the verified record.
   */
  async publish(identity: TwinIdentity, addresses?: string[], relays?: string[]): Promise<TwinRecord> {
    const existing = await this.twinByKey(identity.signingPublicKey);
    const timestamp = Date.now();
    if (!existing) {
      await this.submit(
        signTx(identity, {
          kind: 'twin.register',
          name: identity.name,
          signingKey: b64(identity.signingPublicKey),
          encryptionKey: b64(identity.encryptionPublicKey),
          addresses: addresses ?? [],
          relays: relays ?? [],
          nonce: 0,
          timestamp,
        }),
      );
      return (await this.twinByKey(identity.signingPublicKey))!;
    }
    const next = { addresses: addresses ?? existing.addresses, relays: relays ?? existing.relays };
    if (existing.addresses.join() === next.addresses.join() && existing.relays.join() === next.relays.join())
      return existing;
    await this.submit(
      signTx(identity, {
        kind: 'twin.update',
        twin: existing.id,
        nonce: existing.nonce + 1,
        timestamp,
        ...next,
      }),
    );
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

  /**
   * A contract verified from its proof (under the pinned server key when set); null when there is
   * no such contract. The caller checks the signer keys it returns against the twins it expects.
   */
  async contract(id: number): Promise<VerifiedContract | null> {
    const proof = await this.backend.contractProof(id);
    if (!proof) return null;
    const verified = verifyContractProof(proof, this.options.serverKey);
    if (verified.contract.id !== id)
      throw new PhonebookError('unverified', `asked for contract ${id}, got another`);
    await this.witness(proof.checkpoint);
    return verified;
  }

  /** Signs and sends a node's heartbeat (the node's twin identity signs it). */
  heartbeat(
    identity: TwinIdentity,
    node: number,
    interval: number,
    used?: NodeStatus['used'],
    now = Date.now(),
  ): Promise<NodeStatus> {
    const bytes = canonicalBytes({ node, timestamp: now, interval, ...(used ? { used } : {}) });
    return this.backend.heartbeat({
      heartbeat: bytes.toString('base64'),
      signature: b64(identity.sign(HEARTBEAT_CONTEXT, bytes)),
    });
  }

  /**
   * Submits a transaction of `identity`'s twin built by `make` from its next nonce and the time,
   * re-reading the twin's nonce first (fresh): the usual path for farm, node and contract writes.
   * The writes of one twin through one client go one at a time, each after the previous one
   * landed (or failed), so concurrent callers never take the same nonce.
   * @throws PhonebookError `not_found` when the twin is not registered, and the server's refusals
   */
  submitAs(
    identity: TwinIdentity,
    make: (twin: TwinRecord, nonce: number, timestamp: number) => Tx,
  ): Promise<SubmitResult> {
    const key = b64(identity.signingPublicKey);
    const write = async () => {
      const me = await this.twinByKey(key);
      if (!me) throw new PhonebookError('not_found', `twin ${identity.name} is not registered`);
      return this.submit(signTx(identity, make(me, me.nonce + 1, Date.now())));
    };
    const next = (this.writes.get(key) ?? Promise.resolve()).then(write, write);
    const settled = next.then(
      () => {},
      () => {},
    );
    this.writes.set(key, settled);
    void settled.then(() => {
      if (this.writes.get(key) === settled) this.writes.delete(key);
    });
    return next;
  }
}

/** A farm owner's grant admitting the node whose twin signs with `nodeKey` (base64) to `farm`. */
export function signFarmGrant(owner: TwinIdentity, farm: number, nodeKey: string): string {
  return b64(owner.sign(FARM_GRANT_CONTEXT, farmGrantBytes(farm, nodeKey)));
}
