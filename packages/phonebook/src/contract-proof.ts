/**
 * Contract proofs: a contract's record with the (at most four) ledger entries that make it —
 * its creation, the entry that set its current hash, its acceptance, its latest — each with its
 * Merkle inclusion path under one signed checkpoint. `verifyContractProof` rebuilds the record
 * from those signed entries alone, so a server cannot invent a contract, change its hash, node or
 * owner, or claim a node accepted it. Like twin proofs, one lookup cannot see entries a server
 * withholds (a stale view); followers of the ledger catch that.
 */
import { z } from 'zod';
import { canonical, type Json } from './canonical.ts';
import { contractStateAt } from './contracts.ts';
import { PhonebookError } from './errors.ts';
import { type ContractRecord, MAX_CONTRACT_PROOF_ENTRIES } from './grid-types.ts';
import { DEFAULT_ACCEPT_WITHIN_MS } from './limits.ts';
import {
  type ProvenEntry,
  provenEntrySchema,
  type SignedCheckpoint,
  signedCheckpointSchema,
  type Tx,
} from './types.ts';
import { verifyEntries, verifySignedCheckpoint } from './verify.ts';

type ContractTx = Extract<Tx, { kind: `contract.${string}` }>;

export interface ContractProof {
  contract: ContractRecord;
  entries: ProvenEntry[];
  checkpoint: SignedCheckpoint;
}

/** What a verified proof says beyond the record: which keys signed what. */
export interface VerifiedContract {
  contract: ContractRecord;
  /** The key that signed the creation, and the one that signed the entry setting the current hash. */
  creatorKey: string;
  hashKey: string;
  /** The key that signed the acceptance (the node's twin), when accepted. */
  acceptorKey?: string;
  /** The ledger height of the checkpoint it was proven under. */
  height: number;
}

const proofShape = z.object({
  contract: z.object({ id: z.number().int().positive() }).passthrough(),
  entries: z.array(provenEntrySchema).min(1).max(MAX_CONTRACT_PROOF_ENTRIES),
  checkpoint: signedCheckpointSchema,
});

/** Verifies a contract proof; `now` decides whether a pending contract is expired. Throws 'unverified'. */
export function verifyContractProof(
  proof: ContractProof,
  pinnedKey?: string,
  now = Date.now(),
): VerifiedContract {
  const fail = (why: string) => new PhonebookError('unverified', `contract failed verification: ${why}`);
  const shape = proofShape.safeParse(proof);
  if (!shape.success) throw fail(`malformed proof: ${shape.error.issues[0]?.message ?? 'shape'}`);
  const c = proof.checkpoint.checkpoint;
  try {
    verifySignedCheckpoint(proof.checkpoint, pinnedKey ?? proof.checkpoint.serverKey);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const id = proof.contract.id;
  const txs: { e: ProvenEntry; tx: ContractTx }[] = [];
  for (const { e, d } of verifyEntries(proof.entries, c, fail)) {
    const tx = d.tx;
    if (!tx.kind.startsWith('contract.') || !('twin' in tx) || e.meta.twin !== tx.twin)
      throw fail(`entry ${e.height} is not a contract transaction of its signer`);
    const about = tx.kind === 'contract.create' ? e.height : (tx as { contract: number }).contract;
    if (about !== id) throw fail(`entry ${e.height} is about another contract`);
    txs.push({ e, tx: tx as ContractTx });
  }
  const create = txs[0]!;
  if (create.tx.kind !== 'contract.create' || create.e.height !== id)
    throw fail('the first entry is not its creation');
  const ct = create.tx;
  const latest = txs[txs.length - 1]!;
  const hashSetters = txs.filter((t) => t.tx.kind === 'contract.create' || t.tx.kind === 'contract.update');
  const accepts = txs.filter((t) => t.tx.kind === 'contract.accept');
  const cancels = txs.filter((t) => t.tx.kind === 'contract.cancel');
  if (accepts.length > 1 || cancels.length > 1 || hashSetters.length > 2)
    throw fail('too many entries of one kind');
  if (cancels.length === 1 && cancels[0] !== latest) throw fail('an entry follows the cancellation');
  const hashEntry = hashSetters[hashSetters.length - 1]!;
  const hash = (hashEntry.tx as { deploymentHash: string }).deploymentHash;
  const accept = accepts[0];
  const owner = ct.twin;
  for (const t of [...hashSetters.slice(1)])
    if (t.tx.twin !== owner) throw fail('an update not by the owner');
  const record: ContractRecord = {
    id,
    twin: owner,
    node: ct.node,
    deploymentHash: hash,
    state: cancels.length ? 'cancelled' : accept ? 'active' : 'pending',
    created: ct.timestamp,
    acceptBy: ct.timestamp + (ct.acceptWithin ?? DEFAULT_ACCEPT_WITHIN_MS),
    ...(accept ? { accepted: accept.tx.timestamp } : {}),
    ...(cancels[0]
      ? { cancelledBy: cancels[0].tx.twin === owner ? ('twin' as const) : ('node' as const) }
      : {}),
    updated: latest.tx.timestamp,
  };
  const served = {
    ...proof.contract,
    state: proof.contract.state === 'expired' ? 'pending' : proof.contract.state,
  };
  if (canonical(record as unknown as Json) !== canonical(served as unknown as Json))
    throw fail('record does not match its entries');
  return {
    contract: { ...record, state: contractStateAt(record, now) },
    creatorKey: create.e.meta.signer,
    hashKey: hashEntry.e.meta.signer,
    ...(accept ? { acceptorKey: accept.e.meta.signer } : {}),
    height: c.height,
  };
}
