/**
 * Inbound side of the bus: reads envelopes from the streams other twins open to this one, checks
 * each, runs request handlers (concurrently) and hands one-way messages to the inbox (strictly in
 * arrival order), and writes the answers back on the same stream.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { PhonebookError, type TwinRecord } from '@twin/phonebook';
import { FRAME_OVERHEAD, MAX_REMEMBERED_REQUESTS, MAX_TTL_MS } from './constants.ts';
import { type BusContext, background } from './context.ts';
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
import { peerSigningKey } from './host.ts';

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
  /** Ids of signed requests seen, until they expire: `${from}:${id}` → expiry. */
  private readonly seen = new Map<string, number>();
  private swept = 0;

  constructor(
    private readonly ctx: BusContext,
    private readonly stats: InboundStats,
    private readonly store: MessageSink,
  ) {}

  private refuse(code: NetworkErrorCode): void {
    this.stats.refused.set(code, (this.stats.refused.get(code) ?? 0) + 1);
  }

  /** Serves one inbound bus stream until it closes; never rejects. */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: this.ctx.maxPayload + FRAME_OVERHEAD });
    const peerKey = peerSigningKey(connection.remotePeer);
    const writer = new FrameWriter(lp, () => {}); // the peer went away: the read side notices
    const send = (frame: Buffer | null) => {
      if (frame) writer.write(frame);
    };
    // One-way messages are stored strictly in arrival order; requests run concurrently.
    let ordered: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        const frame = (await lp.read()).subarray();
        let env: Envelope;
        try {
          env = openEnvelope(frame);
        } catch {
          this.refuse('bad_envelope'); // nothing to answer: its id may be unreadable
          continue;
        }
        const work = () => this.answer(env, peerKey).then(send);
        if (env.header.kind === 'message')
          ordered = ordered
            .then(work)
            .catch((err: unknown) => this.ctx.log.warn({ err }, 'twin bus: storing a message failed'));
        else if (env.header.kind === 'request') background(this.ctx, 'answering a request', work);
      }
    } catch (e) {
      // stream closed or oversized frame: the peer reconnects if it wants to
      stream.abort(new NetworkError('bad_envelope', 'bus stream closed', { cause: e }));
    }
  }

  /** Checks and handles one request or message; resolves with the answer frame, never rejects. */
  private async answer(env: Envelope, peerKey: string | null): Promise<Buffer | null> {
    const h = env.header;
    try {
      await this.check(env, peerKey);
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

  /** Every check an incoming envelope must pass; throws NetworkError. */
  private async check(env: Envelope, peerKey: string | null): Promise<TwinRecord> {
    const h = env.header;
    if (env.payload.length > this.ctx.maxPayload)
      throw new NetworkError(
        'too_large',
        `payload of ${env.payload.length} bytes exceeds ${this.ctx.maxPayload}`,
      );
    if (h.to !== this.ctx.twinId)
      throw new NetworkError('wrong_recipient', `addressed to twin ${h.to}, this is twin ${this.ctx.twinId}`);
    let sender: TwinRecord;
    try {
      sender = await this.ctx.phonebook.twin(h.from);
      if (peerKey !== sender.signingKey) sender = await this.ctx.phonebook.twin(h.from, true);
    } catch (e) {
      if (e instanceof PhonebookError && e.code === 'not_found')
        throw new NetworkError('unknown_twin', `twin ${h.from} is not in the phonebook`, { cause: e });
      throw new NetworkError(
        'unknown_twin',
        `twin ${h.from} could not be verified: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    const signed = h.signed !== false;
    if (signed && !verifyEnvelope(env, sender.signingKey))
      throw new NetworkError('bad_signature', `envelope not signed by twin ${h.from}'s key`);
    if (peerKey !== sender.signingKey)
      throw new NetworkError('bad_signature', `connection is not authenticated as twin ${h.from}`);
    // A one-way message is stored and relied on after the connection is gone: it must be signed.
    if (!signed && h.kind === 'message')
      throw new NetworkError('bad_signature', 'a one-way message must be signed by its sender');
    const now = Date.now();
    if (h.ttl <= 0 || h.ttl > MAX_TTL_MS || h.created + h.ttl < now || h.created > now + this.ctx.skewMs)
      throw new NetworkError('expired', `envelope ${h.id} expired or not yet valid`);
    // Messages are deduplicated durably in the inbox; unsigned requests ride a Noise session,
    // which nobody else can replay into; signed requests could be captured and sent again.
    if (h.kind === 'request' && signed)
      this.remember(`${h.from}:${h.id}`, h.created + h.ttl + this.ctx.skewMs);
    return sender;
  }

  private remember(key: string, until: number): void {
    if (this.seen.has(key)) throw new NetworkError('replayed', `envelope ${key} was already received`);
    const now = Date.now();
    if (this.seen.size >= MAX_REMEMBERED_REQUESTS && now - this.swept >= 1000) {
      this.swept = now;
      for (const [k, t] of this.seen) if (t < now) this.seen.delete(k);
    }
    if (this.seen.size >= MAX_REMEMBERED_REQUESTS)
      throw new NetworkError('busy', 'too many signed requests in flight: retry later');
    this.seen.set(key, until);
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
