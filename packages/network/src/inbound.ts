/**
 * Inbound side of the bus: reads envelopes from the streams other twins open to this one, checks
 * each, runs request handlers (concurrently) and hands one-way messages to the inbox (strictly in
 * arrival order), and writes the answers back on the same stream.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { TwinRecord } from '@twin/phonebook';
import {
  MAX_REMEMBERED_PER_TWIN,
  MAX_REMEMBERED_REQUESTS,
  MAX_STREAM_INFLIGHT,
  MAX_TTL_MS,
  REPLAY_SWEEP_INTERVAL_MS,
} from './constants.ts';
import { type BusContext, type BusLogger, background, busStreamLimits, scopedLogger } from './context.ts';
import {
  type Envelope,
  type EnvelopeHeader,
  openEnvelope,
  responseFrame,
  verifyEnvelope,
} from './envelope.ts';
import { asNetworkError, NetworkError, type NetworkErrorCode } from './errors.ts';
import { FrameWriter } from './frames.ts';
import type { Peers } from './peers.ts';

export interface RequestContext {
  /** The verified sender: its Noise key (and signature, when it signed) match its phonebook record. */
  from: number;
  envelope: EnvelopeHeader;
}

export type Handler = (
  payload: Buffer,
  ctx: RequestContext,
) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

/**
 * Stores checked one-way messages, in order, in one transaction (or recognises duplicates): for
 * each, null when stored or a duplicate, or the NetworkError it is refused with. Throws when the
 * batch as a whole could not be committed (then none of it is stored).
 */
export type MessageSink = (envs: Envelope[]) => (NetworkError | null)[];

const EMPTY = Buffer.alloc(0);

export interface InboundStats {
  requests: number;
  refused: Map<NetworkErrorCode, number>;
}

export class Inbound {
  private readonly log: BusLogger;
  readonly handlers = new Map<string, Handler>();
  /** The inbound streams being served. */
  private readonly streams = new Set<Stream>();
  /** Ids of signed requests seen, until they expire: sender → id → expiry. */
  private readonly seen = new Map<number, Map<string, number>>();
  private remembered = 0;
  private swept = 0;

  constructor(
    private readonly ctx: BusContext,
    private readonly stats: InboundStats,
    private readonly peers: Peers,
    private readonly store: MessageSink,
  ) {
    this.log = scopedLogger(ctx.log, 'inbound');
  }

  private refuse(code: NetworkErrorCode): void {
    this.stats.refused.set(code, (this.stats.refused.get(code) ?? 0) + 1);
  }

  /** Serves an inbound bus stream in the background (until it closes, or `close()`). */
  accept(stream: Stream, connection: Connection): void {
    if (this.ctx.stopped()) {
      stream.abort(new NetworkError('stopped', 'the bus is stopped'));
      return;
    }
    this.streams.add(stream);
    background(this.log, 'serving a stream', () =>
      this.serve(stream, connection).finally(() => this.streams.delete(stream)),
    );
  }

  /** Aborts every inbound stream being served. Never throws. */
  close(): void {
    for (const stream of this.streams) stream.abort(new NetworkError('stopped', 'the bus is stopped'));
    this.streams.clear();
  }

