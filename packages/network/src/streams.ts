/**
 * Byte streams between twins, for bytes too large for an envelope (an experience's files): one
 * libp2p stream per byte stream, on a connection authenticated exactly as a request's is.
 *
 * Wire: every frame is `u8 type ‖ u32 length ‖ body`. The caller opens with OPEN (body: an
 * unsigned `stream` envelope naming the command, checked like a request: the connection's twin,
 * recipient, expiry, a handler); the other side answers ACCEPT (body: a response envelope, with
 * an error when refused). Then each side sends DATA frames (at most STREAM_CHUNK bytes each) and
 * one END when it has no more, or ERROR (body: `{code, message}`) when it failed. Back-pressure is
 * by credit: a writer may be STREAM_WINDOW bytes ahead of what its reader has read; the reader
 * grants more (CREDIT: the u64 count of bytes it has read) as its consumer reads, so `write()`
 * waits for a slow reader and a reader never holds more than a window — whatever the size of the
 * transfer (pausing the libp2p stream did not hold a writer back in our tests: hence credit). The
 * libp2p stream closes once both sides sent END.
 */
import type { Connection, Stream } from '@libp2p/interface';
import type { TwinRecord } from '@twin/phonebook';
import {
  FRAME_OVERHEAD,
  MAX_ERROR_MESSAGE,
  STREAM_CHUNK,
  STREAM_OPEN_TIMEOUT_MS,
  STREAM_PROTOCOL,
  STREAM_WINDOW,
} from './constants.ts';
import type { BusContext } from './context.ts';
import {
  type Envelope,
  type EnvelopeHeader,
  envelopeHeader,
  frameEnvelope,
  openEnvelope,
  responseFrame,
} from './envelope.ts';
import { asNetworkError, NetworkError, remoteError } from './errors.ts';

const EMPTY = Buffer.alloc(0);

const OPEN = 0;
const ACCEPT = 1;
const DATA = 2;
const END = 3;
const ERROR = 4;
const CREDIT = 5;
const HEADER = 5;
/** Largest body of a frame: a chunk, or an envelope of the handshake. */
const MAX_BODY = STREAM_CHUNK + FRAME_OVERHEAD;

/** What a stream handler is told about the caller. */
export interface StreamContext {
  /** The verified caller: the twin its connection's Noise key belongs to. */
  from: number;
  envelope: EnvelopeHeader;
}

/** Handles byte streams of one command: read the caller's bytes from `stream`, write any answer. */
export type StreamHandler = (stream: TwinStream, ctx: StreamContext) => Promise<void> | void;

/**
 * One side of a byte stream to another twin. Read the other side's bytes with `for await`; write
 * with `write()` and finish with `end()`. Reading throws NetworkError: the code the other side
 * failed with (`handler_error` when its handler threw), `unreachable` when the connection broke,
 * `stopped` when this bus stopped; writing throws the same.
 */
export interface TwinStream extends AsyncIterable<Uint8Array> {
  /** The twin on the other side (verified by its connection's key). */
  readonly twin: number;
  /** The command the stream was opened for. */
  readonly command: string;
  /**
   * Writes bytes, cut into chunks of STREAM_CHUNK and copied (the buffer may be reused once this
   * resolves). Waits while the reader is STREAM_WINDOW bytes behind: back-pressure. Throws
   * NetworkError as reading does, `bad_envelope` after `end()`.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Writes every chunk of `source`, then `end()`. Throws as `write()` does. */
  writeAll(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void>;
  /** Tells the other side that no more bytes follow. Idempotent; throws as `write()` does. */
  end(): Promise<void>;
  /** Aborts both directions at once: the other side's reader throws `unreachable`. Never throws. */
  abort(error?: NetworkError): void;
  /** Reads (and drops) the rest of the other side's bytes; resolves at its end, throws as reading does. */
  done(): Promise<void>;
}

/** The implementation of {@link TwinStream} over one libp2p stream (internal). */
class ByteStream implements TwinStream {
  private pending = Buffer.alloc(0);
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  /** Bytes of the other side's DATA this side has read (told to it in CREDIT frames). */
  private consumed = 0;
  private credited = 0;
  /** Bytes of DATA this side sent, and how many the other side allows (its reads + a window). */
  private sentData = 0;
  private allowed = STREAM_WINDOW;
  private creditWake: (() => void) | null = null;
  private ended = false;
  private sentEnd = false;
  private failure: NetworkError | null = null;
  private wake: (() => void) | null = null;
  /** Frames of the handshake, for `next()` while opening. */
  private control: { type: number; body: Buffer }[] = [];

