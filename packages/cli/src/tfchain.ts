/**
 * The phonebook commands on TFChain (a `tfchain+ws://HOST:PORT` phonebook): @twin/tfchain, and
 * the @polkadot/api it needs, are imported only here and only then, so no other command pays for them.
 */
import type { TwinIdentity } from '@twin/identity';
import type { TwinRecord } from '@twin/phonebook';

async function withTfchain<T>(
  url: string,
  use: (pb: import('@twin/tfchain').TfchainPhonebook) => Promise<T>,
) {
  const { TfchainPhonebook } = await import('@twin/tfchain');
  const pb = await TfchainPhonebook.connect(url);
  try {
    return await use(pb);
  } finally {
    await pb.close();
  }
}

/** A twin by name or id on TFChain (its name is the name contract it owns). */
export function tfchainLookup(url: string, ref: string): Promise<TwinRecord> {
  return withTfchain(url, (pb) => pb.twin(ref));
}

/** Registers the twin on TFChain (terms, twin, name contract) or updates its addresses. */
export function tfchainRegister(
  url: string,
  identity: TwinIdentity,
  addresses?: string[],
): Promise<TwinRecord> {
  return withTfchain(url, (pb) => pb.publish(identity, addresses));
}
