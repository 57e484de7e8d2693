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
import { type DirectoryLock, lockDirectories } from '../engine/lock.ts';
import type { Engine, HookEvent, NamespaceMode } from '../engine/types.ts';
import { NameTable } from '../resp/names.ts';
import { type ParserLimits, ProtocolError, RequestParser } from '../resp/parser.ts';
import { COMMANDS, type ServerContext, WRITES } from './commands.ts';
import { hookRunner } from './hooks.ts';
import {
  type ClientLimits,
  DEFAULT_CLIENT_LIMITS,
  LIMIT_ERRORS,
  MeteredReplyWriter,
  SERVER_PARSER_LIMITS,
} from './limits.ts';
import { createSession, type Session } from './session.ts';

/** The server's options: 0-db's flags, and the per-client limits of limits.ts. */
export interface ZdbServerOptions extends ClientLimits {
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

/** How long a connection refused by maxclients may take to read its error before it is dropped. */
const REFUSED_LINGER_MS = 1000;
/** How long close() waits for clients to close their connections before dropping them. */
const CLOSE_GRACE_MS = 2000;

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
  ...DEFAULT_CLIENT_LIMITS,
};

interface Segment {
  buf: Buffer[] | null;
}

/** SET's value may arrive as chunks: the engine writes them to the data file as they are. */
const chunkable = (name: Buffer, index: number) =>
  index === 2 && name.length === 3 && name.toString('latin1').toUpperCase() === 'SET';

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

const size = (bufs: Buffer[]) => {
  let n = 0;
  for (const b of bufs) n += b.length;
  return n;
};

class Connection {
  parser: RequestParser;
  private readonly segments: Segment[] = [];
  /** Closing once its replies are sent: what it sends from now on is not read. */
  ending = false;
  wrote = false;
  /** Bytes of replies handed to this connection and not yet written to the socket. */
  private queued = 0;
  /** Not read from until its unsent replies drop under the output limit (see limits.ts). */
  stalled = false;
  private kickScheduled = false;
  /** A 'drain' listener is waiting (one at a time). */
  private draining = false;
  /** Bytes received since the last complete request (the request being received, roughly). */
  requestBytes = 0;
  /** Its pending WAITs. */
  readonly watchers = new Set<Watcher>();

  constructor(
    readonly socket: Socket,
    readonly session: Session,
    private readonly limits: ParserLimits,
    private readonly maxOutput: number,
    private readonly onTx: (n: number) => void,
    /** Runs the commands it has buffered (after a stall). */
    private readonly onKick: (conn: Connection) => void,
  ) {
    this.parser = new RequestParser(limits, chunkable);
  }

  /** Replies not yet sent: queued here, and in the socket's buffer. */
  get unsent(): number {
    return this.queued + this.socket.writableLength;
  }

  /** Something is owed to this client: a held reply (WAIT, a write awaiting its commit). */
  get busy(): boolean {
    return this.segments.length > 0 || this.unsent > 0;
  }

  private write(bufs: Buffer[]): void {
    const n = size(bufs);
    this.queued -= n;
    if (this.socket.destroyed) return;
    this.onTx(n);
    let ok = true;
    if (bufs.length > 1) this.socket.cork();
    for (const buf of bufs) if (buf.length > 0) ok = this.socket.write(buf) && ok;
    if (bufs.length > 1) this.socket.uncork();
    if (!ok) {
      this.socket.pause();
      if (!this.draining) {
        this.draining = true;
        this.socket.once('drain', () => {
          this.draining = false;
          if (this.stalled) this.kick();
          else this.socket.resume();
        });
      }
    } else if (this.stalled) this.kick();
  }

  /** Stops reading from it: its unsent replies passed the output limit. */
  stall(): void {
    this.stalled = true;
    this.socket.pause();
  }

  /** Reads from it again when its unsent replies are back under the limit. */
  unstall(): boolean {
    if (this.unsent > this.maxOutput) return false;
    this.stalled = false;
    this.socket.resume();
    return true;
  }