  /** @internal Made by the bus; `twin` is the other side (set once a served stream is accepted). */
  constructor(
    private twinId: number,
    private commandName: string,
    private readonly stream: Stream,
  ) {
    stream.addEventListener('message', (evt) => this.onData(evt.data.subarray()));
    stream.addEventListener('remoteCloseWrite', () => this.onClose(undefined));
    stream.addEventListener('close', (evt) => this.onClose((evt as { error?: Error }).error));
  }

  /** The twin on the other side. */
  get twin(): number {
    return this.twinId;
  }

  /** The command the stream was opened for. */
  get command(): string {
    return this.commandName;
  }

  /** @internal Names the other side of a served stream once its OPEN is verified. */
  accepted(twin: number, command: string): void {
    this.twinId = twin;
    this.commandName = command;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
    const c = this.creditWake;
    this.creditWake = null;
    c?.();
  }

  private onData(data: Uint8Array): void {
    this.pending = this.pending.length === 0 ? Buffer.from(data) : Buffer.concat([this.pending, data]);
    while (this.pending.length >= HEADER) {
      const type = this.pending[0]!;
      const length = this.pending.readUInt32BE(1);
      if (length > MAX_BODY) {
        this.fail(new NetworkError('bad_envelope', `stream frame of ${length} bytes`), true);
        return;
      }
      if (this.pending.length < HEADER + length) break;
      const body = this.pending.subarray(HEADER, HEADER + length);
      this.pending = this.pending.subarray(HEADER + length);
      this.onFrame(type, body);
    }
  }

  private onFrame(type: number, body: Buffer): void {
    if (type === DATA && !this.ended && !this.failure) {
      this.chunks.push(body);
      this.queued += body.length;
      // the writer may be ahead by one window (and the chunk that crossed it), never more
      if (this.queued > STREAM_WINDOW + STREAM_CHUNK) {
        this.fail(new NetworkError('bad_envelope', `twin ${this.twinId} wrote past its credit`), true);
        return;
      }
    } else if (type === CREDIT && body.length === 8) {
      this.allowed = Math.max(this.allowed, Number(body.readBigUInt64BE(0)) + STREAM_WINDOW);
    } else if (type === END) {
      this.ended = true;
      this.maybeClose();
    } else if (type === ERROR) {
      let error = { code: 'bad_envelope', message: 'malformed error frame' };
      try {
        const e = JSON.parse(body.toString()) as { code?: unknown; message?: unknown };
        if (typeof e.code === 'string' && typeof e.message === 'string')
          error = { code: e.code, message: e.message.slice(0, MAX_ERROR_MESSAGE) };
      } catch {
        // keep bad_envelope
      }
      this.failure ??= remoteError(this.twin, error);
    } else if (type === OPEN || type === ACCEPT) this.control.push({ type, body });
    this.notify();
  }

  private onClose(error: Error | undefined): void {
    if (!this.ended && !this.failure)
      this.failure = new NetworkError('unreachable', `stream with twin ${this.twin} closed before its end`, {
        cause: error,
      });
    this.notify();
  }

  /** Fails the stream locally: reading throws `error`; with `reset`, the libp2p stream is aborted. */
  private fail(error: NetworkError, reset: boolean): void {
    this.failure ??= error;
    if (reset) this.stream.abort(error);
    this.notify();
  }

  /** @internal The next handshake frame, or null when the stream closed first. */
  async nextControl(timeoutMs: number): Promise<{ type: number; body: Buffer } | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.control.length === 0 && !this.failure && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.control.shift() ?? null;
  }

