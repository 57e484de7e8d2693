/**
 * Checkpoint gossip: a replica compares the checkpoint its peers (other replicas, or any
 * phonebook URL) serve with the ledger it verified itself. Checkpoints are signed by the server
 * key, so two of them that cannot both be true — the same height with different Merkle roots, or
 * a newer one that is not an extension of the other (no valid RFC 9162 consistency proof) — are
 * cryptographic evidence that the server showed two histories. A server that keeps every client
 * and replica on its own branch cannot be caught by any single one of them; the peers comparing
 * notes catch it. The evidence (both signed checkpoints) is kept and reported on /health.
 */
import { HttpBackend } from './backend.ts';
import { PhonebookError } from './errors.ts';
import { verifyConsistency } from './merkle.ts';
import type { PhonebookService } from './service.ts';
import type { SignedCheckpoint } from './types.ts';
import { verifySignedCheckpoint } from './verify.ts';

/** How often a replica asks its gossip peers for their checkpoint (ms). */
export const GOSSIP_INTERVAL_MS = 5000;

/** Two signed checkpoints of one server key that prove two histories. */
export interface Equivocation {
  peer: string;
  reason: string;
  ours: SignedCheckpoint;
  theirs: SignedCheckpoint;
}

const hex = (h: string) => Buffer.from(h, 'hex');

/**
 * Compares `theirs` with the ledger `service` holds (verified entries) and `ours`, the checkpoint
 * it serves under. Returns the reason when they prove two histories, null when they agree, when
 * `theirs` is not signed by `serverKey` (nothing it says is the server's), or when it cannot be
 * decided now (a prover unreachable: asked again next round).
 *
 * A peer ahead of us must be shown to extend our root: each of `provers` (the peer, then our
 * upstream: the server itself) is asked for the RFC 9162 consistency proof in turn, and the first
 * that verifies settles it. Only when none can prove it — and the server cannot, for two
 * checkpoints it signed — is it two histories; a lying peer alone cannot make it so.
 */
export async function compareCheckpoints(
  service: PhonebookService,
  ours: SignedCheckpoint,
  theirs: SignedCheckpoint,
  serverKey: string,
  provers: ReadonlyArray<(from: number, to: number) => Promise<string[]>>,
): Promise<string | null> {
  try {
    verifySignedCheckpoint(theirs, serverKey);
  } catch {
    return null;
  }
  const t = theirs.checkpoint;
  const height = ours.checkpoint.height;
  if (t.height === 0) return null;
  if (t.height <= height) {
    const root = service.state.tree.root(t.height).toString('hex');
    return root === t.root
      ? null
      : `checkpoint ${t.height} signs root ${t.root.slice(0, 12)}… where our verified ledger has ${root.slice(0, 12)}…`;
  }
  if (height === 0) return null;
  for (const prove of provers) {
    let proof: string[];
    try {
      proof = await prove(height, t.height);
    } catch (e) {
      if (e instanceof PhonebookError && e.code === 'unavailable') return null; // undecided: next round
      continue; // refused or malformed: the next prover
    }
    if (verifyConsistency(height, t.height, hex(ours.checkpoint.root), hex(t.root), proof.map(hex)))
      return null;
  }
  return `checkpoint ${t.height} does not extend our checkpoint ${height}, and no consistency proof between them verifies: two histories`;
}

/**
 * Asks each peer for its checkpoint every `intervalMs` and compares (see compareCheckpoints);
 * the first equivocation found is kept and passed to `onEquivocation`. An unreachable peer is
 * retried on the next round. Never throws from a round.
 */
export class Gossip {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  equivocation: Equivocation | null = null;
  /** Per peer: the last error, or null after a successful comparison. */
  readonly peerErrors = new Map<string, string | null>();

  constructor(
    private readonly service: PhonebookService,
    private readonly peers: readonly string[],
    /** The checkpoint we serve under, and the server key it is signed with (null: none yet). */
    private readonly ours: () => SignedCheckpoint | null,
    private readonly onEquivocation: (e: Equivocation) => void,
    /** Asked for a consistency proof when a peer's own does not verify (a replica's upstream). */
    private readonly upstream: HttpBackend | null = null,
    private readonly intervalMs = GOSSIP_INTERVAL_MS,
  ) {}

  /** One comparison with every peer; resolves when done. */
  async round(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      for (const peer of this.peers) {
        const ours = this.ours();
        if (!ours || this.equivocation) return;
        const backend = new HttpBackend(peer);
        try {
          const theirs = await backend.checkpoint();
          const provers = [backend, ...(this.upstream ? [this.upstream] : [])].map(
            (b) => (from: number, to: number) => b.consistency(from, to),
          );
          const reason = await compareCheckpoints(this.service, ours, theirs, ours.serverKey, provers);
          this.peerErrors.set(peer, null);
          if (reason) {
            this.equivocation = { peer, reason, ours, theirs };
            this.onEquivocation(this.equivocation);
          }
        } catch (e) {
          this.peerErrors.set(peer, (e as Error).message);
        }
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(): void {
    const tick = () => {
      void this.round().finally(() => {
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
}
