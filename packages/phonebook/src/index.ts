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