  /** @internal Sends one frame, waiting while the connection's buffer is full. */
  async sendFrame(type: number, body: Uint8Array): Promise<void> {
    if (this.failure && type !== ERROR) throw this.failure;
    const header = Buffer.allocUnsafe(HEADER);
    header[0] = type;
    header.writeUInt32BE(body.length, 1);
    try {
      this.stream.send(header);
      if (!this.stream.send(body)) await this.stream.onDrain();
    } catch (e) {
      throw (
        this.failure ??
        new NetworkError('unreachable', `stream with twin ${this.twin} broke: ${(e as Error).message}`, {
          cause: e,
        })
      );
    }
  }

  /**
   * Writes bytes (cut into chunks of STREAM_CHUNK); resolves when the connection took them, so a
   * writer that awaits each write never holds more than a window. Throws NetworkError as reading
   * does, or `bad_envelope` after `end()`.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.sentEnd) throw new NetworkError('bad_envelope', 'write after end()');
    for (let at = 0; at < bytes.length; at += STREAM_CHUNK) {
      // copied: the caller may reuse its buffer as soon as write() resolves
      const chunk = Buffer.from(bytes.subarray(at, Math.min(bytes.length, at + STREAM_CHUNK)));
      while (this.sentData + chunk.length > this.allowed && !this.failure)
        await new Promise<void>((resolve) => {
          this.creditWake = resolve;
        });
      this.sentData += chunk.length;
      await this.sendFrame(DATA, chunk);
    }
  }

  /** Writes every chunk of `source`, then ends the stream. Throws as `write()` does. */
  async writeAll(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    for await (const chunk of source) await this.write(chunk);
    await this.end();
  }

  /** Tells the other side that no more bytes follow (closes the writing half). Idempotent. */
  async end(): Promise<void> {
    if (this.sentEnd) return;
    this.sentEnd = true;
    await this.sendFrame(END, EMPTY);
    this.maybeClose();
  }

  /** Closes the libp2p stream once both sides sent END (CREDIT frames flow until then). */
  private maybeClose(): void {
    if (this.sentEnd && this.ended) void this.stream.close().catch(() => {});
  }

  /** @internal Ends with an error the other side's reader throws (its code and message). */
  async endWithError(error: NetworkError): Promise<void> {
    if (this.sentEnd) return;
    this.sentEnd = true;
    const body = Buffer.from(
      JSON.stringify({ code: error.code, message: error.message.slice(0, MAX_ERROR_MESSAGE) }),
    );
    await this.sendFrame(ERROR, body).catch(() => {});
    await this.stream.close().catch(() => {});
  }

  /** Aborts both directions at once: the other side's reader throws `unreachable`. Never throws. */
  abort(error: NetworkError = new NetworkError('stopped', 'the stream was aborted')): void {
    this.fail(error, true);
  }

