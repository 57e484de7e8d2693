/**
 * The ledger state machine. `decodeTx` turns signed bytes into a checked transaction;
 * `applyTwinTx` is the twin-local rule set (signatures, nonces, keys) shared by the server, the
 * replica and the verifying client; `LedgerState.apply` adds the global rules (unique names and
 * keys, farm and node ownership) and assigns ids in ledger order.
 */
import { createHash } from 'node:crypto';
import { verify } from '@twin/identity';
import { canonical, type Json } from './canonical.ts';
import { PhonebookError } from './errors.ts';
import {
  type Checkpoint,
  type FarmRecord,
  type LedgerEntry,
  NAME_RULE,
  type NodeRecord,
  type SignedTx,
  type TwinRecord,
  type Tx,
  txSchema,
} from './types.ts';

export const TX_CONTEXT = 'twin/phonebook/tx/v1';
export const ROTATE_CONTEXT = 'twin/phonebook/rotate/v1';
export const CHECKPOINT_CONTEXT = 'twin/phonebook/checkpoint/v1';

const b64 = (s: string) => Buffer.from(s, 'base64');

export interface DecodedTx {
  tx: Tx;
  bytes: Buffer;
  signature: Buffer;
  proof: Buffer | undefined;
}

/** Parses a signed transaction: canonical bytes, schema, and well-formed signatures. */
export function decodeTx(signed: SignedTx): DecodedTx {
  const bytes = b64(signed.tx);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new PhonebookError('bad_request', 'transaction is not JSON');
  }
  const parsed = txSchema.safeParse(json);
  if (!parsed.success)
    throw new PhonebookError(
      'bad_request',
      `invalid transaction: ${parsed.error.issues[0]?.message ?? 'schema'}`,
    );
  if (canonical(json as Json) !== bytes.toString('utf8')) {
    throw new PhonebookError('bad_request', 'transaction bytes are not canonical JSON');
  }
  const signature = b64(signed.signature);
  const proof = signed.proof ? b64(signed.proof) : undefined;
  if (signature.length !== 64 || (proof && proof.length !== 64))
    throw new PhonebookError('bad_signature', 'malformed signature');
  return { tx: parsed.data, bytes, signature, proof };
}

export function validName(name: string): boolean {
  return NAME_RULE.test(name);
}

export function checkName(name: string): void {
  if (!validName(name)) {
    throw new PhonebookError(
      'bad_name',
      `invalid name "${name}": use 3-64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit`,
    );
  }
}

/**
 * Applies a twin's own transaction to its record (null before registration). Checks the
 * signature against the twin's current key, the nonce sequence and, for rotation, the new key's
 * proof. Returns the new record (null after deletion). Pure: no global state.
 */
export function applyTwinTx(record: TwinRecord | null, d: DecodedTx, newId: number): TwinRecord | null {
  const { tx } = d;
  if (tx.kind === 'twin.register') {
    if (record) throw new PhonebookError('key_taken', 'this twin is already registered');
    checkName(tx.name);
    if (!verify(TX_CONTEXT, d.bytes, d.signature, b64(tx.signingKey))) {
      throw new PhonebookError('bad_signature', 'registration is not signed by its signing key');
    }
    return {
      id: newId,
      name: tx.name,
      signingKey: tx.signingKey,
      encryptionKey: tx.encryptionKey,
      addresses: tx.addresses,
      relays: tx.relays,
      created: tx.timestamp,
      updated: tx.timestamp,
      nonce: 0,
    };
  }
  if (!record) throw new PhonebookError('not_found', `twin ${tx.twin} does not exist`);
  if (!verify(TX_CONTEXT, d.bytes, d.signature, b64(record.signingKey))) {
    throw new PhonebookError('bad_signature', `transaction is not signed by twin ${record.id}'s key`);
  }
  if (tx.nonce !== record.nonce + 1) {
    throw new PhonebookError(
      'bad_nonce',
      `nonce ${tx.nonce} refused: twin ${record.id} expects ${record.nonce + 1} (replayed or out of order)`,
    );
  }
  const next = { ...record, nonce: tx.nonce, updated: tx.timestamp };
  switch (tx.kind) {
    case 'twin.update':
      return { ...next, addresses: tx.addresses, relays: tx.relays };
    case 'twin.rotate':
      if (!d.proof || !verify(ROTATE_CONTEXT, d.bytes, d.proof, b64(tx.signingKey))) {
        throw new PhonebookError('bad_signature', 'key rotation lacks a valid proof by the new key');
      }
      return { ...next, signingKey: tx.signingKey, encryptionKey: tx.encryptionKey };
    case 'twin.delete':
      return null;
    default:
      // farm and node transactions only advance the twin's nonce
      return next;
  }
}

