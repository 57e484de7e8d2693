/** Client-side verification of what a phonebook (or a replica) serves. */
import { canonical, type Json } from './canonical.ts';
import { PhonebookError } from './errors.ts';
import { applyTwinTx, decodeTx, entryHash, verifyCheckpoint } from './ledger.ts';
import type { SignedCheckpoint, TwinProof, TwinRecord } from './types.ts';

/**
 * Replays the entries that concern a twin — each entry's hash, its signature by the key the
 * twin had at that point, the nonce sequence, key rotations — and checks that they produce
 * exactly the record served. Returns the record; throws 'unverified' otherwise.
 */
export function verifyTwinProof(proof: TwinProof): TwinRecord {
  const fail = (why: string) => new PhonebookError('unverified', `twin record failed verification: ${why}`);
  let record: TwinRecord | null = null;
  let last = 0;
  for (const e of proof.entries) {
    if (e.height <= last) throw fail('entries out of order');
    last = e.height;
    if (entryHash(e) !== e.hash) throw fail(`entry ${e.height} hash mismatch`);
    let d: ReturnType<typeof decodeTx>;
    try {
      d = decodeTx(e);
    } catch (err) {
      throw fail(`entry ${e.height}: ${(err as Error).message}`);
    }
    if (record === null && d.tx.kind !== 'twin.register') throw fail('first entry is not a registration');
    if (record !== null && (d.tx.kind === 'twin.register' || d.tx.twin !== record.id))
      throw fail(`entry ${e.height} is about another twin`);
    try {
      record = applyTwinTx(record, d, proof.twin.id);
    } catch (err) {
      throw fail(`entry ${e.height}: ${(err as Error).message}`);
    }
    if (record === null) throw fail('the twin was deleted');
  }
  if (!record) throw fail('no entries');
  if (canonical(record as unknown as Json) !== canonical(proof.twin as unknown as Json))
    throw fail('record does not match its entries');
  return record;
}

/** Checks a checkpoint's signature against a pinned server key. */
export function verifySignedCheckpoint(c: SignedCheckpoint, pinnedKey: string): void {
  if (c.serverKey !== pinnedKey)
    throw new PhonebookError('unverified', 'checkpoint signed by an unexpected server key');
  if (!verifyCheckpoint(c.checkpoint, c.signature, pinnedKey))
    throw new PhonebookError('unverified', 'checkpoint signature is invalid');
}
