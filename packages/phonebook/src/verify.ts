/** Client-side verification of what a phonebook (or a replica) serves. */
import { verify } from '@twin/identity';
import { canonical, type Json } from './canonical.ts';
import { PhonebookError } from './errors.ts';
import {
  type DecodedTx,
  decodeTx,
  entryHash,
  entryLeaf,
  ROTATE_CONTEXT,
  TX_CONTEXT,
  verifyCheckpoint,
} from './ledger.ts';
import { verifyInclusion } from './merkle.ts';
import {
  type Checkpoint,
  type ProvenEntry,
  type SignedCheckpoint,
  type TwinProof,
  type TwinRecord,
  twinProofSchema,
} from './types.ts';

const b64 = (s: string) => Buffer.from(s, 'base64');
const hex = (s: string) => Buffer.from(s, 'hex');

/**
 * Verifies a twin's record from its bounded proof, with no other input than the proof (and the
 * pinned server key, when there is one):
 * - the checkpoint is signed by the server (by the pinned key, when one is given);
 * - each entry is in the ledger that checkpoint commits to (Merkle inclusion of its hash and
 *   meta), is about this twin, and is signed by the key its meta names (a rotation also by the
 *   new key); every entry after the one that set the twin's keys is signed by those keys;
 * - the latest entry's meta points at exactly the other entries shown, and the record served is
 *   exactly what those entries say: name and id from the registration, keys from the key entry,
 *   addresses from the address entry, nonce and update time from the latest.
 * So a server cannot invent or alter a record under a twin's key, nor mix entries of different
 * times. What one lookup cannot see, and replicas replaying the whole ledger (and checkpoint
 * gossip) must catch: a server that withholds the twin's newer entries (a stale record), or
 * that commits an entry breaking the ledger's rules (e.g. a rotation its old key never signed).
 * Returns the record; throws 'unverified' otherwise.
 */
export function verifyTwinProof(proof: TwinProof, pinnedKey?: string): TwinRecord {
  const fail = (why: string) => new PhonebookError('unverified', `twin record failed verification: ${why}`);
  const shape = twinProofSchema.safeParse(proof);
  if (!shape.success) throw fail(`malformed proof: ${shape.error.issues[0]?.message ?? 'shape'}`);
  const { twin, entries, checkpoint: signed } = proof;
  const c = signed.checkpoint;
  try {
    verifySignedCheckpoint(signed, pinnedKey ?? signed.serverKey);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const byHeight = new Map<number, { e: ProvenEntry; tx: DecodedTx['tx'] }>();
  for (const { e, d } of verifyEntries(entries, c, fail)) {
    if (e.meta.twin !== twin.id || (d.tx.kind !== 'twin.register' && d.tx.twin !== twin.id))
      throw fail(`entry ${e.height} is about another twin`);
    if (
      d.tx.kind === 'twin.rotate' &&
      (!d.proof || !verify(ROTATE_CONTEXT, d.bytes, d.proof, b64(d.tx.signingKey)))
    )
      throw fail(`entry ${e.height}: rotation lacks a valid proof by the new key`);
    byHeight.set(e.height, { e, tx: d.tx });
  }
  const latest = entries[entries.length - 1]!;
  const { registered, keys, addresses } = latest.meta;
  const wanted = new Set([registered, keys, addresses, latest.height]);
  if (wanted.size !== entries.length || ![...wanted].every((h) => byHeight.has(h)))
    throw fail('the entries shown are not the ones the latest entry points at');
  const R = byHeight.get(registered)!;
  const K = byHeight.get(keys)!;
  const A = byHeight.get(addresses)!;
  const L = byHeight.get(latest.height)!;
  if (
    R.tx.kind !== 'twin.register' ||
    R.e.meta.signer !== R.tx.signingKey ||
    R.e.meta.registered !== registered
  )
    throw fail('the registration entry is not a self-signed registration');
  if (K.tx.kind !== 'twin.register' && K.tx.kind !== 'twin.rotate') throw fail('the key entry sets no keys');
  if (K.e.meta.keys !== keys) throw fail('the key entry does not point at itself');
  if (A.tx.kind !== 'twin.register' && A.tx.kind !== 'twin.update')
    throw fail('the address entry sets no addresses');
  if (A.e.meta.addresses !== addresses) throw fail('the address entry does not point at itself');
  if (L.tx.kind === 'twin.delete') throw fail('the twin was deleted');
  for (const { e } of byHeight.values()) {
    if (e.meta.registered !== registered) throw fail(`entry ${e.height} points at another registration`);
    if (e.height > keys && e.meta.signer !== K.tx.signingKey)
      throw fail(`entry ${e.height} is not signed by the twin's current key`);
  }
  const record: TwinRecord = {
    id: latest.meta.twin,
    name: R.tx.name,
    signingKey: K.tx.signingKey,
    encryptionKey: K.tx.encryptionKey,
    addresses: A.tx.addresses,
    relays: A.tx.relays,
    created: R.tx.timestamp,
    updated: L.tx.timestamp,
    nonce: L.tx.nonce,
  };
  if (canonical(record as unknown as Json) !== canonical(twin as unknown as Json))
    throw fail('record does not match its entries');
  return record;
}

/**
 * The per-entry checks every proof shares, entry by entry in the order given: heights strictly
 * increasing and within the checkpoint, the hash of each entry, its Merkle inclusion under the
 * checkpoint's root, its transaction decoded and signed by the key its meta names. Returns each
 * entry with its decoded transaction; throws `fail(why)` at the first that fails.
 */
export function verifyEntries(
  entries: readonly ProvenEntry[],
  c: Checkpoint,
  fail: (why: string) => PhonebookError,
): { e: ProvenEntry; d: DecodedTx }[] {
  const root = hex(c.root);
  const out: { e: ProvenEntry; d: DecodedTx }[] = [];
  let last = 0;
  for (const e of entries) {
    if (e.height <= last) throw fail('entries out of order');
    last = e.height;
    if (e.height > c.height) throw fail(`entry ${e.height} is past the checkpoint (${c.height})`);
    if (entryHash(e) !== e.hash) throw fail(`entry ${e.height} hash mismatch`);
    if (!verifyInclusion(e.height - 1, c.height, entryLeaf(e.hash, e.meta), e.path.map(hex), root))
      throw fail(`entry ${e.height} is not in the ledger of the signed checkpoint`);
    let d: DecodedTx;
    try {
      d = decodeTx(e);
    } catch (err) {
      throw fail(`entry ${e.height}: ${(err as Error).message}`);
    }
    if (!verify(TX_CONTEXT, d.bytes, d.signature, b64(e.meta.signer)))
      throw fail(`entry ${e.height} is not signed by its signer`);
    out.push({ e, d });
  }
  return out;
}

/** Checks a checkpoint's signature against a pinned server key. */
export function verifySignedCheckpoint(c: SignedCheckpoint, pinnedKey: string): void {
  if (c.serverKey !== pinnedKey)
    throw new PhonebookError('unverified', 'checkpoint signed by an unexpected server key');
  if (!verifyCheckpoint(c.checkpoint, c.signature, pinnedKey))
    throw new PhonebookError('unverified', 'checkpoint signature is invalid');
}
