/**
 * The twin bus: signed request/response between twins over libp2p.
 *
 * One long-lived stream per peer and direction carries length-prefixed envelopes; requests are
 * correlated by id, so many requests share a stream. Every received envelope is checked: the
 * sender exists in the (verified) phonebook, the envelope is signed by the sender's current key,
 * the Noise-authenticated peer is that same key, it is addressed to us, it has not expired, its
 * id was not seen before from that sender, its payload is within limits and its command has a
 * handler. A refused request gets a signed error response with a stable code.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Connection, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import type { TwinIdentity } from '@twin/identity';
import { type PhonebookClient, PhonebookError, type TwinRecord } from '@twin/phonebook';
import {
  type Envelope,
  type EnvelopeHeader,
  openEnvelope,
  sealEnvelope,
  verifyEnvelope,
} from './envelope.ts';
import { BusError, type BusErrorCode } from './errors.ts';
import { peerSigningKey, type TwinHost } from './host.ts';
import type { DeliveryStatus, InboxMessage, Mailbox, OutboxMessage } from './mailbox.ts';

export const BUS_PROTOCOL = '/twin/bus/1.0.0';

export interface RequestContext {
  /** The verified sender: its signature and its Noise key both match its phonebook record. */
  from: number;
  envelope: EnvelopeHeader;
}

export type Handler = (
  payload: Buffer,
  ctx: RequestContext,
) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

export interface BusOptions {
  identity: TwinIdentity;
  /** This twin's id in the phonebook. */
  twinId: number;
  host: TwinHost;
  phonebook: PhonebookClient;
  /** Largest accepted payload (default 4 MiB). */
  maxPayload?: number;
  /** Tolerated clock skew for `created` (default 60 s). */
  skewMs?: number;
  /** Durable outbox/inbox: needed for send() and for receiving one-way messages. */
  mailbox?: Mailbox;
}

export interface SendOptions {
  /** How long the message may wait for delivery (default 24 h). */
  ttlMs?: number;
}

export interface DeliveryEvent {
  id: string;
  to: number;
  status: DeliveryStatus;
}

/** Runs inside the inbox transaction: what it writes to the mailbox database commits with the message. */
export type MessageHandler = (m: InboxMessage) => void;

export interface RequestOptions {
  timeoutMs?: number;
  ttlMs?: number;
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** An outbound stream to one twin, with its in-flight requests. */
interface Channel {
  twin: TwinRecord;
  lp: LengthPrefixedStream<Stream>;
  pending: Map<string, Pending>;
  writing: Promise<void>;
  closed: boolean;
}

const MAX_TTL = 24 * 60 * 60 * 1000;

export class TwinBus extends EventEmitter<{ delivery: [DeliveryEvent]; message: [InboxMessage] }> {
  private readonly handlers = new Map<string, Handler>();
  private readonly channels = new Map<number, Promise<Channel>>();
  private readonly seen = new Map<string, number>();
  private readonly maxPayload: number;
  private readonly skewMs: number;
  private stopped = false;
  readonly stats = { requests: 0, refused: new Map<BusErrorCode, number>() };

  private readonly messageHandlers = new Map<string, MessageHandler>();
  private readonly workers = new Set<number>();
  private readonly rekick = new Set<number>();
  private readonly backoff = new Map<number, number>();
  private readonly sleeping = new Set<NodeJS.Timeout>();

  constructor(private readonly o: BusOptions) {
    super();
    this.maxPayload = o.maxPayload ?? 4 * 1024 * 1024;
    this.skewMs = o.skewMs ?? 60_000;
  }

  async start(): Promise<void> {
    await this.o.host.handle(BUS_PROTOCOL, (stream, connection) => void this.serve(stream, connection), {
      maxInboundStreams: 256,
      runOnLimitedConnection: true,
    });
    // Resume deliveries a previous run left in the outbox.
    this.flushOutbox();
  }

