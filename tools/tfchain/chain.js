/**
 * A local TFChain for tests: TFChain's runtime under chopsticks, in this process, on a free
 * loopback port, from the genesis that genesis.js builds (cached by the runtime's and the
 * builder's hashes). Blocks are built as soon as an extrinsic arrives (Instant mode).
 *
 * `reset()` returns the chain to the block it started at (`dev_setHead`), in milliseconds, so tests
 * share one chain without sharing state. `polkadot` is this tooling's own @polkadot/api module: the
 * user's install does not carry it.
 *
 * @example
 * const chain = await startChain();
 * // ... ws://127.0.0.1:PORT at chain.url
 * await chain.reset();
 * await chain.close();
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
process.env.LOG_LEVEL ??= 'error';

/** The genesis spec, built once per runtime and builder version and kept under .cache/. */
export async function cachedGenesis() {
  const { buildGenesis, RUNTIME_SHA256 } = await import('./genesis.js');
  const builder = createHash('sha256')
    .update(readFileSync(join(here, 'genesis.js')))
    .digest('hex');
  const file = join(here, '.cache', `genesis-${RUNTIME_SHA256.slice(0, 12)}-${builder.slice(0, 12)}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    const genesis = await buildGenesis();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(genesis));
    renameSync(`${file}.tmp`, file);
    return genesis;
  }
}

export async function startChain() {
  const genesis = await cachedGenesis();
  const { setupWithServer } = await import('@acala-network/chopsticks');
  const polkadot = await import('@polkadot/api');
  const ctx = await setupWithServer({
    genesis,
    port: 0,
    host: '127.0.0.1',
    'build-block-mode': 'Batch',
    'runtime-log-level': 0,
  });
  const url = `ws://${ctx.addr}`;
  // Block 1, built empty now, is the state every test starts from.
  await ctx.chain.newBlock();
  const start = ctx.chain.head.hash;
  return {
    url,
    polkadot,
    /** The chopsticks context (its `chain` is the in-process blockchain). */
    ctx,
    /** Back to the start block: every later block is dropped. */
    async reset() {
      await ctx.chain.setHead(await ctx.chain.getBlock(start));
    },
    /** Sets `free` TFT (7 decimals, as a bigint) on `address` directly in storage. */
    async fund(address, free) {
      const { setStorage } = await import('@acala-network/chopsticks');
      await setStorage(ctx.chain, {
        System: { Account: [[[address], { providers: 1, data: { free } }]] },
      });
    },
    /** Stops the server and chopsticks' wasm executor thread (else the process never exits). */
    async close() {
      await ctx.close();
      const { destroyWorker } = await import('@acala-network/chopsticks');
      await destroyWorker();
    },
  };
}
