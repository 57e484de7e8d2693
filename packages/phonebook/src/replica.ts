/**
 * A replica follows an upstream phonebook: it pins the upstream's server key on first contact,
 * pulls the ledger, verifies every entry (hash chain, signatures, state rules) and checks on
 * every poll that the upstream still agrees with the history it already has. A fork or a
 * rewritten history stops the replica from following and is reported on /health.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpBackend } from './backend.ts';
import type { PhonebookService } from './service.ts';
import type { SignedCheckpoint } from './types.ts';
import { verifySignedCheckpoint } from './verify.ts';

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

  /** One round: checkpoint, consistency with what we hold, then new entries. */
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
      if (checkpoint.checkpoint.height < state.height) {
        return this.refuse(
          `upstream ledger shrank from ${state.height} to ${checkpoint.checkpoint.height}: history rewritten`,
        );
      }
      if (state.height > 0) {
        const theirs = (await this.upstream.ledger(state.height, 1)).entries[0];
        if (!theirs || theirs.hash !== state.head) {
          return this.refuse(`upstream entry ${state.height} differs from ours: history rewritten (fork)`);
        }
      }
      for (;;) {
        const { entries } = await this.upstream.ledger(this.service.state.height + 1, 500);
        if (entries.length === 0) break;
        try {
          this.service.follow(entries);
        } catch (e) {
          return this.refuse(`upstream entry refused: ${(e as Error).message}`);
        }
      }
      // Relay the newest checkpoint that covers what we now serve (entries may have arrived after the
      // first one was signed) and that agrees with our own entry at its height.
      const latest = await this.checkpoint();
      if (!latest) return;
      for (const c of [latest, checkpoint]) {
        const h = c.checkpoint.height;
        if (h > this.service.state.height) continue;
        const ours = h === 0 ? '' : (this.service.ledger(h, 1)[0]?.hash ?? null);
        if (ours !== c.checkpoint.head)
          return this.refuse(`upstream checkpoint at ${h} disagrees with our entry: history rewritten`);
        this.upstreamCheckpoint = c;
        break;
      }
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
