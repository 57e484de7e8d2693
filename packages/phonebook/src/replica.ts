/**
 * A replica follows an upstream phonebook: it pins the upstream's server key on first contact,
 * pulls the ledger, verifies every entry (hash chain, signatures, state rules) and checks on
 * every poll that the upstream still agrees with the history it already has. A fork or a
 * rewritten history stops the replica from following and is reported on /health.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpBackend } from './backend.ts';
import { PhonebookError } from './errors.ts';
import type { PhonebookService } from './service.ts';
import type { SignedCheckpoint } from './types.ts';
import { verifySignedCheckpoint } from './verify.ts';

/** Entries pulled per request while following. */
export const FOLLOW_BATCH = 500;

/**
 * Follows an upstream phonebook into `service` (see the module doc): `start()` polls every
 * `intervalMs`, `stop()` ends it. A refused history sets `fork` and calls `onFork`; other
 * failures are kept in `lastError` and retried. Never throws from polling.
 */
export class Replica {
  private readonly upstream: HttpBackend;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  fork: string | null = null;
  lastError: string | null = null;
  lastSync = 0;
  upstreamCheckpoint: SignedCheckpoint | null = null;

  constructor(
    private readonly service: PhonebookService,
    readonly url: string,
    private readonly intervalMs = 500,
    private readonly onFork: (reason: string) => void = () => {},
  ) {
    this.upstream = new HttpBackend(url);
    this.upstreamCheckpoint = this.restoreCheckpoint();
  }

  private get checkpointFile(): string {
    return join(this.service.dataDir, 'checkpoint.json');
  }

  /**
   * The checkpoint relayed before a restart, when it is still signed by the pinned key and its
   * root is that of the entries we hold: the replica serves proofs under it before (or without)
   * reaching its upstream again.
   */
  private restoreCheckpoint(): SignedCheckpoint | null {
    const pinned = this.pinnedKey();
    if (!pinned || !existsSync(this.checkpointFile)) return null;
    try {
      const c = JSON.parse(readFileSync(this.checkpointFile, 'utf8')) as SignedCheckpoint;
      verifySignedCheckpoint(c, pinned);
      const state = this.service.state;
      if (
        c.checkpoint.height > state.height ||
        state.tree.root(c.checkpoint.height).toString('hex') !== c.checkpoint.root
      )
        return null;
      return c;
    } catch {
      return null;
    }
  }

  private saveCheckpoint(c: SignedCheckpoint): void {
    const tmp = `${this.checkpointFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(c));
    renameSync(tmp, this.checkpointFile);
  }

  private get pinFile(): string {
    return join(this.service.dataDir, 'upstream.json');
  }

  private pinnedKey(): string | null {
    if (!existsSync(this.pinFile)) return null;
    return (JSON.parse(readFileSync(this.pinFile, 'utf8')) as { serverKey: string }).serverKey;
  }

  private refuse(reason: string): void {
    if (!this.fork) {
      this.fork = reason;
      this.onFork(reason);
    }
  }

  /** Stops following because another party proved the upstream shows two histories (gossip). */
  reportFork(reason: string): void {
    this.refuse(reason);
  }

  /** Resolves after a whole round that started after this call (a round in flight may predate it). */
  sync(): Promise<void> {
    if (this.running) return this.running.then(() => this.sync());
    this.running = this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** The upstream's signed checkpoint, verified against the pinned key (pinned on first contact); null after refusing it. */
  private async checkpoint(): Promise<SignedCheckpoint | null> {
    const checkpoint = await this.upstream.checkpoint();
    const pinned = this.pinnedKey();
    if (pinned === null)
      writeFileSync(this.pinFile, JSON.stringify({ url: this.url, serverKey: checkpoint.serverKey }));
    try {
      verifySignedCheckpoint(checkpoint, pinned ?? checkpoint.serverKey);
      return checkpoint;
    } catch (e) {
      this.refuse(`upstream checkpoint refused: ${(e as Error).message}`);
      return null;
    }
  }

  private async round(): Promise<void> {
    if (this.fork) return;
    try {
      const checkpoint = await this.checkpoint();
      if (!checkpoint) return;
      const state = this.service.state;
      const target = checkpoint.checkpoint.height;
      if (target < state.height) {
        return this.refuse(`upstream ledger shrank from ${state.height} to ${target}: history rewritten`);
      }
      if (state.height > 0) {
        const theirs = (await this.upstream.ledger(state.height, 1)).entries[0];
        if (!theirs || theirs.hash !== state.head) {
          return this.refuse(`upstream entry ${state.height} differs from ours: history rewritten (fork)`);
        }
      }
      // Follow exactly up to the checkpoint, so that what we serve is what it signs.
      while (state.height < target) {
        const want = Math.min(FOLLOW_BATCH, target - state.height);
        const { entries } = await this.upstream.ledger(state.height + 1, want);
        if (entries.length === 0)
          throw new PhonebookError(
            'unavailable',
            `upstream serves no entry ${state.height + 1} below its checkpoint`,
          );
        try {
          this.service.follow(entries.slice(0, want));
        } catch (e) {
          return this.refuse(`upstream entry refused: ${(e as Error).message}`);
        }
      }
      // The root we computed from the entries we verified must be the one the upstream signed.
      const ours = state.tree.root(target).toString('hex');
      if (ours !== checkpoint.checkpoint.root)
        return this.refuse(`upstream checkpoint at ${target} signs a Merkle root its entries do not produce`);
      if (state.head !== checkpoint.checkpoint.head)
        return this.refuse(`upstream checkpoint at ${target} disagrees with our entry: history rewritten`);
      // an unchanged checkpoint (a quiet ledger) is not written again on every poll
      if (JSON.stringify(checkpoint) !== JSON.stringify(this.upstreamCheckpoint))
        this.saveCheckpoint(checkpoint);
      this.upstreamCheckpoint = checkpoint;
      this.lastSync = Date.now();
      this.lastError = null;
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }

  start(): void {
    const tick = () => {
      void this.sync().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  health(): Record<string, unknown> {
    return { upstream: this.url, fork: this.fork, lastError: this.lastError, lastSync: this.lastSync };
  }
}
