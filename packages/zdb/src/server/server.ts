/**
 * The 0-db server: RESP2 over TCP and a unix socket. Each received chunk is parsed into as many
 * complete commands as it holds; they run against the synchronous engine, the engine commits
 * once, and all replies leave in one write. With `sync`, replies that acknowledge writes wait
 * for one fdatasync shared by every client of the same tick.
 */
import { randomInt } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { DEFAULT_NAMESPACE, openEngine } from '../engine/engine.ts';
import type { Engine, HookEvent, NamespaceMode } from '../engine/types.ts';
import { NameTable } from '../resp/names.ts';
import { DEFAULT_LIMITS, type ParserLimits, ProtocolError, RequestParser } from '../resp/parser.ts';
import { ReplyWriter } from '../resp/reply.ts';
import { COMMANDS, type ServerContext, WRITES } from './commands.ts';
import { hookRunner } from './hooks.ts';
import { createSession, type Session } from './session.ts';

export interface ZdbServerOptions {
  listen: string;
  port: number;
  socket?: string;
  data: string;
  index: string;
  mode: NamespaceMode | 'mix';
  admin: string;
  protect: boolean;
  maxsize: number;
  datasize: number;
  sync: boolean;
  synctime: number;
  hook?: string;
  limits?: ParserLimits;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const NAMESPACE_REMOVED = 'Your active namespace is not available anymore (probably removed).';

export const VERSION = '2.0.8-twin';

export const DEFAULT_OPTIONS: ZdbServerOptions = {
  listen: '127.0.0.1',
  port: 9900,
  data: './zdb-data',
  index: './zdb-index',
  // 0-db v2 without --mode: mixed (new namespaces are user-key, NSSET ns mode seq switches one)
  mode: 'mix',
  admin: '',
  protect: false,
  maxsize: 0,
  datasize: 256 * 1024 * 1024,
  sync: false,
  synctime: 10,
};

interface Segment {
  buf: Buffer[] | null;
}

const NAMES = new NameTable(COMMANDS.keys());

/**
 * Every connection reads into this one buffer (requests are parsed and run before the next read;
 * the parser copies what it keeps). Smaller than the parser's LARGE_ARG, so a large value never
 * sits in it whole: the parser always copies it out chunk by chunk.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024 - 1);

/**
 * node:net's server has no `onread` option: the accepted handle moves to a Socket that reads into
 * READ_BUFFER, which skips a buffer allocation and the stream machinery per read. The accepted
 * Socket, left without a handle, is destroyed (the server stops counting it). Null when the
 * connection is already gone.
 */
function adopt(accepted: Socket, onData: (chunk: Buffer) => void): Socket | null {
  const holder = accepted as unknown as { _handle: object | null };
  const handle = holder._handle;
  if (!handle) return null;
  holder._handle = null;
  accepted.destroy();
  const callback = (n: number, buf: Buffer) => {
    onData(buf.subarray(0, n));
  };
  return new Socket({
    handle,
    readable: true,
    writable: true,
    onread: { buffer: READ_BUFFER, callback },
  } as never);
}

/** SET's value may arrive as chunks: the engine writes them to the data file as they are. */
const chunkable = (name: Buffer, index: number) =>
  index === 2 && name.length === 3 && name.toString('latin1').toUpperCase() === 'SET';

class Connection {
  readonly parser: RequestParser;
  private readonly segments: Segment[] = [];
  /** Closing once its replies are sent: what it sends from now on is not read. */
  ending = false;
  wrote = false;

  constructor(
    readonly socket: Socket,
    readonly session: Session,
    limits: ParserLimits,
    private readonly onTx: (n: number) => void,
  ) {
    this.parser = new RequestParser(limits, chunkable);
  }

  private write(bufs: Buffer[]): void {
    if (this.socket.destroyed) return;
    let ok = true;
    if (bufs.length > 1) this.socket.cork();
    for (const buf of bufs) {
      if (buf.length === 0) continue;
      this.onTx(buf.length);
      ok = this.socket.write(buf) && ok;
    }
    if (bufs.length > 1) this.socket.uncork();
    if (!ok) {
      this.socket.pause();
      this.socket.once('drain', () => this.socket.resume());
    }
  }

  send(buf: Buffer[]): void {
    if (this.segments.length === 0) {
      this.write(buf);
      if (this.ending) this.socket.end();
    } else {
      this.segments.push({ buf });
    }
  }

  /** Closes the connection once every reply before this point has been sent. */
  endAfterReplies(): void {
    this.ending = true;
    this.send([]);
  }

  /** Reserves the next place in the reply stream for a reply that is not ready yet. */
  hold(): Segment {
    const seg: Segment = { buf: null };
    this.segments.push(seg);
    return seg;
  }