  /** Reads (and drops) the rest of the other side's bytes; resolves at its end, throws as reading does. */
  async done(): Promise<void> {
    for await (const _ of this) {
      // discarded
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk) {
        this.queued -= chunk.length;
        this.consumed += chunk.length;
        if (this.consumed - this.credited >= STREAM_WINDOW / 2 && !this.ended) {
          this.credited = this.consumed;
          const credit = Buffer.alloc(8);
          credit.writeBigUInt64BE(BigInt(this.consumed));
          await this.sendFrame(CREDIT, credit).catch(() => {}); // a broken stream fails the reader below
        }
        yield chunk;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

/** Byte streams of a bus: opening them to other twins, serving those opened to this one. */
export class Streams {
  readonly handlers = new Map<string, StreamHandler>();
  private readonly open = new Set<ByteStream>();

  constructor(
    private readonly ctx: BusContext,
    /** The connection's twin (peers.ts); throws NetworkError. */
    private readonly twinOf: (connection: Connection) => Promise<TwinRecord>,
    /** Every check an envelope must pass (inbound.ts); throws NetworkError. */
    private readonly check: (env: Envelope, sender: TwinRecord) => void,
  ) {}

  private track(s: ByteStream, stream: Stream): void {
    this.open.add(s);
    stream.addEventListener('close', () => this.open.delete(s), { once: true });
  }

  /**
   * Opens a byte stream to `twin` for `command` on `connection` (authenticated as that twin's
   * key). Resolves once the other side accepted it; NetworkError `unknown_command`,
   * `unknown_twin`, `bad_signature`, `timeout`, `unreachable`, `stopped`.
   */
  async openTo(twin: TwinRecord, connection: Connection, command: string): Promise<TwinStream> {
    let stream: Stream;
    try {
      stream = await connection.newStream(STREAM_PROTOCOL, { runOnLimitedConnection: true });
    } catch (e) {
      throw new NetworkError(
        'unreachable',
        `twin ${twin.id} refused a byte stream: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    const s = new ByteStream(twin.id, command, stream);
    this.track(s, stream);
    if (this.ctx.stopped()) s.abort(new NetworkError('stopped', 'the bus is stopped'));
    const header = envelopeHeader('stream', this.ctx.twinId, twin.id, command);
    await s.sendFrame(OPEN, frameEnvelope(header, EMPTY));
    const answer = await s.nextControl(STREAM_OPEN_TIMEOUT_MS);
    if (!answer) {
      s.abort(new NetworkError('timeout', 'no answer'));
      throw new NetworkError('timeout', `twin ${twin.id} did not accept the stream "${command}" in time`);
    }
    let h: EnvelopeHeader;
    try {
      h = openEnvelope(answer.body).header;
    } catch (e) {
      s.abort(e as NetworkError);
      throw e;
    }
    if (answer.type !== ACCEPT || h.kind !== 'response' || h.re !== header.id || h.from !== twin.id) {
      const e = new NetworkError('bad_envelope', `twin ${twin.id} answered the stream "${command}" wrongly`);
      s.abort(e);
      throw e;
    }
    if (h.error) {
      const e = remoteError(twin.id, h.error);
      s.abort(e);
      throw e;
    }
    return s;
  }

  /** Serves a byte stream another twin opened; never rejects. */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    if (this.ctx.stopped()) {
      stream.abort(new NetworkError('stopped', 'the bus is stopped'));
      return;
    }
    const s = new ByteStream(-1, '', stream);
    this.track(s, stream);
    const open = await s.nextControl(STREAM_OPEN_TIMEOUT_MS);
    if (!open || open.type !== OPEN) {
      s.abort(new NetworkError('bad_envelope', 'a byte stream must open with OPEN'));
      return;
    }
    let env: Envelope;
    try {
      env = openEnvelope(open.body);
    } catch {
      s.abort(new NetworkError('bad_envelope', 'malformed OPEN'));
      return;
    }
    const header = env.header;
    let handler: StreamHandler | undefined;
    let from: number;
    try {
      if (header.kind !== 'stream')
        throw new NetworkError('bad_envelope', 'OPEN must carry a stream envelope');
      const sender = await this.twinOf(connection);
      this.check(env, sender);
      from = sender.id;
      handler = this.handlers.get(header.command);
      if (!handler) throw new NetworkError('unknown_command', `no stream handler for "${header.command}"`);
    } catch (e) {
      const { code, message } = asNetworkError(e);
      await s
        .sendFrame(ACCEPT, responseFrame(this.ctx.twinId, header, EMPTY, { code, message }))
        .catch(() => {});
      await stream.close().catch(() => {});
      return;
    }
    const served = s;
    served.accepted(from, header.command);
    try {
      await served.sendFrame(ACCEPT, responseFrame(this.ctx.twinId, header, EMPTY));
      await handler(served, { from, envelope: header });
      await served.end();
    } catch (e) {
      const err =
        e instanceof NetworkError && e.code === 'stopped'
          ? e
          : new NetworkError('handler_error', (e as Error).message, { cause: e });
      await served.endWithError(err);
    }
  }

  /** Aborts every open byte stream with NetworkError `stopped`. Never throws. */
  close(): void {
    for (const s of this.open) s.abort(new NetworkError('stopped', 'the bus is stopped'));
    this.open.clear();
  }
}
