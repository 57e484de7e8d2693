/**
 * The twin bus facade: request/response (channels.ts out, inbound.ts in) and reliable one-way
 * delivery (delivery.ts, over the same channels and inbound streams), with one lifecycle.
 */
import { EventEmitter } from 'node:events';
import type { PeerId } from '@libp2p/interface';
import type { TwinIdentity } from '@twin/identity';
import type { PhonebookClient, TwinRecord } from '@twin/phonebook';
import { pino } from 'pino';
import { Channels } from './channels.ts';
import {
  BUS_PROTOCOL,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_SKEW_MS,
  MAX_INBOUND_BYTE_STREAMS,
  MAX_INBOUND_STREAMS,
  REQUEST_TIMEOUT_MS,
  STREAM_PROTOCOL,
} from './constants.ts';
import {
  type BusContext,
  type BusLogger,
  background,
  checkPayload,
  resolveTwin,
  scopedLogger,
} from './context.ts';
import { Delivery, type DeliveryEvent, type MessageHandler, type SendOptions } from './delivery.ts';
import { envelopeHeader, frameEnvelope } from './envelope.ts';
import { NetworkError, type NetworkErrorCode } from './errors.ts';
import { peerIdOf, type TwinHost } from './host.ts';
import { type Handler, Inbound } from './inbound.ts';
import type { InboxMessage, Mailbox } from './mailbox.ts';
import { Peers } from './peers.ts';
import { type Presence, PresenceBook } from './presence.ts';
import { type StreamHandler, Streams, type TwinStream } from './streams.ts';

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
  /** Where failures nobody awaits are logged (default: pino to stderr). */
  logger?: BusLogger;
}

export interface RequestOptions {
  /** How long to wait for the response (default 10 s). */
  timeoutMs?: number;
  /** How long the request stays valid (default 60 s). */
  ttlMs?: number;
}