  release(seg: Segment, buf: Buffer[]): void {
    seg.buf = buf;
    while (this.segments.length > 0 && this.segments[0]!.buf !== null)
      this.write(this.segments.shift()!.buf!);
    if (this.ending && this.segments.length === 0) this.socket.end();
  }
}

interface Watcher {
  conn: Connection;
  seg: Segment;
  command: string;
  timer: NodeJS.Timeout;
}

export class ZdbServer {
  readonly engine: Engine;
  private readonly servers: Server[] = [];
  private readonly conns = new Map<number, Connection>();
  private readonly out = new ReplyWriter();
  private readonly watchers = new Set<Watcher>();
  private tickQueue: { conn: Connection; seg: Segment; buf: Buffer[] }[] = [];
  private readQueue: { conn: Connection; seg: Segment; buf: Buffer[] }[] = [];
  private tickScheduled = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private closing = false;
  private readonly ctx: ServerContext;
  private readonly hook: (event: string, args: string[]) => void;
  private current: Connection | null = null;

  private constructor(readonly options: ZdbServerOptions) {
    const instanceId = randomInt(1, 0xffffffff);
    const log = options.log ?? (() => {});
    this.hook = hookRunner(options.hook, instanceId, (e) => log('warn', 'hook failed', { error: e.message }));
    this.engine = openEngine({
      dataDir: options.data,
      indexDir: options.index,
      mode: options.mode,
      datasize: options.datasize,
      maxsize: options.maxsize,
      onHook: (event: HookEvent, args: string[]) => this.hook(event, args),
      onRecovery: (ns, message) => log('warn', 'recovery', { namespace: ns, message }),
    });
    this.ctx = {
      engine: this.engine,
      admin: options.admin,
      protect: options.protect,
      mode: options.mode,
      instanceId,
      bootTime: Math.floor(Date.now() / 1000),
      stats: { clients: 0, commands: 0, failed: 0, unauthorized: 0, rx: 0, tx: 0 },
      version: VERSION,
      dataDir: options.data,
      indexDir: options.index,
      watch: (session, command, timeoutMs) => this.watch(session, command, timeoutMs),
    };
  }

  static async start(partial: Partial<ZdbServerOptions>): Promise<ZdbServer> {
    const server = new ZdbServer({ ...DEFAULT_OPTIONS, ...partial });
    await server.listen();
    return server;
  }

  private async listen(): Promise<void> {
    const { options } = this;
    const tcp = createServer({ pauseOnConnect: true }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(options.port, options.listen, () => resolve());
    });
    this.servers.push(tcp);
    if (options.socket) {
      if (existsSync(options.socket)) unlinkSync(options.socket);
      const unix = createServer({ pauseOnConnect: true }, (s) => this.accept(s));
      await new Promise<void>((resolve, reject) => {
        unix.once('error', reject);
        unix.listen(options.socket, () => resolve());
      });
      this.servers.push(unix);
    }
    if (!options.sync && options.synctime > 0) {
      this.syncTimer = setInterval(() => {
        this.engine
          .sync()
          .catch((e: Error) => this.options.log?.('error', 'sync failed', { error: e.message }));
      }, options.synctime * 1000);
      this.syncTimer.unref();
    }
    this.hook('ready', []);
  }

  /** The bound TCP port (useful with port 0). */
  get port(): number {
    const a = this.servers[0]?.address();
    return typeof a === 'object' && a ? a.port : this.options.port;
  }

  get stats(): ServerContext['stats'] {
    return this.ctx.stats;
  }