/** The subject twin of a transaction (null for a registration). */
export function subjectOf(tx: Tx): number | null {
  return tx.kind === 'twin.register' ? null : tx.twin;
}

export function entryHash(e: Omit<LedgerEntry, 'hash'>): string {
  const h = createHash('sha256');
  h.update(`${e.height}\n${e.prev}\n${e.tx}\n${e.signature}\n${e.proof ?? ''}`);
  return h.digest('hex');
}

export function checkpointBytes(c: Checkpoint): Buffer {
  return Buffer.from(canonical({ height: c.height, head: c.head, timestamp: c.timestamp }));
}

export function verifyCheckpoint(c: Checkpoint, signature: string, serverKey: string): boolean {
  return verify(CHECKPOINT_CONTEXT, checkpointBytes(c), b64(signature), b64(serverKey));
}

/** The whole phonebook state, rebuilt by applying entries in order. */
export class LedgerState {
  readonly twins = new Map<number, TwinRecord>();
  readonly twinByName = new Map<string, number>();
  readonly twinByKey = new Map<string, number>();
  readonly farms = new Map<number, FarmRecord>();
  readonly farmByName = new Map<string, number>();
  readonly nodes = new Map<number, NodeRecord>();
  /** Heights of the entries that concern each twin (its proof). */
  readonly twinEntries = new Map<number, number[]>();
  height = 0;
  head = '';
  private nextTwin = 1;
  private nextFarm = 1;
  private nextNode = 1;

  /**
   * Validates `d` against the current state and applies it as entry `height`. Throws
   * PhonebookError and leaves the state untouched when the transaction is refused.
   * Returns the id of the created or affected entity.
   */
  apply(d: DecodedTx, height: number): { twin: number; farm?: number; node?: number } {
    const { tx } = d;
    const subject = subjectOf(tx);
    const current = subject === null ? null : (this.twins.get(subject) ?? null);
    if (tx.kind === 'twin.register') {
      checkName(tx.name);
      if (this.twinByName.has(tx.name.toLowerCase()))
        throw new PhonebookError('name_taken', `name "${tx.name}" is taken`);
      if (this.twinByKey.has(tx.signingKey))
        throw new PhonebookError('key_taken', 'this signing key is already registered');
    }
    if (tx.kind === 'twin.rotate' && this.twinByKey.has(tx.signingKey)) {
      throw new PhonebookError('key_taken', 'the new signing key is already registered');
    }
    // Global checks that need the signer verified first are done after applyTwinTx (below),
    // but must not mutate before everything passed.
    const updated = applyTwinTx(current, d, this.nextTwin);
    let result: { twin: number; farm?: number; node?: number };
    switch (tx.kind) {
      case 'farm.create': {
        this.checkFarmName(tx.name);
        const farm: FarmRecord = {
          id: this.nextFarm++,
          name: tx.name,
          twin: tx.twin,
          created: tx.timestamp,
          updated: tx.timestamp,
        };
        this.farms.set(farm.id, farm);
        this.farmByName.set(farm.name.toLowerCase(), farm.id);
        result = { twin: tx.twin, farm: farm.id };
        break;
      }
      case 'farm.update': {
        const farm = this.ownedFarm(tx.farm, tx.twin);
        this.checkFarmName(tx.name, farm.id);
        this.farmByName.delete(farm.name.toLowerCase());
        this.farms.set(farm.id, { ...farm, name: tx.name, updated: tx.timestamp });
        this.farmByName.set(tx.name.toLowerCase(), farm.id);
        result = { twin: tx.twin, farm: farm.id };
        break;
      }
      case 'node.create': {
        this.ownedFarm(tx.farm, tx.twin);
        const node: NodeRecord = {
          id: this.nextNode++,
          farm: tx.farm,
          twin: tx.twin,
          capacity: tx.capacity,
          location: tx.location,
          addresses: tx.addresses,
          created: tx.timestamp,
          updated: tx.timestamp,
        };
        this.nodes.set(node.id, node);
        result = { twin: tx.twin, node: node.id };
        break;
      }
      case 'node.update': {
        const node = this.nodes.get(tx.node);
        if (!node) throw new PhonebookError('not_found', `node ${tx.node} does not exist`);
        if (node.twin !== tx.twin)
          throw new PhonebookError('forbidden', `node ${tx.node} belongs to twin ${node.twin}`);
        this.nodes.set(node.id, {
          ...node,
          capacity: tx.capacity,
          location: tx.location,
          addresses: tx.addresses,
          updated: tx.timestamp,
        });
        result = { twin: tx.twin, node: node.id };
        break;
      }
      default:
        result = { twin: subject ?? this.nextTwin };
    }
    // Commit the twin change.
    if (tx.kind === 'twin.register') this.nextTwin++;
    this.setTwin(result.twin, current, updated);
    const list = this.twinEntries.get(result.twin);
    if (list) list.push(height);
    else this.twinEntries.set(result.twin, [height]);
    return result;
  }

