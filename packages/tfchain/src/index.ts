/**
 * @twin/tfchain: the Twin Phonebook and the grid's node contracts on TFChain, ThreeFold's
 * Substrate chain, as an alternative to the project's own ledger. Selected by a
 * `tfchain+ws://HOST:PORT` phonebook URL and imported dynamically, so nothing else pays for it;
 * it needs @polkadot/api, an optional dependency (see the README).
 *
 * Main types: {@link TfchainPhonebook} (twins, names, addresses, farms, nodes, contracts, contract
 * events), {@link isTfchainUrl}. Errors: {@link TfchainError} (`no_funds`, `terms_not_accepted`,
 * `stale_nonce`, `name_taken`, `unavailable`, `missing_dependency`, ...), one line each, saying what to do.
 *
 * @example
 * ```ts
 * const pb = await TfchainPhonebook.connect('tfchain+ws://127.0.0.1:9944');
 * await pb.publish(identity, ['/ip4/127.0.0.1/tcp/4001']);
 * const bob = await pb.twin('bob');
 * ```
 */
export { CONNECT_TIMEOUT_MS, INCLUSION_TIMEOUT_MS, isTfchainUrl, parseTfchainUrl } from './chain.ts';
export { TfchainError, type TfchainErrorCode } from './errors.ts';
export {
  type ContractEvent,
  TERMS_HASH,
  TERMS_LINK,
  TfchainPhonebook,
  type TfchainPhonebookOptions,
} from './phonebook.ts';
export { decodeRelay, encodeRelay, MAX_RELAY_LENGTH, type RelayRecord, TFCHAIN_NAME_RULE } from './relay.ts';
