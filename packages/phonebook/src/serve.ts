/** Runs a phonebook server, or a replica when `follow` is set. */
import type { FastifyInstance } from 'fastify';
import { HttpBackend } from './backend.ts';
import { type Equivocation, Gossip } from './gossip.ts';
import { buildApp } from './http.ts';
import { DEFAULT_RATE_LIMITS, type RateLimits } from './limits.ts';
import { Replica } from './replica.ts';
import { PhonebookService } from './service.ts';

export interface PhonebookServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** Upstream URL: run as a read-only replica of it. */
  follow?: string;
  pollMs?: number;
  logger?: boolean;
  onFork?: (reason: string) => void;
  /** Write rate limits, per kind; unset kinds keep DEFAULT_RATE_LIMITS. */
  limits?: Partial<RateLimits>;
  /** Peers (other replicas, any phonebook URL) whose checkpoints are compared with ours. */
  gossip?: string[];
  /** How often the gossip peers are asked (default GOSSIP_INTERVAL_MS). */
  gossipMs?: number;
  /** Told when gossip finds two signed checkpoints that prove two histories. */
  onEquivocation?: (e: Equivocation) => void;
}

export interface RunningPhonebook {
  url: string;
  port: number;
  service: PhonebookService;
  replica: Replica | null;
  gossip: Gossip | null;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The port a phonebook listens on when none is given. */
export const DEFAULT_PHONEBOOK_PORT = 8730;

/**
 * Starts a phonebook server on `o.host:o.port` (127.0.0.1:8730 by default; port 0 picks one),
 * or a read-only replica of `o.follow`; `close()` stops it. Throws what opening its data
 * directory (the server key's keystore) or listening throws.
 */
export async function startPhonebook(o: PhonebookServerOptions): Promise<RunningPhonebook> {
  const service = new PhonebookService(o.dataDir);
  const replica = o.follow ? new Replica(service, o.follow, o.pollMs ?? 500, o.onFork) : null;
  const gossip = o.gossip?.length
    ? new Gossip(
        service,
        o.gossip,
        () => (replica ? replica.upstreamCheckpoint : service.checkpoint()),
        (e) => {
          // a replica stops following a server proven to show two histories
          replica?.reportFork(`gossip with ${e.peer}: ${e.reason}`);
          o.onEquivocation?.(e);
        },
        o.follow ? new HttpBackend(o.follow) : null,
        o.gossipMs,
      )
    : null;
  const health = (): Record<string, unknown> => ({
    ...replica?.health(),
    ...(gossip
      ? {
          gossip: {
            peers: Object.fromEntries(gossip.peerErrors),
            equivocation: gossip.equivocation,
          },
          ...(gossip.equivocation
            ? { fork: `gossip with ${gossip.equivocation.peer}: ${gossip.equivocation.reason}` }
            : {}),
        }
      : {}),
  });
  const app = buildApp(service, {
    readOnly: replica !== null,
    logger: o.logger,
    limits: { ...DEFAULT_RATE_LIMITS, ...o.limits },
    health: replica || gossip ? health : undefined,
    checkpoint: replica ? () => replica.upstreamCheckpoint : undefined,
  });
  const host = o.host ?? '127.0.0.1';
  await app.listen({ host, port: o.port ?? DEFAULT_PHONEBOOK_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? DEFAULT_PHONEBOOK_PORT);
  if (replica) {
    await replica.sync();
    replica.start();
  }
  gossip?.start();
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    service,
    replica,
    gossip,
    app,
    async close() {
      await gossip?.stop();
      await replica?.stop();
      await app.close();
      service.close();
    },
  };
}
