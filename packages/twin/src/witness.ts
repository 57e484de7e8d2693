/**
 * Twins compare the phonebook checkpoints they saw, over the bus. A phonebook server that shows
 * this twin one history and its contacts another cannot be caught by either alone; comparing
 * signed checkpoints catches it (see PhonebookClient.compareCheckpoint: the same height must have
 * the same root, a newer one must be proven to extend the older). Each twin answers
 * `phonebook.checkpoint` with the newest checkpoint it already holds (never a fresh fetch: a
 * stranger's request costs it nothing), and every WITNESS_INTERVAL_MS asks one contact, in turn.
 */

import type { TwinBus } from '@twin/network';
import {
  type PhonebookClient,
  PhonebookError,
  signedCheckpointSchema,
  verifySignedCheckpoint,
} from '@twin/phonebook';

export const CHECKPOINT_COMMAND = 'phonebook.checkpoint';
/** How often a running twin compares checkpoints with one of its contacts. */
export const WITNESS_INTERVAL_MS = 5 * 60_000;
/** How long a contact has to answer. */
const WITNESS_TIMEOUT_MS = 10_000;

/** Answers `phonebook.checkpoint` with the newest checkpoint `phonebook` saw (`null` when none). */
export function serveCheckpoint(bus: TwinBus, phonebook: PhonebookClient): void {
  bus.handle(CHECKPOINT_COMMAND, () => Buffer.from(JSON.stringify(phonebook.newestCheckpoint() ?? null)));
}

/**
 * Asks `peer` for its checkpoint and compares it with ours: `agree` (or nothing to compare),
 * `two_histories` (the phonebook showed us and the peer different histories: the returned
 * message says how), or throws what the bus throws (the peer unreachable).
 */
export async function compareWithPeer(
  bus: TwinBus,
  phonebook: PhonebookClient,
  peer: number,
): Promise<{ result: 'agree' } | { result: 'two_histories'; message: string }> {
  const reply = await bus.request(peer, CHECKPOINT_COMMAND, Buffer.alloc(0), {
    timeoutMs: WITNESS_TIMEOUT_MS,
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.toString('utf8'));
  } catch {
    return { result: 'agree' }; // not a checkpoint: nothing to compare
  }
  if (parsed === null) return { result: 'agree' };
  const theirs = signedCheckpointSchema.safeParse(parsed);
  const ours = phonebook.newestCheckpoint();
  // Only a checkpoint the same server signed is evidence; anything else says nothing about it.
  if (!theirs.success || !ours || theirs.data.serverKey !== ours.serverKey) return { result: 'agree' };
  try {
    verifySignedCheckpoint(theirs.data, ours.serverKey);
  } catch {
    return { result: 'agree' };
  }
  try {
    await phonebook.compareCheckpoint(theirs.data);
    return { result: 'agree' };
  } catch (e) {
    if (e instanceof PhonebookError && e.code === 'unverified')
      return { result: 'two_histories', message: e.message };
    throw e;
  }
}