  /** A valid farm name not held by another farm (case-insensitive); `self` may keep its own. */
  private checkFarmName(name: string, self?: number): void {
    checkName(name);
    const holder = this.farmByName.get(name.toLowerCase());
    if (holder !== undefined && holder !== self)
      throw new PhonebookError('name_taken', `farm name "${name}" is taken`);
  }

  private ownedFarm(id: number, twin: number): FarmRecord {
    const farm = this.farms.get(id);
    if (!farm) throw new PhonebookError('not_found', `farm ${id} does not exist`);
    if (farm.twin !== twin) throw new PhonebookError('forbidden', `farm ${id} belongs to twin ${farm.twin}`);
    return farm;
  }

  private setTwin(id: number, before: TwinRecord | null, after: TwinRecord | null): void {
    if (before) {
      this.twinByName.delete(before.name.toLowerCase());
      this.twinByKey.delete(before.signingKey);
    }
    if (after) {
      this.twins.set(id, after);
      this.twinByName.set(after.name.toLowerCase(), id);
      this.twinByKey.set(after.signingKey, id);
    } else {
      this.twins.delete(id);
    }
  }

  /** Appends an entry after checking its place in the hash chain; returns it with its hash. */
  chain(height: number, signed: SignedTx): LedgerEntry {
    const base = {
      height,
      tx: signed.tx,
      signature: signed.signature,
      prev: this.head,
      ...(signed.proof ? { proof: signed.proof } : {}),
    };
    return { ...base, hash: entryHash(base) };
  }

  /** Verifies `entry` extends this ledger (height, prev, hash), applies it, and advances the head. */
  applyEntry(
    entry: LedgerEntry,
    d: DecodedTx = decodeTx(entry),
  ): { twin: number; farm?: number; node?: number } {
    if (entry.height !== this.height + 1)
      throw new PhonebookError('fork', `expected height ${this.height + 1}, got ${entry.height}`);
    if (entry.prev !== this.head)
      throw new PhonebookError(
        'fork',
        `entry ${entry.height} does not follow head ${this.head.slice(0, 12)}`,
      );
    if (entryHash(entry) !== entry.hash)
      throw new PhonebookError('fork', `entry ${entry.height} has a wrong hash`);
    const result = this.apply(d, entry.height);
    this.height = entry.height;
    this.head = entry.hash;
    return result;
  }
}
