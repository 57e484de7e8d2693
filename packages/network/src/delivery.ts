/**
 * Reliable one-way delivery. Sending: a message is sealed (signed) and stored in the outbox
 * before `send()` resolves; one worker per destination sends the queue in order down the
 * destination's channel, marks what was acknowledged, and retries the rest with exponential
 * backoff and jitter until acknowledged or expired. Receiving: a checked message is stored in
 * the inbox exactly once (see mailbox.ts for epochs, slots and duplicates) and acknowledged.
 */
import type { TwinIdentity } from '@twin/identity';
import type { Channels } from './channels.ts';
import {
  BACKOFF_BASE_MS,
  BACKOFF_MAX_MS,
  DELIVERY_BATCH,
  DELIVERY_TIMEOUT_MS,
  MAX_SEAL_BATCH_DEPTH,
  MAX_TTL_MS,
} from './constants.ts';
import { type BusContext, type BusLogger, checkPayload, resolveTwin, scopedLogger } from './context.ts';
import { type Envelope, envelopeHeader, openEnvelope, sealEnvelope, sealEnvelopes } from './envelope.ts';
import { NetworkError } from './errors.ts';
import {
  type DeliveryStatus,
  type InboxMessage,
  LEGACY_EPOCH,
  type Mailbox,
  type OutboxMessage,
  type ReceiveOutcome,
} from './mailbox.ts';

export interface SendOptions {
  /** How long the message may wait for delivery (default and most: 24 h). */
  ttlMs?: number;
}

export interface DeliveryEvent {
  id: string;
  to: number;
  status: DeliveryStatus;
}

/** Runs inside the inbox transaction: what it writes to the mailbox database commits with the message. */
export type MessageHandler = (m: InboxMessage) => void;

export interface DeliveryEvents {
  delivery(e: DeliveryEvent): void;
  message(m: InboxMessage): void;
}

interface ToQueue {
  to: number;
  command: string;
  payload: Buffer;
  ttl: number | undefined;
  done: (m: OutboxMessage | null, e: Error | null) => void;
}

export class Delivery {
  private readonly log: BusLogger;
  readonly messageHandlers = new Map<string, MessageHandler>();
  /** Sends waiting for the next commit. */
  private toQueue: ToQueue[] = [];
  private readonly workers = new Map<number, Promise<void>>();
  private readonly rekick = new Set<number>();
  private readonly backoff = new Map<number, number>();
  private readonly sleeping = new Map<NodeJS.Timeout, () => void>();

  constructor(
    private readonly ctx: BusContext,
    private readonly channels: Channels,
    private readonly events: DeliveryEvents,
  ) {
    this.log = scopedLogger(ctx.log, 'delivery');
  }

  private mailbox(): Mailbox {
    if (!this.ctx.mailbox) throw new NetworkError('no_mailbox', 'one-way messages need a mailbox');
    return this.ctx.mailbox;
  }

  /**
   * Queues a message durably and starts its delivery; NetworkError `no_mailbox`, `too_large`,
   * `unknown_twin`, `unreachable` (and SQLite's errors). The sends made in one turn of the event
   * loop are committed together, in one transaction, before any of them resolves.
   */
  async send(
    twin: string | number,
    command: string,
    payload: Uint8Array,
    o: SendOptions = {},
  ): Promise<string> {
    this.mailbox();
    checkPayload(this.ctx, payload.length);
    const record = await resolveTwin(this.ctx, twin);
    // copied: the caller may reuse its buffer before the message is signed
    const m = await this.commit({ to: record.id, command, payload: Buffer.from(payload), ttl: o.ttlMs });
    this.events.delivery({ id: m.id, to: record.id, status: 'queued' });
    this.kick(record.id);
    return m.id;
  }

  private commit(item: Omit<ToQueue, 'done'>): Promise<OutboxMessage> {
    return new Promise((resolve, reject) => {
      this.toQueue.push({ ...item, done: (m, e) => (m ? resolve(m) : reject(e)) });
      if (this.toQueue.length === 1) setImmediate(() => this.commitQueued());
    });
  }

  /**
   * Signs and stores every message sent since the last commit, in one transaction: those towards
   * one twin are sealed together (one signature per MAX_SEAL_BATCH_DEPTH-deep Merkle tree, see
   * sealEnvelopes) and stored with one update of that twin's sequence. A message that cannot be
   * sealed (its header too large) fails alone; a destination whose rows cannot be written fails
   * with its own messages only.
   */
  private commitQueued(): void {
    const batch = this.toQueue;
    this.toQueue = [];
    const results = new Map<ToQueue, OutboxMessage | Error>();
    try {
      const mailbox = this.mailbox();
      const byDest = new Map<number, ToQueue[]>();
      for (const q of batch) {
        const list = byDest.get(q.to);
        if (list) list.push(q);
        else byDest.set(q.to, [q]);
      }
      mailbox.db.transaction(() => {
        for (const [dest, list] of byDest)
          for (let i = 0; i < list.length; i += 2 ** MAX_SEAL_BATCH_DEPTH) {
            const group = list.slice(i, i + 2 ** MAX_SEAL_BATCH_DEPTH);
            // a group that fails (its savepoint rolled back) is retried one message at a time,
            // so that only the message at fault fails
            for (const part of this.store(mailbox, dest, group, results) ? [] : group.map((q) => [q]))
              this.store(mailbox, dest, part, results);
          }
      })();
    } catch (e) {
      for (const q of batch) results.set(q, e as Error);
    }
    for (const q of batch) {
      const r = results.get(q)!;
      if (r instanceof Error) q.done(null, r);
      else q.done(r, null);
    }
  }

