/**
 * Outbound side of request/response: one long-lived bus stream per peer carries many requests,
 * correlated by envelope id. A channel is opened only to a connection whose Noise-authenticated
 * peer key is the key in the twin's phonebook record, so every response read from it is the
 * twin's own: responses are not signed and not verified one by one.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import type { TwinRecord } from '@twin/phonebook';
import { BUS_PROTOCOL, DIAL_TIMEOUT_MS } from './constants.ts';
import {
  type BusContext,
  type BusLogger,
  background,
  busStreamLimits,
  resolveTwin,
  scopedLogger,
} from './context.ts';
import { type Envelope, openEnvelope } from './envelope.ts';
import { NetworkError, remoteError } from './errors.ts';
import { FrameWriter } from './frames.ts';
import { peerIdOf, peerSigningKey } from './host.ts';

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** An outbound stream to one twin, with its in-flight requests. */
export interface Channel {
  twin: TwinRecord;
  stream: Stream;
  lp: LengthPrefixedStream<Stream>;
  writer: FrameWriter;
  pending: Map<string, Pending>;
  closed: boolean;
}

export class Channels {
  private readonly log: BusLogger;
  private readonly open = new Map<number, Promise<Channel>>();
  /** The channels of `open` that are ready. */
  private readonly ready = new Map<number, Channel>();

  constructor(private readonly ctx: BusContext) {
    this.log = scopedLogger(ctx.log, 'channels');
  }

  /** The channel to a twin, dialled on first use; NetworkError `unknown_twin`, `unreachable`, `stopped`. */
  async get(ref: string | number): Promise<Channel> {
    if (this.ctx.stopped()) throw new NetworkError('stopped', 'the bus is stopped');
    const twin = await resolveTwin(this.ctx, ref);
    const current = this.ready.get(twin.id);
    // The twin's key changed (rotated): the channel was authenticated by a key that no longer
    // vouches for it.
    if (current && current.twin.signingKey !== twin.signingKey)
      this.drop(current, new NetworkError('unreachable', `twin ${twin.id} changed its key`));
    let ch = this.open.get(twin.id);
    if (!ch) {
      ch = this.dial(twin, ref);
      this.open.set(twin.id, ch);
      ch.then(
        (c) => {
          if (!c.closed) this.ready.set(twin.id, c);
        },
        () => this.open.delete(twin.id),
      );
    }
    return ch;
  }

  /**
   * Writes a frame and waits for the response that answers `id`: its payload, or a NetworkError
   * with the code the peer answered, `timeout`, `unreachable` or `stopped`.
   */
  exchange(channel: Channel, id: string, frame: Buffer, command: string, timeoutMs: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (channel.closed) {
        reject(new NetworkError('unreachable', `connection to twin ${channel.twin.id} closed`));
        return;
      }
      const timer = setTimeout(() => {
        channel.pending.delete(id);
        reject(
          new NetworkError(
            'timeout',
            `no response from twin ${channel.twin.id} to "${command}" within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      channel.pending.set(id, { resolve, reject, timer });
      channel.writer.write(frame);
    });
  }

  /**
   * A connection authenticated as the twin's current key: an open one if there is one, else a
   * dial of its published addresses. NetworkError `unknown_twin`, `unreachable`, `stopped`.
   */
  async connect(ref: string | number): Promise<{ twin: TwinRecord; connection: Connection }> {
    if (this.ctx.stopped()) throw new NetworkError('stopped', 'the bus is stopped');
    const twin = await resolveTwin(this.ctx, ref);
    const open = this.ctx.host.getConnections(peerIdOf(twin)).find((c) => c.status === 'open');
    if (open) return { twin, connection: open };
    return this.dialTwin(twin, ref);
  }

  private async dial(twin: TwinRecord, ref: string | number): Promise<Channel> {
    const { twin: record, connection } = await this.dialTwin(twin, ref);
    try {
      const stream = await connection.newStream(BUS_PROTOCOL, { runOnLimitedConnection: true });
      return this.attach(record, stream);
    } catch (e) {
      throw new NetworkError(
        'unreachable',
        `twin ${record.id} refused a bus stream: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  /**
   * Dials the twin's published addresses and keeps the first connection whose Noise-proven key is
   * the record's; on failure re-resolves (the twin may have moved) and tries once more.
   */
  private async dialTwin(
    twin: TwinRecord,
    ref: string | number,
  ): Promise<{ twin: TwinRecord; connection: Connection }> {
    let record = twin;
    let lastError = 'no addresses published';
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const addr of record.addresses) {
        try {
          const connection = await this.ctx.host.dial(multiaddr(addr), {
            signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
          });
          if (peerSigningKey(connection.remotePeer) !== record.signingKey) {
            lastError = `${addr} is not twin ${record.id}`;
            continue;
          }
          this.ctx.presence.seen(record.id, connection.remotePeer);
          return { twin: record, connection };
        } catch (e) {
          lastError = (e as Error).message;
        }
      }
      if (attempt === 0) record = await resolveTwin(this.ctx, ref, true);
    }
    throw new NetworkError('unreachable', `twin ${record.id} (${record.name}) unreachable: ${lastError}`);
  }

  private attach(twin: TwinRecord, stream: Stream): Channel {
    const lp = lpStream(stream, busStreamLimits(this.ctx.maxPayload));
    const channel: Channel = {
      twin,
      stream,
      lp,
      writer: new FrameWriter(lp, (e) =>
        this.drop(
          channel,
          new NetworkError('unreachable', `send to twin ${twin.id} failed: ${e.message}`, { cause: e }),
        ),
      ),
      pending: new Map(),
      closed: false,
    };
    if (this.ctx.stopped()) this.drop(channel, new NetworkError('stopped', 'the bus is stopped'));
    else background(this.log, `reading responses of twin ${twin.id}`, () => this.readResponses(channel));
    return channel;
  }

  private async readResponses(channel: Channel): Promise<void> {
    try {
      for (;;) {
        const frame = await channel.lp.read();
        let env: Envelope;
        try {
          env = openEnvelope(frame.subarray());
        } catch {
          continue; // malformed: whatever it answered times out
        }
        const h = env.header;
        const pending = h.re ? channel.pending.get(h.re) : undefined;
        if (!pending || h.kind !== 'response' || h.from !== channel.twin.id || h.to !== this.ctx.twinId)
          continue;
        channel.pending.delete(h.re!);
        clearTimeout(pending.timer);
        this.ctx.presence.seen(channel.twin.id);
        if (h.error) pending.reject(remoteError(channel.twin.id, h.error));
        else pending.resolve(Buffer.from(env.payload));
      }
    } catch (e) {
      this.drop(
        channel,
        new NetworkError('unreachable', `connection to twin ${channel.twin.id} closed`, { cause: e }),
      );
    }
  }

  /** Closes a channel and rejects everything pending on it with `error`. */
  drop(channel: Channel, error: NetworkError): void {
    if (channel.closed) return;
    channel.closed = true;
    const ready = this.ready.get(channel.twin.id);
    if (ready === channel || ready === undefined) {
      this.ready.delete(channel.twin.id);
      this.open.delete(channel.twin.id);
    }
    for (const p of channel.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    channel.pending.clear();
    channel.stream.abort(error);
  }

  /** Closes every channel, rejecting what is pending with NetworkError `stopped`; waits for dials under way. */
  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    this.ready.clear();
    await Promise.all(
      all.map((ch) =>
        ch.then(
          (c) => this.drop(c, new NetworkError('stopped', 'the bus is stopped')),
          () => {},
        ),
      ),
    );
  }
}
