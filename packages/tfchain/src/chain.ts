/**
 * The connection to a TFChain node: loading @polkadot/api (an optional dependency, loaded only
 * here), the twin's account, and submitting extrinsics with their errors turned into one-line
 * TfchainErrors that say what to do.
 *
 * Submission does not rely on the node's per-extrinsic watch: it follows new heads from before the
 * extrinsic is sent and finds the extrinsic in the blocks that follow, then reads its events there.
 * One account's extrinsics are signed one at a time with the node's next nonce for it.
 */
import type { TwinIdentity } from '@twin/identity';
import { TfchainError } from './errors.ts';

// @polkadot/api's types are not installed with the user's packages (it is an optional dependency,
// loaded at run time), so the chain's dynamic API is typed loosely here and nowhere else.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Dyn = any;

/** How long an extrinsic may take to be included before `unavailable`. */
export const INCLUSION_TIMEOUT_MS = 60_000;
/** How long connecting to the node may take. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** Where to find a TFChain node: `tfchain+ws://HOST:PORT` or `tfchain+wss://HOST[:PORT]`. */
export function parseTfchainUrl(url: string): string {
  const m = /^tfchain\+(wss?:\/\/[^\s/?#]+)\/?$/.exec(url);
  if (!m) throw new TfchainError('bad_url', `${url} is not a TFChain URL: use tfchain+ws://HOST:PORT`);
  return m[1]!;
}

/** True when `url` names a TFChain node (a phonebook setting selects this backend with it). */
export function isTfchainUrl(url: string | undefined): boolean {
  return url?.startsWith('tfchain+') ?? false;
}

/** @polkadot/api, loaded on first use; TfchainError `missing_dependency` when it is not installed. */
export async function loadPolkadot(): Promise<Dyn> {
  const name = '@polkadot/api';
  try {
    return await import(name);
  } catch (e) {
    throw new TfchainError(
      'missing_dependency',
      'TFChain support needs @polkadot/api: run `npm install --no-save @polkadot/api@16` in the install directory',
      { cause: e },
    );
  }
}

/** The chain account of a twin: the ed25519 key pair of its own signing key (so its address is that key). */
export function accountOf(polkadot: Dyn, identity: TwinIdentity): Dyn {
  const keyring = new polkadot.Keyring({ type: 'ed25519', ss58Format: 42 });
  return keyring.addFromSeed(identity.signingSecret);
}

/** A dispatch error by pallet and name → the one-line error a person can act on. */
export function explain(section: string, name: string, who: string): TfchainError {
  const what = `${section}.${name}`;
  switch (name) {
    case 'UserDidNotSignTermsAndConditions':
      return new TfchainError(
        'terms_not_accepted',
        `account ${who} has not accepted TFChain's terms and conditions (${what}): accept them first`,
      );
    case 'InsufficientBalance':
    case 'BalanceTooLow':
    case 'NotEnoughBalance':
      return new TfchainError('no_funds', `account ${who} has too few TFT (${what}): fund it and retry`);
    case 'NameExists':
      return new TfchainError('name_taken', `the name is taken on TFChain (${what})`);
    case 'NameNotValid':
      return new TfchainError(
        'bad_name',
        `TFChain refuses this name (${what}): use lowercase letters, digits, '-' and '_'`,
      );
    case 'TwinNotExists':
    case 'NodeNotExists':
    case 'FarmNotExists':
    case 'ContractNotExists':
      return new TfchainError('not_found', `${what}`);
    case 'TwinNotAuthorizedToCancelContract':
    case 'TwinNotAuthorizedToUpdateContract':
    case 'UnauthorizedToUpdateTwin':
    case 'TwinNotAuthorized':
      return new TfchainError('forbidden', `account ${who} may not do this (${what})`);
    default:
      return new TfchainError('chain_refused', `TFChain refused the extrinsic: ${what}`);
  }
}

/** A transaction-pool refusal (RPC error text) → a one-line error. */
function refused(message: string, who: string): TfchainError {
  if (/balance too low|pay some fees|Inability to pay|"payment"/i.test(message))
    return new TfchainError(
      'no_funds',
      `account ${who} cannot pay TFChain's fee: fund it with TFT and retry`,
    );
  if (/stale|outdated|Priority is too low/i.test(message))
    return new TfchainError('stale_nonce', `account ${who} sent two extrinsics with one nonce: retry`);
  return new TfchainError('chain_refused', `TFChain refused the extrinsic: ${message.split('\n')[0]}`);
}

export interface Included {
  block: string;
  events: Dyn[];
}

/**
 * A connection to one TFChain node. `submit` signs with an account and resolves once the
 * extrinsic is in a block, with its events; failures reject with TfchainError.
 */
export class Chain {
  private readonly queues = new Map<string, Promise<unknown>>();

  private constructor(
    readonly polkadot: Dyn,
    readonly api: Dyn,
  ) {}

  /** Connects to `ws` (a ws:// URL); `polkadot` is the @polkadot/api module (loaded when absent). */
  static async connect(ws: string, polkadot?: Dyn): Promise<Chain> {
    const pd = polkadot ?? (await loadPolkadot());
    const provider = new pd.WsProvider(ws, false);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        provider.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), CONNECT_TIMEOUT_MS);
        }),
      ]);
      const api = await pd.ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true });
      return new Chain(pd, api);
    } catch (e) {
      await provider.disconnect().catch(() => {});
      throw new TfchainError('unavailable', `TFChain node ${ws} unreachable: ${(e as Error).message}`, {
        cause: e,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.api.disconnect();
  }

  /** Signs `tx` with `account` and waits until it is in a block; its events there. */
  submit(tx: Dyn, account: Dyn): Promise<Included> {
    const who: string = account.address;
    const prev = this.queues.get(who) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => this.submitNow(tx, account));
    this.queues.set(who, run);
    const done = () => {
      if (this.queues.get(who) === run) this.queues.delete(who);
    };
    run.then(done, done);
    return run;
  }

  private async submitNow(tx: Dyn, account: Dyn): Promise<Included> {
    const api = this.api;
    const who: string = account.address;
    const nonce = await api.rpc.system.accountNextIndex(who);
    await tx.signAsync(account, { nonce });
    const hash: string = tx.hash.toHex();
    let unsubscribe: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Included>((resolve, reject) => {
        let last: number | undefined;
        let busy = Promise.resolve();
        const scan = async (to: number) => {
          const from = last === undefined ? to : last + 1;
          for (let n = from; n <= to; n++) {
            const blockHash = await api.rpc.chain.getBlockHash(n);
            const block = await api.rpc.chain.getBlock(blockHash);
            const index = block.block.extrinsics.findIndex((x: Dyn) => x.hash.toHex() === hash);
            last = n;
            if (index < 0) continue;
            const at = await api.at(blockHash);
            const events = (await at.query.system.events()).filter(
              (r: Dyn) => r.phase.isApplyExtrinsic && r.phase.asApplyExtrinsic.toNumber() === index,
            );
            const failed = events.find((r: Dyn) => api.events.system.ExtrinsicFailed.is(r.event));
            if (failed) {
              const err = failed.event.data[0];
              if (err.isModule) {
                const meta = api.registry.findMetaError(err.asModule);
                return reject(explain(meta.section, meta.name, who));
              }
              const text = err.isToken ? `Token.${err.asToken.type}` : err.type;
              return reject(
                /FundsUnavailable|BelowMinimum|NoFunds/.test(text)
                  ? new TfchainError(
                      'no_funds',
                      `account ${who} has too few TFT (${text}): fund it and retry`,
                    )
                  : new TfchainError('chain_refused', `TFChain refused the extrinsic: ${text}`),
              );
            }
            return resolve({ block: blockHash.toHex(), events: events.map((r: Dyn) => r.event) });
          }
        };
        timer = setTimeout(
          () => reject(new TfchainError('unavailable', `extrinsic ${hash} not included within 60 s`)),
          INCLUSION_TIMEOUT_MS,
        );
        api.rpc.chain
          .subscribeNewHeads((header: Dyn) => {
            const n = header.number.toNumber();
            busy = busy.then(() => scan(n)).catch(reject);
          })
          .then(async (u: () => void) => {
            unsubscribe = u;
            const head = await api.rpc.chain.getHeader();
            last = head.number.toNumber();
            await api.rpc.author.submitExtrinsic(tx);
          })
          .catch((e: Error) => reject(e instanceof TfchainError ? e : refused(e.message, who)));
      });
    } finally {
      clearTimeout(timer);
      unsubscribe?.();
    }
  }
}