  /**
   * Seals and stores `group` towards `dest` in its own savepoint and records each result; false
   * when a group of several failed (then retry its messages one by one).
   */
  private store(
    mailbox: Mailbox,
    dest: number,
    group: ToQueue[],
    results: Map<ToQueue, OutboxMessage | Error>,
  ): boolean {
    try {
      const sealed = queueMessages(mailbox, this.ctx.identity, this.ctx.twinId, dest, group);
      for (const [j, q] of group.entries()) results.set(q, sealed[j]!);
      return true;
    } catch (e) {
      for (const q of group) results.set(q, e as Error);
      return group.length === 1;
    }
  }

  /** Starts delivery of every queued message; a failure (say, of the database) is logged, never thrown. */
  flush(): void {
    if (!this.ctx.mailbox || this.ctx.stopped()) return;
    let destinations: number[];
    try {
      destinations = this.ctx.mailbox.destinations();
    } catch (err) {
      this.log.warn({ err }, 'twin bus: reading the outbox failed');
      return;
    }
    for (const dest of destinations) this.kick(dest);
  }

  /** Runs the delivery worker of `dest` (at most one per destination). */
  private kick(dest: number): void {
    if (this.ctx.stopped()) return;
    if (this.workers.has(dest)) {
      this.rekick.add(dest);
      return;
    }
    const worker = this.run(dest)
      .catch((err: unknown) => this.log.warn({ err, dest }, 'twin bus: delivery worker failed'))
      .finally(() => {
        this.workers.delete(dest);
        if (this.rekick.delete(dest)) this.kick(dest);
      });
    this.workers.set(dest, worker);
  }

  private async run(dest: number): Promise<void> {
    const mailbox = this.mailbox();
    while (!this.ctx.stopped()) {
      this.rekick.delete(dest);
      const batch = mailbox.queued(dest, DELIVERY_BATCH);
      if (batch.length === 0) break;
      const now = Date.now();
      const expired = batch.filter((m) => m.created + m.ttl < now).map((m) => m.id);
      const live = batch.filter((m) => m.created + m.ttl >= now);
      const delivered: string[] = [];
      const conflicts: string[] = [];
      /** Sent but not acknowledged: their attempt is counted (a delivered one's with its mark). */
      const unacknowledged: string[] = [];
      let failed = false;
      if (live.length > 0) {
        let results: PromiseSettledResult<Buffer>[] = [];
        try {
          const channel = await this.channels.get(dest);
          results = await Promise.allSettled(
            live.map((m) => this.channels.exchange(channel, m.id, m.frame, m.command, DELIVERY_TIMEOUT_MS)),
          );
        } catch {
          failed = true; // unreachable (or stopped): retried after a pause
        }
        results.forEach((r, i) => {
          const code = r.status === 'rejected' && r.reason instanceof NetworkError ? r.reason.code : null;
          if (r.status === 'fulfilled') delivered.push(live[i]!.id);
          else {
            unacknowledged.push(live[i]!.id);
            if (code === 'expired') expired.push(live[i]!.id);
            else {
              if (code === 'sequence_conflict') conflicts.push(live[i]!.id);
              failed = true;
            }
          }
        });
      }
      mailbox.attempted(unacknowledged);
      for (const id of mailbox.mark(delivered, 'delivered', true))
        this.emit('delivery', { id, to: dest, status: 'delivered' });
      for (const id of mailbox.mark(expired, 'expired'))
        this.emit('delivery', { id, to: dest, status: 'expired' });
      // The receiver holds other messages in these slots: this outbox was rolled back.
      if (conflicts.length > 0)
        mailbox.reseal(dest, conflicts, (m, epoch, seq) => this.reseal(m, epoch, seq));
      if (failed) await this.pause(dest);
      else this.backoff.delete(dest);
    }
  }

  /** The same message (id, command, payload, created, ttl) signed, alone, for another slot. */
  private reseal(m: OutboxMessage, epoch: string, seq: number): Buffer {
    const { header, payload } = openEnvelope(m.frame);
    const { leaf: _leaf, depth: _depth, ...fields } = header;
    return sealEnvelope(this.ctx.identity, { ...fields, epoch, seq }, payload);
  }

