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
  MAX_TTL_MS,
} from './constants.ts';
import { type BusContext, checkPayload, resolveTwin } from './context.ts';
import { type Envelope, envelopeHeader, openEnvelope, sealEnvelope } from './envelope.ts';
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

export class Delivery {
  readonly messageHandlers = new Map<string, MessageHandler>();
  private readonly workers = new Map<number, Promise<void>>();
  private readonly rekick = new Set<number>();
  private readonly backoff = new Map<number, number>();
  private readonly sleeping = new Map<NodeJS.Timeout, () => void>();

  constructor(
    private readonly ctx: BusContext,
    private readonly channels: Channels,
    private readonly events: DeliveryEvents,
  ) {}

  private mailbox(): Mailbox {
    if (!this.ctx.mailbox) throw new NetworkError('no_mailbox', 'one-way messages need a mailbox');
    return this.ctx.mailbox;
  }

  /** Queues a message durably and starts its delivery; NetworkError `no_mailbox`, `too_large`, `unknown_twin`, `unreachable`. */
  async send(
    twin: string | number,
    command: string,
    payload: Uint8Array,
    o: SendOptions = {},
  ): Promise<string> {
    const mailbox = this.mailbox();
    checkPayload(this.ctx, payload.length);
    const record = await resolveTwin(this.ctx, twin);
    const m = queueMessage(mailbox, this.ctx.identity, this.ctx.twinId, record.id, command, payload, o.ttlMs);
    this.events.delivery({ id: m.id, to: record.id, status: 'queued' });
    this.kick(record.id);
    return m.id;
  }

  /** Starts delivery of every queued message; a failure (say, of the database) is logged, never thrown. */
  flush(): void {
    if (!this.ctx.mailbox || this.ctx.stopped()) return;
    let destinations: number[];
    try {
      destinations = this.ctx.mailbox.destinations();
    } catch (err) {
      this.ctx.log.warn({ err }, 'twin bus: reading the outbox failed');
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
      .catch((err: unknown) => this.ctx.log.warn({ err, dest }, 'twin bus: delivery worker failed'))
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
      let failed = false;
      if (live.length > 0) {
        let results: PromiseSettledResult<Buffer>[] = [];
        try {
          const channel = await this.channels.get(dest);
          mailbox.attempted(live.map((m) => m.id));
          results = await Promise.allSettled(
            live.map((m) => this.channels.exchange(channel, m.id, m.frame, m.command, DELIVERY_TIMEOUT_MS)),
          );
        } catch {
          failed = true; // unreachable (or stopped): retried after a pause
        }
        results.forEach((r, i) => {
          const code = r.status === 'rejected' && r.reason instanceof NetworkError ? r.reason.code : null;
          if (r.status === 'fulfilled') delivered.push(live[i]!.id);
          else if (code === 'expired') expired.push(live[i]!.id);
          else {
            if (code === 'sequence_conflict') conflicts.push(live[i]!.id);
            failed = true;
          }
        });
      }
      for (const id of mailbox.mark(delivered, 'delivered'))
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

  /** The same message (id, command, payload, created, ttl) signed for another slot. */
  private reseal(m: OutboxMessage, epoch: string, seq: number): Buffer {
    const old = openEnvelope(m.frame);
    return sealEnvelope(this.ctx.identity, { ...old.header, epoch, seq }, old.payload);
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

  /** Stores a checked one-way message exactly once; throws NetworkError to refuse it. */
  receive(env: Envelope): void {
    const h = env.header;
    if (!this.ctx.mailbox)
      throw new NetworkError('unknown_command', 'this twin does not accept one-way messages');
    if (h.seq === undefined) throw new NetworkError('bad_envelope', 'message without a sequence number');
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
      outcome = this.ctx.mailbox.receive(
        message,
        env.signed,
        this.messageHandlers.get(h.command),
        env.signature,
      );
    } catch (e) {
      throw new NetworkError('handler_error', (e as Error).message, { cause: e });
    }
    if (outcome === 'conflict')
      throw new NetworkError(
        'sequence_conflict',
        `twin ${h.from} already sent other bytes as message ${h.seq} of epoch ${message.epoch}`,
      );
    if (outcome === 'stored') this.emit('message', message);
  }

  /** Tells listeners; a listener that throws is logged, and changes nothing about the delivery. */
  private emit<K extends keyof DeliveryEvents>(event: K, value: Parameters<DeliveryEvents[K]>[0]): void {
    try {
      (this.events[event] as (v: typeof value) => void)(value);
    } catch (err) {
      this.ctx.log.warn({ err, event }, 'twin bus: an event listener threw');
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
