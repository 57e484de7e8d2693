/**
 * The ledger state machine. `decodeTx` turns signed bytes into a checked transaction;
 * `applyTwinTx` is the twin-local rule set (signatures, nonces, keys) shared by the server, the
 * replica and the verifying client; `LedgerState.apply` adds the global rules (unique names and
 * keys, farm and node ownership) and assigns ids in ledger order.
 */
import { createHash } from 'node:crypto';
import { verify } from '@twin/identity';
import { canonical, type Json } from './canonical.ts';
import { GridState, isGridTx } from './contracts.ts';
import { PhonebookError } from './errors.ts';
import { MAX_FUTURE_SKEW_MS, MAX_TX_BYTES } from './limits.ts';
import { leafHash, MerkleTree } from './merkle.ts';
import {
  type Checkpoint,
  type EntryMeta,
  type FarmRecord,
  type LedgerEntry,
  NAME_RULE,
  type NodeRecord,
  type SignedTx,
  type TwinRecord,
  type Tx,
  txSchema,
} from './types.ts';

/** Signature contexts: a transaction, a key rotation's proof by the new key, a server checkpoint. */
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
  if (bytes.length > MAX_TX_BYTES)
    throw new PhonebookError('too_large', `transaction is ${bytes.length} bytes, over ${MAX_TX_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new PhonebookError('bad_request', 'transaction is not JSON');
  }
  const parsed = txSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new PhonebookError(
      issue?.code === 'too_big' ? 'too_large' : 'bad_request',
      `invalid transaction${where}: ${issue?.message ?? 'schema'}`,
    );
  }
  if (canonical(json as Json) !== bytes.toString('utf8')) {
    throw new PhonebookError('bad_request', 'transaction bytes are not canonical JSON');
  }
  const signature = b64(signed.signature);
  const proof = signed.proof ? b64(signed.proof) : undefined;
  if (signature.length !== 64 || (proof && proof.length !== 64))
    throw new PhonebookError('bad_signature', 'malformed signature');
  return { tx: parsed.data, bytes, signature, proof };
}

/** Refuses a transaction dated more than MAX_FUTURE_SKEW_MS past `now` (checked when submitted, not on replay). */
export function checkTimestamp(tx: Tx, now = Date.now()): void {
  if (tx.timestamp > now + MAX_FUTURE_SKEW_MS)
    throw new PhonebookError(
      'bad_timestamp',
      `timestamp ${tx.timestamp} is ${Math.round((tx.timestamp - now) / 1000)} s in the future (at most ${MAX_FUTURE_SKEW_MS / 1000} s)`,
    );
}

/** True when `name` follows NAME_RULE. */
export function validName(name: string): boolean {
  return NAME_RULE.test(name);
}

/**
 * Refuses a name that does not follow NAME_RULE.
 * @throws PhonebookError `bad_name`
 */
export function checkName(name: string): void {
  if (!validName(name)) {
    throw new PhonebookError(
      'bad_name',
      `invalid name "${name}": use 3-64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, not all digits`,
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

/** The hash chaining an entry to the previous one (hex SHA-256 over its fields). */
export function entryHash(e: Omit<LedgerEntry, 'hash'>): string {
  const h = createHash('sha256');
  h.update(`${e.height}\n${e.prev}\n${e.tx}\n${e.signature}\n${e.proof ?? ''}`);
  return h.digest('hex');
}

/** Domain separation of Merkle leaves. */
export const LEAF_CONTEXT = 'twin/phonebook/leaf/v1';

/** The Merkle leaf of an entry: its hash and its meta, domain-separated. */
export function entryLeaf(hash: string, meta: EntryMeta): Buffer {
  return leafHash(
    Buffer.from(
      `${LEAF_CONTEXT}\n${canonical({ hash, twin: meta.twin, signer: meta.signer, registered: meta.registered, keys: meta.keys, addresses: meta.addresses })}`,
    ),
  );
}

/** The canonical bytes a server signs for a checkpoint. */
export function checkpointBytes(c: Checkpoint): Buffer {
  return Buffer.from(canonical({ height: c.height, head: c.head, root: c.root, timestamp: c.timestamp }));
}

/** True when `signature` is `serverKey`'s signature of checkpoint `c`; never throws. */
export function verifyCheckpoint(c: Checkpoint, signature: string, serverKey: string): boolean {
  return verify(CHECKPOINT_CONTEXT, checkpointBytes(c), b64(signature), b64(serverKey));
}

/** What applying an entry did: the entity it created or touched, and the entry's meta. */
export interface Applied {
  twin: number;
  farm?: number;
  node?: number;
  contract?: number;
  meta: EntryMeta;
}

/** An entry that proves part of a twin's record: its height and its meta. */
export interface ProofPointer {
  height: number;
  meta: EntryMeta;
}

export interface TwinProofPointers {
  registered: ProofPointer;
  keys: ProofPointer;
  addresses: ProofPointer;
  latest: ProofPointer;
}

/** The whole phonebook state, rebuilt by applying entries in order. */
export class LedgerState {
  readonly twins = new Map<number, TwinRecord>();
  readonly twinByName = new Map<string, number>();
  readonly twinByKey = new Map<string, number>();
  /**
   * Every signing key any twin ever held, with that twin's id. A key is bound to one twin for
   * good: once the twin is deleted or the key rotated away, its nonces are spent, so its old
   * (public) transactions can never be replayed to bring it back.
   */
  readonly keyHolder = new Map<string, number>();
  readonly farms = new Map<number, FarmRecord>();
  readonly farmByName = new Map<string, number>();
  readonly nodes = new Map<number, NodeRecord>();
  /** Nodes registered as twins of their own, and contracts (see contracts.ts). */
  readonly grid = new GridState(this.nodes, this.farms, this.twins);
  /**
   * Per live twin, the entries that prove its record (registration, keys, addresses, latest):
   * four heights and metas however long its history.
   */
  readonly proofs = new Map<number, TwinProofPointers>();
  /** The Merkle tree over every entry's leaf. */
  readonly tree = new MerkleTree();
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
  apply(d: DecodedTx, height: number): Applied {
    const { tx } = d;
    const subject = subjectOf(tx);
    const current = subject === null ? null : (this.twins.get(subject) ?? null);
    if (tx.kind === 'twin.register') {
      checkName(tx.name);
      if (this.twinByName.has(tx.name.toLowerCase()))
        throw new PhonebookError('name_taken', `name "${tx.name}" is taken`);
      this.checkFreshKey(tx.signingKey, 'this signing key');
    }
    if (tx.kind === 'twin.rotate') this.checkFreshKey(tx.signingKey, 'the new signing key');
    // Global checks that need the signer verified first are done after applyTwinTx (below),
    // but must not mutate before everything passed.
    const updated = applyTwinTx(current, d, this.nextTwin);
    let result: { twin: number; farm?: number; node?: number; contract?: number };
    // node.register and contracts: their rules live in contracts.ts (validated before any change)
    const grid = isGridTx(tx) ? { twin: tx.twin, ...this.grid.apply(tx, height, this.nextNode) } : null;
    if (tx.kind === 'node.register') this.nextNode++;
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
        result = grid ?? { twin: subject ?? this.nextTwin };
    }
    // Commit the twin change.
    if (tx.kind === 'twin.register') this.nextTwin++;
    this.setTwin(result.twin, current, updated);
    const before = this.proofs.get(result.twin);
    const meta: EntryMeta = {
      twin: result.twin,
      signer: tx.kind === 'twin.register' ? tx.signingKey : current!.signingKey,
      registered: before?.registered.height ?? height,
      keys: tx.kind === 'twin.rotate' || !before ? height : before.keys.height,
      addresses: tx.kind === 'twin.update' || !before ? height : before.addresses.height,
    };
    const here = { height, meta };
    if (!updated) this.proofs.delete(result.twin);
    else
      this.proofs.set(result.twin, {
        registered: before?.registered ?? here,
        keys: meta.keys === height ? here : before!.keys,
        addresses: meta.addresses === height ? here : before!.addresses,
        latest: here,
      });
    if (result.contract !== undefined && isGridTx(tx)) this.grid.point(result.contract, height, meta, tx);
    return { ...result, meta };
  }

  /** A key that no twin holds now (key_taken) nor held before (key_retired). */
  private checkFreshKey(key: string, what: string): void {
    if (this.twinByKey.has(key)) throw new PhonebookError('key_taken', `${what} is already registered`);
    const holder = this.keyHolder.get(key);
    if (holder !== undefined)
      throw new PhonebookError(
        'key_retired',
        `${what} belonged to twin ${holder}, which was deleted or rotated it away: a key is never registered twice`,
      );
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
      this.keyHolder.set(after.signingKey, id);
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
  applyEntry(entry: LedgerEntry, d: DecodedTx = decodeTx(entry)): Applied {
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
    this.tree.append(entryLeaf(entry.hash, result.meta));
    return result;
  }
}