  /**
   * Runs a handler in-process as if `from` had sent the request: for the twin's own local
   * control channel, whose callers are authenticated by other means (a 0600 unix socket).
   */
  async invoke(command: string, payload: Uint8Array, from: number): Promise<Buffer> {
    const handler = this.handlers.get(command);
    if (!handler) throw new BusError('unknown_command', `no handler for "${command}"`);
    const header: EnvelopeHeader = {
      id: randomBytes(16).toString('hex'),
      kind: 'request',
      from,
      to: this.o.twinId,
      command,
      created: Date.now(),
      ttl: 60_000,
    };
    return Buffer.from((await handler(Buffer.from(payload), { from, envelope: header })) ?? Buffer.alloc(0));
  }

  /** Starts delivery of every queued message (messages may be queued by another process). */
  flushOutbox(): void {
    for (const dest of this.o.mailbox?.destinations() ?? []) void this.deliver(dest);
  }

  /** Handles one-way messages of `command` (any command is stored in the inbox either way). */
  onMessage(command: string, handler: MessageHandler): void {
    this.messageHandlers.set(command, handler);
  }

  handle(command: string, handler: Handler): void {
    this.handlers.set(command, handler);
  }

  private refuse(code: BusErrorCode): void {
    this.stats.refused.set(code, (this.stats.refused.get(code) ?? 0) + 1);
  }

