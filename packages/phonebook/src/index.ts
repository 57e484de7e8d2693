/**
 * @twin/phonebook: the Twin Phonebook, a verifiable ledger of twins, farms and nodes. Every
 * entry is a transaction signed by its subject's key, hash-chained to the previous one and a
 * leaf of an RFC 9162 Merkle tree whose root the server signs in checkpoints. A client never
 * trusts the server: it verifies a twin's record against a bounded proof under a signed
 * checkpoint, and refuses forks and rollbacks. Replicas follow a server and serve the same proofs.
 *
 * Main types: {@link PhonebookClient} (verified lookups, publish/submit), {@link startPhonebook}
 * (server or replica over HTTP), {@link PhonebookService} (the ledger), {@link Replica},
 * {@link PhonebookBackend} / {@link HttpBackend}, the records and transactions in `types.ts`,
 * bounds in `limits.ts`. Errors: {@link PhonebookError}, codes in {@link PhonebookErrorCode}
 * (`not_found`, `name_taken`, `bad_signature`, `unverified`, `unavailable`, `rate_limited`, ...);
 * HTTP answers `{code, message}` with the code's status.
 *
 * @example
 * ```ts
 * const pb = await startPhonebook({ dataDir: './pb', port: 0 });
 * const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
 * await client.publish(identity, ['/ip4/127.0.0.1/tcp/4001']);
 * const alice = await client.twin('alice'); // verified against the signed checkpoint
 * await pb.close();
 * ```
 */
export { HttpBackend, type PhonebookBackend } from './backend.ts';
export { canonical, canonicalBytes } from './canonical.ts';
export {
  CHECKPOINT_GRACE_MS,
  DEFAULT_PHONEBOOK_URL,
  PhonebookClient,
  type PhonebookClientOptions,
  signFarmGrant,
  signTx,
} from './client.ts';
export { type ContractProof, type VerifiedContract, verifyContractProof } from './contract-proof.ts';
export { contractStateAt, FARM_GRANT_CONTEXT, farmGrantBytes } from './contracts.ts';
export { PhonebookError, type PhonebookErrorCode } from './errors.ts';
export { compareCheckpoints, type Equivocation, GOSSIP_INTERVAL_MS, Gossip } from './gossip.ts';
export * from './grid-types.ts';
export { HEARTBEAT_CONTEXT, HeartbeatBoard } from './heartbeats.ts';
export { buildApp } from './http.ts';
export {
  checkName,
  checkTimestamp,
  decodeTx,
  entryLeaf,
  LEAF_CONTEXT,
  LedgerState,
  ROTATE_CONTEXT,
  TX_CONTEXT,
  validName,
} from './ledger.ts';
export * from './limits.ts';
export { EMPTY_ROOT, leafHash, MerkleTree, nodeHash, verifyConsistency, verifyInclusion } from './merkle.ts';
export { FOLLOW_BATCH, Replica } from './replica.ts';
export {
  DEFAULT_PHONEBOOK_PORT,
  type PhonebookServerOptions,
  type RunningPhonebook,
  startPhonebook,
} from './serve.ts';
export { MAX_CACHED_PROOFS, PhonebookService, type SubmitResult } from './service.ts';
export * from './types.ts';
export { verifySignedCheckpoint, verifyTwinProof } from './verify.ts';
