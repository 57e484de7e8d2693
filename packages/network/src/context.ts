/** What the parts of a bus share: who this twin is, how to find others, limits, and where to log. */
import type { TwinIdentity } from '@twin/identity';
import { type PhonebookClient, PhonebookError, type TwinRecord } from '@twin/phonebook';
import { FRAME_OVERHEAD } from './constants.ts';
import { NetworkError } from './errors.ts';
import type { TwinHost } from './host.ts';
import type { Mailbox } from './mailbox.ts';
import type { PresenceBook } from './presence.ts';

/** The logging the bus needs: a pino logger fits. */
export interface BusLogger {
  warn(obj: object, msg: string): void;
  /** A logger that adds `bindings` to every line (pino's `child`); optional. */
  child?(bindings: Record<string, unknown>): BusLogger;
}

/**
 * The logger of one part of the bus: every line carries `component: "twin-bus:<part>"` (a pino
 * child logger when the base has `child`), so a twin's log says which part spoke.
 */
export function scopedLogger(base: BusLogger, part: string): BusLogger {
  const component = `twin-bus:${part}`;
  if (base.child) return base.child({ component });
  return { warn: (obj, msg) => base.warn({ ...obj, component }, msg) };
}

export interface BusContext {
  identity: TwinIdentity;
  twinId: number;
  host: TwinHost;
  phonebook: PhonebookClient;
  mailbox: Mailbox | undefined;
  maxPayload: number;
  skewMs: number;
  log: BusLogger;
  stopped: () => boolean;
  presence: PresenceBook;
}

/** A twin's verified phonebook record; NetworkError `unknown_twin` or `unreachable`. */
export async function resolveTwin(ctx: BusContext, ref: string | number, fresh = false): Promise<TwinRecord> {
  try {
    return await ctx.phonebook.twin(ref, fresh);
  } catch (e) {
    if (e instanceof PhonebookError && e.code === 'not_found')
      throw new NetworkError('unknown_twin', `twin ${ref} is not in the phonebook`, { cause: e });
    throw new NetworkError('unreachable', `twin ${ref} could not be resolved: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Runs a promise nobody awaits: a rejection is logged, never left unhandled. */
export function background(log: BusLogger, what: string, work: () => Promise<unknown>): void {
  let p: Promise<unknown>;
  try {
    p = work();
  } catch (err) {
    log.warn({ err }, `twin bus: ${what} failed`);
    return;
  }
  p.catch((err: unknown) => log.warn({ err }, `twin bus: ${what} failed`));
}

/** Throws NetworkError `too_large` for a payload above the bus's limit. */
export function checkPayload(ctx: BusContext, length: number): void {
  if (length > ctx.maxPayload)
    throw new NetworkError('too_large', `payload of ${length} bytes exceeds ${ctx.maxPayload}`);
}

/**
 * Limits of a bus stream's reader: a frame holds one payload and its envelope, and libp2p may
 * buffer two such frames before the bus reads them (more and it resets the stream).
 */
export function busStreamLimits(maxPayload: number): { maxDataLength: number; maxBufferSize: number } {
  return { maxDataLength: maxPayload + FRAME_OVERHEAD, maxBufferSize: 2 * (maxPayload + FRAME_OVERHEAD) };
}