  private accept(accepted: Socket): void {
    if (this.closing) {
      accepted.destroy();
      return;
    }
    let conn: Connection | null = null;
    const socket = adopt(accepted, (chunk) => this.receive(conn!, chunk, true));
    if (!socket) return;
    socket.setNoDelay(true);
    const session = createSession(this.nextId++, this.engine.namespace(DEFAULT_NAMESPACE)!);
    // --protect: the default namespace is read-only until SELECTed with the admin password (or AUTH)
    session.granted = !this.options.protect;
    conn = new Connection(socket, session, this.options.limits ?? DEFAULT_LIMITS, (n) => {
      this.ctx.stats.tx += n;
    });
    this.conns.set(session.id, conn);
    this.ctx.stats.clients++;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.conns.delete(session.id);
      for (const w of this.watchers) {
        if (w.conn === conn) {
          clearTimeout(w.timer);
          this.watchers.delete(w);
        }
      }
    });
  }

  /** `transient`: `chunk` is the shared read buffer (see READ_BUFFER), reused after this call. */
  private receive(conn: Connection, chunk: Buffer, transient = false): void {
    if (conn.ending) return;
    this.ctx.stats.rx += chunk.length;
    conn.parser.push(chunk, transient);
    try {
      this.runRequests(conn);
    } finally {
      conn.parser.retain();
    }
  }

  /** Runs every complete request received on `conn`, then hands their replies to finishBatch. */
  private runRequests(conn: Connection): void {
    const out = this.out;
    const session = conn.session;
    this.current = conn;
    for (;;) {
      let argv: Buffer[] | null;
      try {
        argv = conn.parser.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        out.error(e.message);
        this.finishBatch(conn);
        conn.endAfterReplies();
        this.current = null;
        return;
      }
      if (argv === null) break;
      if (argv.length === 0) continue;
      if (session.ns.removed) {
        // Its namespace was deleted (NSDEL): say so, then close the session, as 0-db does.
        out.error(NAMESPACE_REMOVED);
        this.finishBatch(conn);
        conn.endAfterReplies();
        this.current = null;
        return;
      }
      const name = NAMES.name(argv[0]!);
      const handler = COMMANDS.get(name);
      this.ctx.stats.commands++;
      session.commands++;
      if (!handler) {
        this.ctx.stats.failed++;
        out.error('Command not supported');
        continue;
      }
      if (WRITES.has(name)) conn.wrote = true;
      try {
        handler(this.ctx, session, argv, out, conn.parser.chunks);
      } catch (e) {
        this.ctx.stats.failed++;
        out.error(`Internal Error: ${(e as Error).message}`);
        this.options.log?.('error', 'command failed', { command: name, error: (e as Error).message });
      }
      if (this.watchers.size > 0 && name !== 'WAIT') this.notify(name);
    }
    this.finishBatch(conn);
    this.current = null;
  }

  /**
   * Sends this batch's replies. Replies that acknowledge writes wait for the end of the tick:
   * then the engine commits once for every client of the tick (one write(2) per file) — and
   * with --sync, fdatasyncs once — before any of them is sent.
   */
  private finishBatch(conn: Connection): void {
    if (this.out.empty) return;
    const buf = this.out.take();
    if (!conn.wrote) {
      this.readQueue.push({ conn, seg: conn.hold(), buf });
    } else {
      conn.wrote = false;
      this.tickQueue.push({ conn, seg: conn.hold(), buf });
    }
    if (!this.tickScheduled) {
      this.tickScheduled = true;
      setImmediate(() => void this.flushTick());
    }
  }

  private async flushTick(): Promise<void> {
    this.tickScheduled = false;
    const reads = this.readQueue;
    if (reads.length > 0) {
      this.readQueue = [];
      for (const q of reads) q.conn.release(q.seg, q.buf);
    }
    const queue = this.tickQueue;
    if (queue.length === 0) return;
    this.tickQueue = [];
    try {
      if (this.options.sync) await this.engine.sync();
      else this.engine.commit();
      for (const q of queue) q.conn.release(q.seg, q.buf);
    } catch (e) {
      this.options.log?.('error', 'write failed', { error: (e as Error).message });
      // Nothing may be acknowledged that is not stored: replace the replies with an error.
      for (const q of queue) q.conn.release(q.seg, [Buffer.from('-Internal Error: write failed\r\n')]);
    }
  }

  private watch(session: Session, command: string, timeoutMs: number): void {
    const conn = this.current;
    if (!conn || conn.session !== session) return;
    this.finishBatch(conn);
    const seg = conn.hold();
    const watcher: Watcher = {
      conn,
      seg,
      command,
      timer: setTimeout(() => {
        this.watchers.delete(watcher);
        conn.release(seg, [Buffer.from('-Timeout\r\n')]);
      }, timeoutMs),
    };
    this.watchers.add(watcher);
  }

  private notify(command: string): void {
    for (const w of this.watchers) {
      if (w.command === command || w.command === '*') {
        clearTimeout(w.timer);
        this.watchers.delete(w);
        w.conn.release(w.seg, [Buffer.from(`+${command}\r\n`)]);
      }
    }
  }

  /** Stops accepting, lets in-flight replies leave, syncs and closes the engine. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const w of this.watchers) clearTimeout(w.timer);
    this.watchers.clear();
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await this.flushTick();
    for (const c of this.conns.values()) c.socket.end();
    const grace = new Promise<void>((r) => setTimeout(r, 2000).unref());
    await Promise.race([stopped, grace]);
    for (const c of this.conns.values()) c.socket.destroy();
    this.engine.close();
    if (this.options.socket && existsSync(this.options.socket)) unlinkSync(this.options.socket);
    this.hook('close', []);
  }
}
