/**
 * Inbound side of the bus: reads envelopes from the streams other twins open to this one, checks
 * each, runs request handlers (concurrently) and hands one-way messages to the inbox (strictly in
 * arrival order), and writes the answers back on the same stream.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { TwinRecord } from '@twin/phonebook';
import {
  FRAME_OVERHEAD,
  MAX_REMEMBERED_PER_TWIN,
  MAX_REMEMBERED_REQUESTS,
  MAX_STREAM_INFLIGHT,
  MAX_TTL_MS,
} from './constants.ts';
import type { BusContext } from './context.ts';
import {
  type Envelope,
  type EnvelopeHeader,
  envelopeHeader,
  frameEnvelope,
  openEnvelope,
  verifyEnvelope,
} from './envelope.ts';
import { NetworkError, type NetworkErrorCode } from './errors.ts';
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

/** Stores a checked one-way message (or recognises a duplicate); throws NetworkError to refuse it. */
export type MessageSink = (env: Envelope) => void;

export interface InboundStats {
  requests: number;
  refused: Map<NetworkErrorCode, number>;
}

export class Inbound {
  readonly handlers = new Map<string, Handler>();
  /** Ids of signed requests seen, until they expire: sender → id → expiry. */
  private readonly seen = new Map<number, Map<string, number>>();
  private remembered = 0;
  private swept = 0;

  constructor(
    private readonly ctx: BusContext,
    private readonly stats: InboundStats,
    private readonly peers: Peers,
    private readonly store: MessageSink,
  ) {}

  private refuse(code: NetworkErrorCode): void {
    this.stats.refused.set(code, (this.stats.refused.get(code) ?? 0) + 1);
  }

  /**
   * Serves one inbound bus stream until it closes; never rejects. At most MAX_STREAM_INFLIGHT
   * envelopes are unanswered at once: past that the stream is not read (Yamux's window then
   * pushes back on the peer) until answers are written.
   */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: this.ctx.maxPayload + FRAME_OVERHEAD });
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
    // One-way messages are stored strictly in arrival order; requests run concurrently.
    let ordered: Promise<void> = Promise.resolve();
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
        if (kind !== 'message' && kind !== 'request') continue;
        inflight++;
        const work = () => this.answer(env, connection).then(send, release);
        if (kind === 'message') ordered = ordered.then(work);
        else void work();
      }
    } catch (e) {
      // stream closed or oversized frame: the peer reconnects if it wants to
      stream.abort(new NetworkError('bad_envelope', 'bus stream closed', { cause: e }));
    } finally {
      stream.removeEventListener('close', wake);
    }
  }

  /** Checks and handles one request or message; resolves with the answer frame, never rejects. */
  private async answer(env: Envelope, connection: Connection): Promise<Buffer | null> {
    const h = env.header;
    try {
      await this.check(env, connection);
      if (h.kind === 'message') {
        this.store(env);
        return this.respond(h, Buffer.alloc(0));
      }
      const handler = this.handlers.get(h.command);
      if (!handler) throw new NetworkError('unknown_command', `no handler for "${h.command}"`);
      this.stats.requests++;
      let out: Uint8Array | undefined;
      try {
        out = await handler(env.payload, { from: h.from, envelope: h });
      } catch (e) {
        throw new NetworkError('handler_error', (e as Error).message, { cause: e });
      }
      return this.respond(h, out ?? Buffer.alloc(0));
    } catch (e) {
      const err =
        e instanceof NetworkError ? e : new NetworkError('handler_error', (e as Error).message, { cause: e });
      this.refuse(err.code);
      try {
        return this.respond(h, Buffer.alloc(0), { code: err.code, message: err.message });
      } catch (inner) {
        this.ctx.log.warn({ err: inner }, 'twin bus: could not frame an error response');
        return null;
      }
    }
  }

  /**
   * Every check an incoming envelope must pass; throws NetworkError. The sender is the twin the
   * connection is authenticated as (peers.ts): an envelope claiming any other `from` is refused,
   * signed or not, so no twin — nor a relay, nor a stranger — can speak as another.
   */
  private async check(env: Envelope, connection: Connection): Promise<TwinRecord> {
    const h = env.header;
    if (env.payload.length > this.ctx.maxPayload)
      throw new NetworkError(
        'too_large',
        `payload of ${env.payload.length} bytes exceeds ${this.ctx.maxPayload}`,
      );
    if (h.to !== this.ctx.twinId)
      throw new NetworkError('wrong_recipient', `addressed to twin ${h.to}, this is twin ${this.ctx.twinId}`);
    const sender = await this.peers.twin(connection);
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
    return sender;
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
    if (full() && now - this.swept >= 1000) {
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
    const header = envelopeHeader('response', this.ctx.twinId, request.from, request.command, {
      re: request.id,
      ...(error ? { error } : {}),
    });
    return frameEnvelope(header, payload);
  }
}