  // ---- receiving ----

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: this.maxPayload + 64 * 1024 });
    const peerKey = peerSigningKey(connection.remotePeer);
    let writing = Promise.resolve();
    const send = (frame: Buffer) => {
      writing = writing.then(() => lp.write(frame)).catch(() => {});
    };
    // One-way messages are stored strictly in arrival order; requests run concurrently.
    let ordered: Promise<unknown> = Promise.resolve();
    try {
      for (;;) {
        const frame = (await lp.read()).subarray();
        let env: Envelope;
        try {
          env = openEnvelope(frame);
        } catch {
          this.refuse('bad_envelope');
          continue;
        }
        const work = () => this.answer(env, peerKey).then((reply) => reply && send(reply));
        if (env.header.kind === 'message') ordered = ordered.then(work, work);
        else void work();
      }
    } catch {
      // stream closed or oversized frame: the peer reconnects if it wants to
      stream.abort(new Error('bus stream closed'));
    }
  }

  /** Checks and handles one request or message; returns the signed response frame (null when none is owed). */
  private async answer(env: Envelope, peerKey: string | null): Promise<Buffer | null> {
    const h = env.header;
    if (h.kind !== 'request' && h.kind !== 'message') return null;
    const fail = (code: BusErrorCode, message: string) => {
      this.refuse(code);
      return this.respond(h, Buffer.alloc(0), { code, message });
    };
    try {
      // Messages are deduplicated durably by (sender, seq) in the inbox, and acknowledged again.
      await this.check(env, peerKey, h.kind === 'request');
    } catch (e) {
      if (e instanceof BusError) return fail(e.code, e.message);
      throw e;
    }
    if (h.kind === 'message') return this.store(env, fail);
    const handler = this.handlers.get(h.command);
    if (!handler) return fail('unknown_command', `no handler for "${h.command}"`);
    this.stats.requests++;
    try {
      const out = await handler(env.payload, { from: h.from, envelope: h });
      return this.respond(h, out ?? Buffer.alloc(0));
    } catch (e) {
      return fail('handler_error', (e as Error).message);
    }
  }

  /** Every check an incoming envelope must pass; throws BusError. */
  private async check(env: Envelope, peerKey: string | null, replayCheck: boolean): Promise<TwinRecord> {
    const h = env.header;
    if (env.payload.length > this.maxPayload)
      throw new BusError('too_large', `payload of ${env.payload.length} bytes exceeds ${this.maxPayload}`);
    if (h.to !== this.o.twinId)
      throw new BusError('wrong_recipient', `addressed to twin ${h.to}, this is twin ${this.o.twinId}`);
    let sender: TwinRecord;
    try {
      sender = await this.o.phonebook.twin(h.from);
      if (peerKey !== sender.signingKey) sender = await this.o.phonebook.twin(h.from, true);
    } catch (e) {
      if (e instanceof PhonebookError && e.code === 'not_found')
        throw new BusError('unknown_twin', `twin ${h.from} is not in the phonebook`);
      throw new BusError('unknown_twin', `twin ${h.from} could not be verified: ${(e as Error).message}`);
    }
    if (!verifyEnvelope(env, sender.signingKey))
      throw new BusError('bad_signature', `envelope not signed by twin ${h.from}'s key`);
    if (peerKey !== sender.signingKey)
      throw new BusError('bad_signature', `connection is not authenticated as twin ${h.from}`);
    const now = Date.now();
    if (h.ttl <= 0 || h.ttl > MAX_TTL || h.created + h.ttl < now || h.created > now + this.skewMs) {
      throw new BusError('expired', `envelope ${h.id} expired or not yet valid`);
    }
    if (!replayCheck) return sender;
    const key = `${h.from}:${h.id}`;
    if (this.seen.has(key))
      throw new BusError('replayed', `envelope ${h.id} from twin ${h.from} was already received`);
    this.remember(key, h.created + h.ttl + this.skewMs);
    return sender;
  }

  private remember(key: string, until: number): void {
    this.seen.set(key, until);
    if (this.seen.size % 4096 === 0) {
      const now = Date.now();
      for (const [k, t] of this.seen) if (t < now) this.seen.delete(k);
    }
  }

  private store(env: Envelope, fail: (code: BusErrorCode, message: string) => Buffer): Buffer {
    const h = env.header;
    const mailbox = this.o.mailbox;
    if (!mailbox) return fail('unknown_command', 'this twin does not accept one-way messages');
    if (typeof h.seq !== 'number' || !Number.isInteger(h.seq) || h.seq < 1)
      return fail('bad_envelope', 'message without a sequence number');
    const message: InboxMessage = {
      from: h.from,
      seq: h.seq,
      id: h.id,
      command: h.command,
      payload: Buffer.from(env.payload),
      received: Date.now(),
    };
    let stored: boolean;
    try {
      stored = mailbox.receive(message, this.messageHandlers.get(h.command));
    } catch (e) {
      return fail('handler_error', (e as Error).message);
    }
    if (stored) this.emit('message', message);
    return this.respond(h, Buffer.alloc(0));
  }

  private respond(
    request: EnvelopeHeader,
    payload: Uint8Array,
    error?: { code: BusErrorCode; message: string },
  ): Buffer {
    const header: EnvelopeHeader = {
      id: randomBytes(16).toString('hex'),
      kind: 'response',
      from: this.o.twinId,
      to: request.from,
      command: request.command,
      created: Date.now(),
      ttl: 60_000,
      re: request.id,
      ...(error ? { error } : {}),
    };
    return sealEnvelope(this.o.identity, header, payload);
  }

  // ---- sending ----

  /** Sends a request and resolves with the response payload; rejects with a BusError. */
  async request(
    twin: string | number,
    command: string,
    payload: Uint8Array,
    o: RequestOptions = {},
  ): Promise<Buffer> {
    if (payload.length > this.maxPayload)
      throw new BusError('too_large', `payload of ${payload.length} bytes exceeds ${this.maxPayload}`);
    const channel = await this.channel(twin);
    const header: EnvelopeHeader = {
      id: randomBytes(16).toString('hex'),
      kind: 'request',
      from: this.o.twinId,
      to: channel.twin.id,
      command,
      created: Date.now(),
      ttl: o.ttlMs ?? 60_000,
    };
    return this.exchange(
      channel,
      header.id,
      sealEnvelope(this.o.identity, header, payload),
      command,
      o.timeoutMs ?? 10_000,
    );
  }

  /** Writes a frame and waits for the signed response that answers `id`. */
  private exchange(
    channel: Channel,
    id: string,
    frame: Buffer,
    command: string,
    timeoutMs: number,
  ): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        channel.pending.delete(id);
        reject(
          new BusError(
            'timeout',
            `no response from twin ${channel.twin.id} to "${command}" within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      channel.pending.set(id, { resolve, reject, timer });
      channel.writing = channel.writing
        .then(() => channel.lp.write(frame))
        .catch((e: Error) =>
          this.drop(
            channel,
            new BusError('unreachable', `send to twin ${channel.twin.id} failed: ${e.message}`),
          ),
        );
    });
  }

  /**
   * Reliable one-way delivery: the message is stored in the outbox (durably) before this
   * resolves with its id, then delivered in order, retried with exponential backoff and jitter
   * until the recipient acknowledges it or its ttl runs out. Status: 'delivery' events.
   */
  async send(
    twin: string | number,
    command: string,
    payload: Uint8Array,
    o: SendOptions = {},
  ): Promise<string> {
    const mailbox = this.o.mailbox;
    if (!mailbox) throw new Error('send() needs a mailbox');
    if (payload.length > this.maxPayload)
      throw new BusError('too_large', `payload of ${payload.length} bytes exceeds ${this.maxPayload}`);
    const record = await this.resolve(twin);
    const m = queueMessage(mailbox, this.o.identity, this.o.twinId, record.id, command, payload, o.ttlMs);
    this.emit('delivery', { id: m.id, to: record.id, status: 'queued' });
    void this.deliver(record.id);
    return m.id;
  }

  /** The delivery worker of one destination: at most one runs per destination. */
  private async deliver(dest: number): Promise<void> {
    const mailbox = this.o.mailbox!;
    if (this.workers.has(dest)) {
      this.rekick.add(dest);
      return;
    }
    this.workers.add(dest);
    try {
      while (!this.stopped) {
        this.rekick.delete(dest);
        const batch = mailbox.queued(dest, 512);
        if (batch.length === 0) break;
        const now = Date.now();
        const expired = batch.filter((m) => m.created + m.ttl < now).map((m) => m.id);
        const live = batch.filter((m) => m.created + m.ttl >= now);
        let failed = false;
        if (live.length > 0) {
          try {
            const channel = await this.channel(dest);
            mailbox.attempted(dest);
            const results = await Promise.allSettled(
              live.map((m) => this.exchange(channel, m.id, m.frame, m.command, 15_000)),
            );
            const delivered: string[] = [];
            results.forEach((r, i) => {
              if (r.status === 'fulfilled') delivered.push(live[i]!.id);
              else if (r.reason instanceof BusError && r.reason.code === 'expired') expired.push(live[i]!.id);
              else failed = true;
            });
            for (const id of mailbox.mark(delivered, 'delivered'))
              this.emit('delivery', { id, to: dest, status: 'delivered' });
          } catch {
            failed = true;
          }
        }
        for (const id of mailbox.mark(expired, 'expired'))
          this.emit('delivery', { id, to: dest, status: 'expired' });
        if (failed) await this.pause(dest);
        else this.backoff.delete(dest);
      }
    } finally {
      this.workers.delete(dest);
    }
    if (this.rekick.has(dest) && !this.stopped) void this.deliver(dest);
  }

  /** Exponential backoff with full jitter: 250 ms doubling up to 30 s. */
  private pause(dest: number): Promise<void> {
    const n = (this.backoff.get(dest) ?? 0) + 1;
    this.backoff.set(dest, n);
    const ceiling = Math.min(30_000, 250 * 2 ** Math.min(n, 10));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleeping.delete(t);
        resolve();
      }, delay);
      this.sleeping.add(t);
    });
  }

  private channel(ref: string | number): Promise<Channel> {
    return this.resolve(ref).then((twin) => {
      let ch = this.channels.get(twin.id);
      if (!ch) {
        ch = this.open(twin, ref);
        this.channels.set(twin.id, ch);
        ch.catch(() => this.channels.delete(twin.id));
      }
      return ch;
    });
  }

  /** A twin's verified phonebook record, with bus error codes. */
  phonebookTwin(ref: string | number): Promise<TwinRecord> {
    return this.resolve(ref);
  }

  private async resolve(ref: string | number, fresh = false): Promise<TwinRecord> {
    try {
      return await this.o.phonebook.twin(ref, fresh);
    } catch (e) {
      if (e instanceof PhonebookError && e.code === 'not_found')
        throw new BusError('unknown_twin', `twin ${ref} is not in the phonebook`);
      throw new BusError('unreachable', `twin ${ref} could not be resolved: ${(e as Error).message}`);
    }
  }

  /** Dials the twin's published addresses; on failure re-resolves (it may have moved) and retries. */
  private async open(twin: TwinRecord, ref: string | number): Promise<Channel> {
    let record = twin;
    let lastError = 'no addresses published';
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const addr of record.addresses) {
        try {
          const connection = await this.o.host.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) });
          if (peerSigningKey(connection.remotePeer) !== record.signingKey) {
            lastError = `${addr} is not twin ${record.id}`;
            continue;
          }
          const stream = await connection.newStream(BUS_PROTOCOL, { runOnLimitedConnection: true });
          return this.attach(record, stream);
        } catch (e) {
          lastError = (e as Error).message;
        }
      }
      if (attempt === 0) record = await this.resolve(ref, true);
    }
    throw new BusError('unreachable', `twin ${record.id} (${record.name}) unreachable: ${lastError}`);
  }

  private attach(twin: TwinRecord, stream: Stream): Channel {
    const channel: Channel = {
      twin,
      lp: lpStream(stream, { maxDataLength: this.maxPayload + 64 * 1024 }),
      pending: new Map(),
      writing: Promise.resolve(),
      closed: false,
    };
    void this.readResponses(channel, stream);
    return channel;
  }

  private async readResponses(channel: Channel, stream: Stream): Promise<void> {
    try {
      for (;;) {
        const frame = await channel.lp.read();
        let env: Envelope;
        try {
          env = openEnvelope(frame.subarray());
        } catch {
          continue;
        }
        const h = env.header;
        const pending = h.re ? channel.pending.get(h.re) : undefined;
        if (!pending || h.kind !== 'response' || h.from !== channel.twin.id || h.to !== this.o.twinId)
          continue;
        if (!verifyEnvelope(env, channel.twin.signingKey)) continue; // forged: let the request time out
        channel.pending.delete(h.re!);
        clearTimeout(pending.timer);
        if (h.error) pending.reject(new BusError(h.error.code, h.error.message));
        else pending.resolve(Buffer.from(env.payload));
      }
    } catch (e) {
      stream.abort(e as Error);
      this.drop(channel, new BusError('unreachable', `connection to twin ${channel.twin.id} closed`));
    }
  }

  private drop(channel: Channel, error: BusError): void {
    if (channel.closed) return;
    channel.closed = true;
    this.channels.delete(channel.twin.id);
    for (const p of channel.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    channel.pending.clear();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.sleeping) clearTimeout(t);
    for (const t of this.sleeping) clearTimeout(t);
    await this.o.host.unhandle(BUS_PROTOCOL).catch(() => {});
    for (const ch of this.channels.values())
      ch.then(
        (c) => this.drop(c, new BusError('unreachable', 'bus stopped')),
        () => {},
      );
  }
}

/**
 * Stores a signed one-way message in `mailbox`'s outbox without sending it: whichever bus
 * process runs with that mailbox (the twin's daemon, or a CLI) delivers it.
 */
export function queueMessage(
  mailbox: Mailbox,
  identity: TwinIdentity,
  from: number,
  to: number,
  command: string,
  payload: Uint8Array,
  ttlMs = MAX_TTL,
): OutboxMessage {
  const ttl = Math.min(ttlMs, MAX_TTL);
  return mailbox.enqueue(to, (seq) => {
    const header: EnvelopeHeader = {
      id: randomBytes(16).toString('hex'),
      kind: 'message',
      from,
      to,
      command,
      created: Date.now(),
      ttl,
      seq,
    };
    return {
      id: header.id,
      command,
      frame: sealEnvelope(identity, header, payload),
      created: header.created,
      ttl,
    };
  });
}