  /** Exponential backoff with full jitter over the upper half; ends early when the bus stops. */
  private pause(dest: number): Promise<void> {
    const n = (this.backoff.get(dest) ?? 0) + 1;
    this.backoff.set(dest, n);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(n, 10));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleeping.delete(t);
        resolve();
      }, delay);
      this.sleeping.set(t, resolve);
    });
  }

  /**
   * Stores checked one-way messages exactly once, in order, in one transaction: for each, null
   * (stored, or a duplicate) or the NetworkError it is refused with; a message whose handler
   * throws is rolled back alone. 'message' events go out after the commit. Throws when the
   * transaction cannot commit (then nothing of the batch is stored, and all of it is retried).
   */
  receive(envs: Envelope[]): (NetworkError | null)[] {
    const mailbox = this.ctx.mailbox;
    if (!mailbox)
      return envs.map(
        () => new NetworkError('unknown_command', 'this twin does not accept one-way messages'),
      );
    const stored: InboxMessage[] = [];
    const results = mailbox.db.transaction(() => envs.map((env) => this.receiveOne(mailbox, env, stored)))();
    for (const m of stored) this.emit('message', m);
    return results;
  }

  private receiveOne(mailbox: Mailbox, env: Envelope, stored: InboxMessage[]): NetworkError | null {
    const h = env.header;
    if (h.seq === undefined) return new NetworkError('bad_envelope', 'message without a sequence number');
    const message: InboxMessage = {
      from: h.from,
      epoch: h.epoch ?? LEGACY_EPOCH,
      seq: h.seq,
      id: h.id,
      command: h.command,
      payload: Buffer.from(env.payload),
      received: Date.now(),
    };
    let outcome: ReceiveOutcome;
    try {
      // a transaction inside the batch's: a savepoint, rolled back alone when the handler throws
      outcome = mailbox.receive(message, env.signed, this.messageHandlers.get(h.command), env.signature);
    } catch (e) {
      return new NetworkError('handler_error', (e as Error).message, { cause: e });
    }
    if (outcome === 'conflict')
      return new NetworkError(
        'sequence_conflict',
        `twin ${h.from} already sent other bytes as message ${h.seq} of epoch ${message.epoch}`,
      );
    if (outcome === 'stored') stored.push(message);
    return null;
  }

  /** Tells listeners; a listener that throws is logged, and changes nothing about the delivery. */
  private emit<K extends keyof DeliveryEvents>(event: K, value: Parameters<DeliveryEvents[K]>[0]): void {
    try {
      (this.events[event] as (v: typeof value) => void)(value);
    } catch (err) {
      this.log.warn({ err, event }, 'twin bus: an event listener threw');
    }
  }

  /** Wakes workers that wait out a backoff and waits until every worker has returned. */
  async stop(): Promise<void> {
    for (const [t, wake] of this.sleeping) {
      clearTimeout(t);
      wake();
    }
    this.sleeping.clear();
    await Promise.all([...this.workers.values()]);
  }
}

/**
 * Stores a signed one-way message in `mailbox`'s outbox without sending it: whichever bus
 * process runs with that mailbox (the twin's daemon, or a CLI) delivers it. Throws NetworkError
 * `too_large` for a header above 64 KiB (and SQLite's errors when the database fails).
 */
export function queueMessage(
  mailbox: Mailbox,
  identity: TwinIdentity,
  from: number,
  to: number,
  command: string,
  payload: Uint8Array,
  ttlMs = MAX_TTL_MS,
): OutboxMessage {
  const ttl = Math.min(ttlMs, MAX_TTL_MS);
  return mailbox.enqueue(to, (epoch, seq) => {
    const header = envelopeHeader('message', from, to, command, { ttl, epoch, seq });
    return {
      id: header.id,
      command,
      frame: sealEnvelope(identity, header, payload),
      created: header.created,
      ttl,
    };
  });
}

/**
 * Seals messages towards `to` together (one signature, see sealEnvelopes) for consecutive slots
 * and stores them in the outbox, in one transaction; the result is in the order of `items`.
 * Throws NetworkError `too_large` for a header above 64 KiB (nothing is stored then).
 */
function queueMessages(
  mailbox: Mailbox,
  identity: TwinIdentity,
  from: number,
  to: number,
  items: readonly { command: string; payload: Uint8Array; ttl: number | undefined }[],
): OutboxMessage[] {
  return mailbox.enqueueAll(to, (epoch, seq) => {
    const headers = items.map((q, i) =>
      envelopeHeader('message', from, to, q.command, {
        ttl: Math.min(q.ttl ?? MAX_TTL_MS, MAX_TTL_MS),
        epoch,
        seq: seq + i,
      }),
    );
    const frames = sealEnvelopes(
      identity,
      headers.map((header, i) => ({ header, payload: items[i]!.payload })),
    );
    return headers.map((h, i) => ({
      id: h.id,
      command: h.command,
      frame: frames[i]!,
      created: h.created,
      ttl: h.ttl,
    }));
  });
}