  private kick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      if (this.stalled && !this.socket.destroyed) this.onKick(this);
    });
  }

  /** Forgets what it sent of an unfinished request (it is being disconnected for it). */
  dropInput(): void {
    this.parser = new RequestParser(this.limits, chunkable);
    this.requestBytes = 0;
  }

  send(buf: Buffer[]): void {
    this.queued += size(buf);
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

  /** Queues `buf` after what is queued; it leaves at the next flush() (the end of the turn). */
  defer(buf: Buffer[]): void {
    this.queued += size(buf);
    this.segments.push({ buf });
  }

  /** Writes the replies at the head of the stream that are ready. */
  flush(): void {
    while (this.segments.length > 0 && this.segments[0]!.buf !== null)
      this.write(this.segments.shift()!.buf!);
    if (this.ending && this.segments.length === 0) this.socket.end();
  }

  /** Reserves the next place in the reply stream for a reply that is not ready yet. */
  hold(): Segment {
    const seg: Segment = { buf: null };
    this.segments.push(seg);
    return seg;
  }

  /** Fills a place reserved by hold() and writes what is ready at the head of the stream. */
  release(seg: Segment, buf: Buffer[]): void {
    this.queued += size(buf);
    seg.buf = buf;
    this.flush();
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
  private readonly out = new MeteredReplyWriter();
  /** Pending WAITs by the command they wait for ('*': any). */
  private readonly watchers = new Map<string, Set<Watcher>>();
  private tickQueue: { conn: Connection; seg: Segment; buf: Buffer[] }[] = [];
  /** Connections with replies queued by defer() this turn. */
  private flushQueue: Connection[] = [];
  private tickScheduled = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private closing = false;
  private readonly ctx: ServerContext;
  private readonly hook: (event: string, args: string[]) => void;
  private current: Connection | null = null;
  /** Called when the last connection closes during close(). */
  private drained: (() => void) | null = null;
  private lock: DirectoryLock | null = null;

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
      maxOutput: options.maxOutput,
    };
  }

  /**
   * Locks the data and index directories (EngineError locked when another zdb holds them), opens
   * the engine and listens; on any failure, releases what it took and throws.
   */
  static async start(partial: Partial<ZdbServerOptions>): Promise<ZdbServer> {
    const options = { ...DEFAULT_OPTIONS, ...partial };
    const lock = await lockDirectories([options.data, options.index]);
    let server: ZdbServer | undefined;
    try {
      server = new ZdbServer(options);
      server.lock = lock;
      await server.listen();
      return server;
    } catch (e) {
      for (const s of server?.servers ?? []) s.close();
      server?.engine.close();
      lock.release();
      throw e;
    }
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
    const { options } = this;
    if (this.closing) {
      accepted.destroy();
      return;
    }
    if (options.maxclients > 0 && this.conns.size >= options.maxclients) {
      // Read (and drop) what it sends so its close is seen; never keep it past REFUSED_LINGER_MS.
      accepted.on('error', () => accepted.destroy());
      accepted.resume();
      accepted.end(`-${LIMIT_ERRORS.maxclients}\r\n`);
      setTimeout(() => accepted.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    let conn: Connection | null = null;
    const socket = adopt(accepted, (chunk) => this.receive(conn!, chunk, true));
    if (!socket) return;
    socket.setNoDelay(true);
    const session = createSession(this.nextId++, this.engine.namespace(DEFAULT_NAMESPACE)!);
    // --protect: the default namespace is read-only until SELECTed with the admin password (or AUTH)
    session.granted = !options.protect;
    conn = new Connection(
      socket,
      session,
      options.limits ?? SERVER_PARSER_LIMITS,
      options.maxOutput,
      (n) => {
        this.ctx.stats.tx += n;
      },
      (c) => this.process(c),
    );
    this.conns.set(session.id, conn);
    this.ctx.stats.clients++;
    socket.on('error', () => socket.destroy());
    if (options.idleTimeout > 0) {
      socket.setTimeout(options.idleTimeout * 1000);
      socket.on('timeout', () => {
        if (!conn!.busy) socket.destroy();
      });
    }
    socket.on('close', () => {
      this.conns.delete(session.id);
      if (this.conns.size === 0) this.drained?.();
      for (const w of conn!.watchers) this.unwatch(w);
    });
  }

  /** `transient`: `chunk` is the shared read buffer (see READ_BUFFER), reused after this call. */
  private receive(conn: Connection, chunk: Buffer, transient = false): void {
    if (conn.ending) return;
    this.ctx.stats.rx += chunk.length;
    conn.requestBytes += chunk.length;
    const parser = conn.parser;
    parser.push(chunk, transient);
    try {
      if (!conn.stalled || conn.unstall()) this.process(conn);
    } finally {
      parser.retain();
    }
  }

  /** Runs the complete commands `conn` has sent, until its replies pass the output limit. */
  private process(conn: Connection): void {
    if (conn.ending || (conn.stalled && !conn.unstall())) return;
    const out = this.out;
    const session = conn.session;
    const maxOutput = this.options.maxOutput;
    let completed = false;
    this.current = conn;
    for (;;) {
      if (conn.unsent + out.size > maxOutput) {
        conn.stall();
        break;
      }
      let argv: Buffer[] | null;
      try {
        argv = conn.parser.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        this.refuse(conn, e.message);
        return;
      }
      if (argv === null) {
        if (completed) conn.requestBytes = conn.parser.pending;
        if (conn.requestBytes > this.options.maxRequest) {
          this.refuse(conn, LIMIT_ERRORS.request);
          return;
        }
        break;
      }
      completed = true;
      if (argv.length === 0) continue;
      if (session.ns.removed) {
        // Its namespace was deleted (NSDEL): say so, then close the session, as 0-db does.
        this.refuse(conn, NAMESPACE_REMOVED);
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

  /** Answers `message` after the replies so far, then closes the connection (0-db's discard). */
  private refuse(conn: Connection, message: string): void {
    this.out.error(message);
    this.finishBatch(conn);
    conn.dropInput();
    conn.endAfterReplies();
    this.current = null;
  }

  /**
   * Queues this batch's replies; every reply of the turn leaves at its end (as Redis writes in
   * beforeSleep), one write per client. Replies that acknowledge writes wait for that too: the
   * engine commits once for every client of the tick (one write(2) per file) — and with --sync,
   * fdatasyncs once — before any of them is sent.
   */
  private finishBatch(conn: Connection): void {
    if (this.out.empty) return;
    const buf = this.out.take();
    if (!conn.wrote) {
      conn.defer(buf);
      this.flushQueue.push(conn);
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
    const ready = this.flushQueue;
    if (ready.length > 0) {
      this.flushQueue = [];
      for (const conn of ready) conn.flush();
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
    if (conn.watchers.size >= this.options.maxWaits) {
      this.out.error(LIMIT_ERRORS.waits);
      return;
    }
    this.finishBatch(conn);
    const seg = conn.hold();
    const watcher: Watcher = {
      conn,
      seg,
      command,
      timer: setTimeout(() => {
        this.unwatch(watcher);
        conn.release(seg, [Buffer.from('-Timeout\r\n')]);
      }, timeoutMs),
    };
    let set = this.watchers.get(command);
    if (!set) {
      set = new Set();
      this.watchers.set(command, set);
    }
    set.add(watcher);
    conn.watchers.add(watcher);
  }

  private unwatch(w: Watcher): void {
    clearTimeout(w.timer);
    const set = this.watchers.get(w.command);
    // an empty set is dropped, so `watchers.size > 0` says whether anyone waits
    if (set?.delete(w) && set.size === 0) this.watchers.delete(w.command);
    w.conn.watchers.delete(w);
  }

  private notify(command: string): void {
    for (const key of [command, '*']) {
      const set = this.watchers.get(key);
      if (!set || set.size === 0) continue;
      for (const w of set) {
        this.unwatch(w);
        w.conn.release(w.seg, [Buffer.from(`+${command}\r\n`)]);
      }
    }
  }

  /** Stops accepting, lets in-flight replies leave, syncs and closes the engine. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const set of this.watchers.values()) for (const w of set) clearTimeout(w.timer);
    this.watchers.clear();
    // node:net no longer counts adopted connections (see adopt()): wait for ours to close too.
    const closed = new Promise<void>((r) => {
      if (this.conns.size === 0) r();
      else this.drained = r;
    });
    const stopped = Promise.all([
      closed,
      ...this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
    await this.flushTick();
    for (const c of this.conns.values()) c.socket.end();
    // A client that reads nothing (a stalled one) never closes: give them CLOSE_GRACE_MS.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => {
      timer = setTimeout(r, CLOSE_GRACE_MS);
    });
    await Promise.race([stopped, grace]);
    clearTimeout(timer);
    for (const c of this.conns.values()) c.socket.destroy();
    this.engine.close();
    this.lock?.release();
    if (this.options.socket && existsSync(this.options.socket)) unlinkSync(this.options.socket);
    this.hook('close', []);
  }
}
