/**
 * bench/phonebook/tfchain: a twin's registration latency on TFChain (terms and conditions, twin
 * with its x25519 key and addresses, name contract: three extrinsics, each waited for in a block)
 * and a name lookup's latency, against TFChain's runtime 144 under chopsticks in this process.
 *
 * NOT a production figure: chopsticks executes the runtime in a wasm interpreter thread and
 * builds a block as soon as an extrinsic arrives; a real TFChain node builds a block every 6 s,
 * so a registration there takes about 3 blocks ≈ 18 s, dominated by block time.
 * Needs the test tooling: `npm run tfchain:install`.
 *
 *   node --conditions=source --import tsx bench/phonebook/tfchain.ts [--json] [--twins N]
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { TfchainPhonebook } from '@twin/tfchain';

const json = process.argv.includes('--json');
const at = process.argv.indexOf('--twins');
const twins = at > 0 ? Number(process.argv[at + 1]) : 5;

const tools = join(import.meta.dirname, '..', '..', 'tools', 'tfchain');
const harness = await import(pathToFileURL(join(tools, 'chain.js')).href).catch(() => {
  console.error('bench/phonebook/tfchain: the test tooling is not installed: run `npm run tfchain:install`');
  process.exit(1);
});
const chain = await harness.startChain();
const pb = await TfchainPhonebook.connect(chain.url.replace(/^ws/, 'tfchain+ws'), {
  polkadot: chain.polkadot,
});
const register: number[] = [];
const lookup: number[] = [];
for (let i = 0; i < twins; i++) {
  const id = TwinIdentity.fromMnemonic(`bench-${i}`, newMnemonic());
  await chain.fund(pb.address(id), 10n ** 10n);
  let t = performance.now();
  await pb.publish(id, [`/ip4/127.0.0.1/tcp/${4000 + i}`]);
  register.push(performance.now() - t);
  t = performance.now();
  await pb.twin(`bench-${i}`);
  lookup.push(performance.now() - t);
}
await pb.close();
await chain.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result = {
  backend: 'tfchain (runtime 144 under chopsticks, Batch blocks; NOT a production figure)',
  twins,
  registerMedianMs: Math.round(median(register)),
  registerMaxMs: Math.round(Math.max(...register)),
  lookupMedianMs: Math.round(median(lookup) * 10) / 10,
};
if (json) console.log(JSON.stringify(result));
else
  console.log(
    `TFChain under chopsticks (not a production figure): registration median ${result.registerMedianMs} ms ` +
      `(max ${result.registerMaxMs}, ${twins} twins, 3 extrinsics each); name lookup median ${result.lookupMedianMs} ms`,
  );
process.exit(0);