export class TwinBus extends EventEmitter<{
  delivery: [DeliveryEvent];
  message: [InboxMessage];
  presence: [Presence];
}> {
  /** Requests answered, and envelopes refused by code. */
  readonly stats = { requests: 0, refused: new Map<NetworkErrorCode, number>() };
  private readonly ctx: BusContext;
  private readonly channels: Channels;
  private readonly inbound: Inbound;
  private readonly delivery: Delivery;
  private readonly streams: Streams;
  private readonly log: BusLogger;
  private stopped = false;
  private readonly onPeer = (evt: CustomEvent<PeerId>, connected: boolean) => {
    const twin = this.ctx.presence.twinOf(evt.detail);
    if (twin === undefined) return;
    try {
      this.emit('presence', { twin, connected, lastSeen: this.ctx.presence.last(twin) });
    } catch (err) {
      this.log.warn({ err }, 'twin bus: a presence listener threw');
    }
  };
  private readonly onConnect = (evt: CustomEvent<PeerId>) => this.onPeer(evt, true);
  private readonly onDisconnect = (evt: CustomEvent<PeerId>) => this.onPeer(evt, false);

  /** Throws nothing; `start()` registers the protocol. */
  constructor(o: BusOptions) {
    super();
    this.ctx = {
      identity: o.identity,
      twinId: o.twinId,
      host: o.host,
      phonebook: o.phonebook,
      mailbox: o.mailbox,
      maxPayload: o.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      skewMs: o.skewMs ?? DEFAULT_SKEW_MS,
      log: o.logger ?? pino({ name: 'twin-bus' }, pino.destination(2)),
      stopped: () => this.stopped,
      presence: new PresenceBook(),
    };
    this.channels = new Channels(this.ctx);
    this.delivery = new Delivery(this.ctx, this.channels, {
      delivery: (e) => this.emit('delivery', e),
      message: (m) => this.emit('message', m),
    });
    const peers = new Peers(this.ctx);
    this.inbound = new Inbound(this.ctx, this.stats, peers, (envs) => this.delivery.receive(envs));
    this.streams = new Streams(
      this.ctx,
      (connection) => peers.twin(connection),
      (env, sender) => this.inbound.checkEnvelope(env, sender),
    );
    this.log = scopedLogger(this.ctx.log, 'bus');
  }

  /** Serves the bus protocol and resumes deliveries a previous run left in the outbox; throws libp2p's errors. */
  async start(): Promise<void> {
    await this.ctx.host.handle(
      BUS_PROTOCOL,
      (stream, connection) => this.inbound.accept(stream, connection),
      { maxInboundStreams: MAX_INBOUND_STREAMS, runOnLimitedConnection: true },
    );
    await this.ctx.host.handle(
      STREAM_PROTOCOL,
      (stream, connection) =>
        background(this.log, 'serving a byte stream', () => this.streams.serve(stream, connection)),
      { maxInboundStreams: MAX_INBOUND_BYTE_STREAMS, runOnLimitedConnection: true },
    );
    this.ctx.host.addEventListener('peer:connect', this.onConnect);
    this.ctx.host.addEventListener('peer:disconnect', this.onDisconnect);
    this.flushOutbox();
  }

  /**
   * Runs a handler in-process as if `from` had sent the request: for the twin's own local
   * control channel, whose callers are authenticated by other means (a 0600 unix socket).
   * Throws NetworkError `unknown_command`, or whatever the handler throws.
   */
  async invoke(command: string, payload: Uint8Array, from: number): Promise<Buffer> {
    const handler = this.inbound.handlers.get(command);
    if (!handler) throw new NetworkError('unknown_command', `no handler for "${command}"`);
    const header = envelopeHeader('request', from, this.ctx.twinId, command);
    return Buffer.from((await handler(Buffer.from(payload), { from, envelope: header })) ?? Buffer.alloc(0));
  }

  /** Starts delivery of every queued message (messages may be queued by another process); never throws. */
  flushOutbox(): void {
    this.delivery.flush();
  }

  /** Handles one-way messages of `command` (any command is stored in the inbox either way). Throws nothing. */
  onMessage(command: string, handler: MessageHandler): void {
    this.delivery.messageHandlers.set(command, handler);
  }

  /** Answers requests of `command`; what the handler throws reaches the caller as `handler_error`. Throws nothing. */
  handle(command: string, handler: Handler): void {
    this.inbound.handlers.set(command, handler);
  }

  /**
   * Sends a request and resolves with the response payload. Rejects with NetworkError: `too_large`,
   * `unknown_twin`, `unreachable`, `timeout`, `stopped`, or the code the peer refused it with.
   */
  async request(
    twin: string | number,
    command: string,
    payload: Uint8Array,
    o: RequestOptions = {},
  ): Promise<Buffer> {
    checkPayload(this.ctx, payload.length);
    const channel = await this.channels.get(twin);
    const header = envelopeHeader('request', this.ctx.twinId, channel.twin.id, command, {
      ...(o.ttlMs !== undefined ? { ttl: o.ttlMs } : {}),
    });
    return this.channels.exchange(
      channel,
      header.id,
      frameEnvelope(header, payload),
      command,
      o.timeoutMs ?? REQUEST_TIMEOUT_MS,
    );
  }

  /**
   * Reliable one-way delivery: the message is signed and stored in the outbox (durably) before
   * this resolves with its id, then delivered in order, retried with exponential backoff and
   * jitter until the recipient acknowledges it or its ttl runs out. Status: 'delivery' events.
   * Rejects with NetworkError `no_mailbox`, `too_large`, `unknown_twin`, `unreachable`.
   */
  send(twin: string | number, command: string, payload: Uint8Array, o: SendOptions = {}): Promise<string> {
    return this.delivery.send(twin, command, payload, o);
  }

  /**
   * Serves byte streams of `command` (see {@link TwinStream}): the handler reads the caller's
   * bytes and may write back; when it returns the stream ends, when it throws the caller's
   * reader throws NetworkError `handler_error` with its message. Throws nothing.
   */
  handleStream(command: string, handler: StreamHandler): void {
    this.streams.handlers.set(command, handler);
  }

  /**
   * Opens a byte stream to a twin's handler of `command`, on a connection authenticated as the
   * twin's key (the handler learns which twin calls, as for requests). Resolves once accepted.
   * Rejects with NetworkError `unknown_twin`, `unreachable`, `unknown_command`, `bad_signature`,
   * `timeout`, `stopped`. `stop()` aborts every open byte stream (readers throw `stopped`).
   */
  async openStream(twin: string | number, command: string): Promise<TwinStream> {
    const { twin: record, connection } = await this.channels.connect(twin);
    return this.streams.openTo(record, connection, command);
  }

  /**
   * Whether a twin's connection is open now and when it was last heard from — no network
   * involved beyond the (cached) phonebook lookup of `twin`. The same arrives as 'presence'
   * events when a connection to a twin this bus has verified opens or closes. Rejects with
   * NetworkError `unknown_twin` or `unreachable` (the phonebook could not be asked).
   */
  async presence(twin: string | number): Promise<Presence> {
    const record = await resolveTwin(this.ctx, twin);
    const connected = this.ctx.host.getConnections(peerIdOf(record)).some((c) => c.status === 'open');
    return { twin: record.id, connected, lastSeen: this.ctx.presence.last(record.id) };
  }

  /** A twin's verified phonebook record; rejects with NetworkError `unknown_twin` or `unreachable`. */
  phonebookTwin(ref: string | number): Promise<TwinRecord> {
    return resolveTwin(this.ctx, ref);
  }

  /**
   * Stops serving and sending. Everything it cancels settles: inbound streams are aborted (their
   * requests' answers are dropped, messages not yet committed are not acknowledged, so their
   * senders retry), pending requests reject with NetworkError `stopped`, delivery workers wake from their backoff and return (their messages
   * stay queued for the next run). Never throws.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ctx.host.removeEventListener('peer:connect', this.onConnect);
    this.ctx.host.removeEventListener('peer:disconnect', this.onDisconnect);
    await this.ctx.host.unhandle(BUS_PROTOCOL).catch(() => {});
    await this.ctx.host.unhandle(STREAM_PROTOCOL).catch(() => {});
    this.inbound.close();
    this.streams.close();
    await this.channels.closeAll();
    await this.delivery.stop();
  }
}
