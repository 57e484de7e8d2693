/** One pipelined connection: requests are written as they come, replies matched in order. */
import { connect, type Socket } from 'node:net';
import { type Reply, ReplyError, ReplyParser } from '../resp/replies.ts';
import { ZdbError } from './errors.ts';

/** A command argument; a list of Buffers is one argument made of those parts, sent uncopied. */
export type Arg = string | Buffer | number | readonly Buffer[];

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
  at: number;
}

/**
 * A connection unused this long is closed by the client (and opened again by the next command),
 * before the server's --idle-timeout (300 s by default) could close it under a command in flight.
 */
export const IDLE_CLOSE_MS = 60_000;

/** Bytes read from the socket at once. */
const READ_BUFFER = 256 * 1024;

/** Arguments at least this large are written from the caller's buffer, not copied. */
const LARGE_ARG = 64 * 1024;

export function encodeCommand(args: Arg[]): Buffer {
  return Buffer.concat(encodeCommandParts(args));
}

/**
 * The request as buffers to write in order: framing and small arguments joined, each large
 * Buffer argument by reference (so a 4 MiB value is not copied before the socket takes it).
 */
export function encodeCommandParts(args: Arg[]): Buffer[] {
  const out: Buffer[] = [];
  let head = `*${args.length}\r\n`;
  let small: Buffer[] = [];
  for (const a of args) {
    if (Array.isArray(a)) {
      const parts = a as readonly Buffer[];
      const length = parts.reduce((n, p) => n + p.length, 0);
      small.push(Buffer.from(`${head}$${length}\r\n`, 'latin1'));
      out.push(small.length === 1 ? small[0]! : Buffer.concat(small), ...parts);
      small = [];
      head = '\r\n';
      continue;
    }
    if (Buffer.isBuffer(a) && a.length >= LARGE_ARG) {
      small.push(Buffer.from(`${head}$${a.length}\r\n`, 'latin1'));
      out.push(small.length === 1 ? small[0]! : Buffer.concat(small), a);
      small = [];
      head = '\r\n';
      continue;
    }
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a as string | number));
    small.push(Buffer.from(`${head}$${b.length}\r\n`, 'latin1'), b);
    head = '\r\n';
  }
  small.push(Buffer.from(head, 'latin1'));
  out.push(small.length === 1 ? small[0]! : Buffer.concat(small));
  return out;
}

export interface Endpoint {
  host?: string;
  port?: number;
  path?: string;
}

export class PipelinedConnection {
  private socket: Socket | null = null;
  private readonly pending: Pending[] = [];
  private readonly parser = new ReplyParser();
  private ready: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastSend = 0;
  /** The socket last closed as idle (its close must not touch the next one). */
  private retired: Socket | null = null;
  closed = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly timeoutMs: number,
    /** Commands replayed on every (re)connect: AUTH, SELECT. */
    private readonly setup: () => Arg[][],
    private readonly idleMs = IDLE_CLOSE_MS,
  ) {}

  get inflight(): number {
    return this.pending.length;
  }

  private open(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      // Replies are read into one buffer reused for every read (no allocation per read); the
      // parser copies out what it keeps.
      const onread = {
        buffer: Buffer.allocUnsafe(READ_BUFFER),
        callback: (n: number, buf: Uint8Array) => {
          this.onData(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      };
      const s = this.endpoint.path
        ? connect({ path: this.endpoint.path, onread })
        : connect({ port: this.endpoint.port ?? 9900, host: this.endpoint.host ?? '127.0.0.1', onread });
      s.setNoDelay(true);
      const fail = (e: Error) => {
        const failed = () =>
          new ZdbError('connection_failed', `connection failed: ${e.message}`, {
            kind: 'connection',
            cause: e,
          });
        this.failAll(failed());
        this.ready = null;
        this.socket = null;
        reject(failed());
      };
      s.once('error', fail);
      s.once('connect', () => {
        s.off('error', fail);
        s.on('error', () => {});
        s.on('close', () => {
          if (s === this.retired) return; // closed as idle: nothing was pending on it
          this.failAll(new ZdbError('connection_closed', 'connection closed', { kind: 'connection' }));
          this.ready = null;
          this.socket = null;
        });
        this.socket = s;
        this.lastSend = Date.now();
        this.armIdle(this.idleMs);
        const steps = this.setup().map((args) => this.send(args));
        Promise.all(steps).then(
          () => resolve(),
          (e: Error) => {
            s.destroy();
            reject(e);
          },
        );
      });
    });
    return this.ready;
  }

  /** `chunk` is only valid during this call (the read buffer is reused). */
  private onData(chunk: Buffer): void {
    try {
      this.parser.push(chunk, true);
    } catch (e) {
      this.unreadable(e as Error);
      return;
    }
    for (;;) {
      let r: Reply | undefined;
      try {
        r = this.parser.next();
      } catch (e) {
        this.unreadable(e as Error);
        return;
      }
      if (r === undefined) break;
      const p = this.pending.shift();
      if (!p) continue;
      if (r instanceof ReplyError) p.reject(ZdbError.fromReply(r.message));
      else p.resolve(r);
    }
    if (this.pending.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** The server sent bytes that are not RESP: what waits learns why, and the link is dropped. */
  private unreadable(e: Error): void {
    this.failAll(e);
    this.socket?.destroy(e);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  private send(args: Arg[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const s = this.socket;
      if (!s) return reject(new ZdbError('not_connected', 'not connected', { kind: 'connection' }));
      const at = Date.now();
      this.lastSend = at;
      this.pending.push({ resolve, reject, at });
      const parts = encodeCommandParts(args);
      if (parts.length === 1) s.write(parts[0]!);
      else {
        // One writev for the request; the caller's large buffers go to the socket uncopied.
        s.cork();
        for (const p of parts) s.write(p);
        s.uncork();
      }
      this.arm();
    });
  }

  private arm(): void {
    if (this.timer || this.timeoutMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const oldest = this.pending[0];
      if (!oldest) return;
      const waited = Date.now() - oldest.at;
      if (waited >= this.timeoutMs) {
        this.failAll(new ZdbError('timeout', `no reply within ${this.timeoutMs} ms`, { kind: 'timeout' }));
        this.socket?.destroy();
      } else {
        this.arm();
      }
    }, this.timeoutMs);
    this.timer.unref();
  }

  /** Closes the socket once nothing was sent for `idleMs` and no reply is awaited. */
  private armIdle(delay: number): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      const s = this.socket;
      if (!s) return;
      const quiet = Date.now() - this.lastSend;
      if (this.pending.length === 0 && quiet >= this.idleMs) {
        this.retired = s;
        this.socket = null;
        this.ready = null;
        s.end();
      } else this.armIdle(Math.max(this.idleMs - quiet, 100));
    }, delay);
    this.idleTimer.unref();
  }

  async command(args: Arg[]): Promise<Reply> {
    if (this.closed) throw new ZdbError('client_closed', 'client closed', { kind: 'connection' });
    if (!this.socket) await this.open();
    return this.send(args);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket?.end();
    this.socket = null;
  }
}