  /**
   * Serves one inbound bus stream until it closes; never rejects. At most MAX_STREAM_INFLIGHT
   * envelopes are unanswered at once: past that the stream is not read until answers are
   * written (libp2p buffers what the peer sends meanwhile up to two frames, then resets it).
   */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, busStreamLimits(this.ctx.maxPayload));
    const writer = new FrameWriter(lp, () => {}); // the peer went away: the read side notices
    let inflight = 0;
    let resume: (() => void) | null = null;
    const wake = () => {
      const r = resume;
      resume = null;
      r?.();
    };
    stream.addEventListener('close', wake, { once: true });
    const release = () => {
      inflight--;
      if (inflight < MAX_STREAM_INFLIGHT) wake();
    };
    const send = (frame: Buffer | null) => {
      if (frame) writer.write(frame, release);
      else release();
    };
    // One-way messages are stored strictly in arrival order, those that arrived together in one
    // transaction; requests run concurrently.
    const messages: Envelope[] = [];
    let storing = false;
    const store = async () => {
      storing = true;
      try {
        while (messages.length > 0) {
          await new Promise(setImmediate); // let the frames already received join the batch
          for (const frame of await this.messages(messages.splice(0), connection)) send(frame);
        }
      } finally {
        storing = false;
      }
    };
    try {
      for (;;) {
        if (inflight >= MAX_STREAM_INFLIGHT && stream.status === 'open')
          await new Promise<void>((r) => {
            resume = r;
          });
        const frame = (await lp.read()).subarray();
        let env: Envelope;
        try {
          env = openEnvelope(frame);
        } catch {
          this.refuse('bad_envelope'); // nothing to answer: its id may be unreadable
          continue;
        }
        const kind = env.header.kind;
        if (kind === 'request') {
          inflight++;
          void this.request(env, connection).then(send, release);
        } else if (kind === 'message') {
          inflight++;
          messages.push(env);
          if (!storing) void store();
        }
      }
    } catch (e) {
      // stream closed or oversized frame: the peer reconnects if it wants to
      stream.abort(new NetworkError('bad_envelope', 'bus stream closed', { cause: e }));
    } finally {
      stream.removeEventListener('close', wake);
    }
  }

  /** Checks and answers one request; resolves with the answer frame, never rejects. */
  private async request(env: Envelope, connection: Connection): Promise<Buffer | null> {
    const h = env.header;
    try {
      this.checkEnvelope(env, await this.peers.twin(connection));
      const handler = this.handlers.get(h.command);
      if (!handler) throw new NetworkError('unknown_command', `no handler for "${h.command}"`);
      this.stats.requests++;
      let out: Uint8Array | undefined;
      try {
        out = await handler(env.payload, { from: h.from, envelope: h });
      } catch (e) {
        throw new NetworkError('handler_error', (e as Error).message, { cause: e });
      }
      return this.respond(h, out ?? EMPTY);
    } catch (e) {
      return this.refusal(h, asNetworkError(e));
    }
  }

  /** Checks and stores one-way messages; resolves with their answer frames, in order, never rejects. */
  private async messages(envs: Envelope[], connection: Connection): Promise<(Buffer | null)[]> {
    const refused = new Map<Envelope, NetworkError>();
    const checked: Envelope[] = [];
    let sender: TwinRecord | NetworkError;
    try {
      sender = await this.peers.twin(connection);
    } catch (e) {
      sender = asNetworkError(e);
    }
    for (const env of envs) {
      try {
        if (sender instanceof NetworkError) throw sender;
        this.checkEnvelope(env, sender);
        checked.push(env);
      } catch (e) {
        refused.set(env, asNetworkError(e));
      }
    }
    if (checked.length > 0) {
      try {
        this.store(checked).forEach((err, i) => {
          if (err) refused.set(checked[i]!, err);
        });
      } catch (e) {
        const err = new NetworkError('handler_error', `storing messages failed: ${(e as Error).message}`, {
          cause: e,
        });
        for (const env of checked) refused.set(env, err);
      }
    }
    return envs.map((env) => {
      const err = refused.get(env);
      return err ? this.refusal(env.header, err) : this.respond(env.header, EMPTY);
    });
  }

  /** The error answer to an envelope (counted by code); null when even that cannot be framed. */
  private refusal(h: EnvelopeHeader, err: NetworkError): Buffer | null {
    this.refuse(err.code);
    try {
      return this.respond(h, EMPTY, { code: err.code, message: err.message });
    } catch (inner) {
      this.log.warn({ err: inner }, 'twin bus: could not frame an error response');
      return null;
    }
  }

  /**
   * Every check an incoming envelope must pass; throws NetworkError. `sender` is the twin the
   * connection is authenticated as (peers.ts): an envelope claiming any other `from` is refused,
   * signed or not, so no twin — nor a relay, nor a stranger — can speak as another.
   */
  checkEnvelope(env: Envelope, sender: TwinRecord): void {
    const h = env.header;
    if (env.payload.length > this.ctx.maxPayload)
      throw new NetworkError(
        'too_large',
        `payload of ${env.payload.length} bytes exceeds ${this.ctx.maxPayload}`,
      );
    if (h.to !== this.ctx.twinId)
      throw new NetworkError('wrong_recipient', `addressed to twin ${h.to}, this is twin ${this.ctx.twinId}`);
    if (h.from !== sender.id)
      throw new NetworkError(
        'bad_signature',
        `the connection is authenticated as twin ${sender.id}, not twin ${h.from}`,
      );
    const signed = h.signed !== false;
    if (signed && !verifyEnvelope(env, sender.signingKey))
      throw new NetworkError('bad_signature', `envelope not signed by twin ${h.from}'s key`);
    // A one-way message is stored and relied on after the connection is gone: it must be signed.
    if (!signed && h.kind === 'message')
      throw new NetworkError('bad_signature', 'a one-way message must be signed by its sender');
    const now = Date.now();
    if (h.ttl <= 0 || h.ttl > MAX_TTL_MS || h.created + h.ttl < now || h.created > now + this.ctx.skewMs)
      throw new NetworkError('expired', `envelope ${h.id} expired or not yet valid`);
    // Messages are deduplicated durably in the inbox. A request, signed or not, is accepted only
    // from its sender's own connection, so nobody else can replay it; a signed one is a statement
    // that could be captured elsewhere, so its id is still remembered until it expires.
    if (h.kind === 'request' && signed) this.remember(h.from, h.id, h.created + h.ttl + this.ctx.skewMs);
  }

  /**
   * Remembers a signed request's id; NetworkError `replayed` when seen before, `busy` when its
   * sender (or all senders together) already have as many unexpired ids remembered as allowed.
   */
  private remember(from: number, id: string, until: number): void {
    let ids = this.seen.get(from);
    if (ids?.has(id)) throw new NetworkError('replayed', `envelope ${from}:${id} was already received`);
    const now = Date.now();
    const full = () =>
      this.remembered >= MAX_REMEMBERED_REQUESTS || (ids?.size ?? 0) >= MAX_REMEMBERED_PER_TWIN;
    if (full() && now - this.swept >= REPLAY_SWEEP_INTERVAL_MS) {
      this.swept = now;
      for (const [twin, m] of this.seen) {
        for (const [k, t] of m)
          if (t < now) {
            m.delete(k);
            this.remembered--;
          }
        if (m.size === 0) this.seen.delete(twin);
      }
      ids = this.seen.get(from);
    }
    if (full()) throw new NetworkError('busy', 'too many signed requests in flight: retry later');
    if (!ids) {
      ids = new Map();
      this.seen.set(from, ids);
    }
    ids.set(id, until);
    this.remembered++;
  }

  /** The answer to a request or message, framed without a signature: the connection vouches for it. */
  private respond(
    request: EnvelopeHeader,
    payload: Uint8Array,
    error?: { code: NetworkErrorCode; message: string },
  ): Buffer {
    return responseFrame(this.ctx.twinId, request, payload, error);
  }
}
