/**
 * Incremental RESP2 request parser: multibulk (`*N\r\n$len\r\n...`) and inline commands.
 * Arguments are zero-copy views into the received bytes. Bounded: a request larger than the
 * limits is a protocol error (the connection is then closed), so a client cannot exhaust memory.
 */

import { TwinBaseError } from '@twin/errors';

export interface ParserLimits {
  /** Largest single argument (bulk string) in bytes. */
  maxBulk: number;
  /** Most arguments in one request. */
  maxArgs: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxBulk: 8 * 1024 * 1024, maxArgs: 1024 * 1024 };

/**
 * A request that is not RESP or exceeds the limits. Its message is the error reply the server
 * sends (0-db's texts, byte for byte) before closing the connection.
 */
export class ProtocolError extends TwinBaseError<'protocol_error'> {
  override readonly name = 'ProtocolError';

  constructor(message: string) {
    super('protocol_error', message);
  }
}

const CR = 13;
const LF = 10;

/** Parses a non-negative decimal integer in buf[start, end); -1 when malformed. */
function parseInt10(buf: Buffer, start: number, end: number): number {
  if (start >= end || end - start > 12) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Bulk arguments at least this large are received as a list of chunks (see `chunkable`). */
export const LARGE_ARG = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** A request being parsed across pushes: the arguments so far. */
interface Partial {
  argv: Buffer[];
  /** Next argument to parse. */
  i: number;
}

/** A large bulk argument being received, chunk by chunk (its trailing CRLF included). */
interface LargeBulk {
  length: number;
  parts: Buffer[];
  got: number;
}

export class RequestParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private partial: Partial | null = null;
  private bulk: LargeBulk | null = null;
  private partialChunks: Map<number, Buffer[]> | null = null;
  /** `buf` is a caller's reused read buffer (see push). */
  private transient = false;
  /** Chunked arguments of the request last returned by next() (index → chunks), or null. */
  chunks: Map<number, Buffer[]> | null = null;

  /**
   * `chunkable(name, index)`: whether a large argument at `index` of a request named `name` may be
   * handed over as its chunks (in `chunks`, with an empty Buffer in its argv slot) rather than
   * joined into one Buffer. A large argument costs no copy at all then.
   */
  constructor(
    private readonly limits: ParserLimits = DEFAULT_LIMITS,
    private readonly chunkable: (name: Buffer, index: number) => boolean = () => false,
  ) {}

  /**
   * Adds received bytes. Kept by reference, unless `transient`: then `chunk` (a read buffer the
   * caller reuses, smaller than LARGE_ARG) is only read until retain() — call it after taking the
   * complete requests with next(); it copies what is kept for later.
   */
  push(chunk: Buffer, transient = false): void {
    this.transient = transient;
    const b = this.bulk;
    if (b && b.got < b.length + 2) {
      const want = b.length + 2 - b.got;
      if (chunk.length <= want) {
        b.parts.push(transient ? Buffer.from(chunk) : chunk);
        b.got += chunk.length;
        return;
      }
      b.parts.push(transient ? Buffer.from(chunk.subarray(0, want)) : chunk.subarray(0, want));
      b.got += want;
      chunk = chunk.subarray(want);
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** Copies what is kept of a transient chunk: the unparsed rest, a partial request's arguments. */
  retain(): void {
    if (!this.transient) return;
    this.transient = false;
    if (this.pos < this.buf.length) this.buf = Buffer.from(this.buf.subarray(this.pos));
    else this.buf = EMPTY;
    this.pos = 0;
    const partial = this.partial;
    if (partial) for (let i = 0; i < partial.i; i++) partial.argv[i] = Buffer.from(partial.argv[i]!);
  }

  /** Bytes received but not yet parsed into a complete request. */
  get pending(): number {
    return this.buf.length - this.pos + (this.bulk?.got ?? 0);
  }

  /** Ends a large bulk: checks and drops its CRLF; its chunks, or them joined. */
  private finishBulk(b: LargeBulk): Buffer[] {
    const parts = b.parts;
    const last = parts[parts.length - 1]!;
    const cr =
      last.length >= 2
        ? last[last.length - 2]
        : parts[parts.length - 2]![parts[parts.length - 2]!.length - 1];
    if (cr !== CR || last[last.length - 1] !== LF)
      throw new ProtocolError('Protocol error: expected CRLF after bulk');
    if (last.length <= 2) {
      parts.pop();
      if (last.length === 1) {
        const prev = parts.pop()!;
        if (prev.length > 1) parts.push(prev.subarray(0, prev.length - 1));
      }
    } else parts[parts.length - 1] = last.subarray(0, last.length - 2);
    return parts;
  }

  /** The next complete request, or null when more bytes are needed. Throws ProtocolError. */
  next(): Buffer[] | null {
    this.chunks = null;
    let argv: Buffer[];
    let i: number;
    let p: number;
    const buf = this.buf;
    const end = buf.length;
    if (this.partial) {
      ({ argv, i } = this.partial);
      const b = this.bulk;
      if (b) {
        if (b.got < b.length + 2) return null;
        this.bulk = null;
        const parts = this.finishBulk(b);
        if (this.chunkable(argv[0]!, i)) {
          argv[i] = EMPTY;
          if (!this.partialChunks) this.partialChunks = new Map();
          this.partialChunks.set(i, parts);
        } else argv[i] = parts.length === 1 ? parts[0]! : Buffer.concat(parts, b.length);
        i++;
      }
      p = this.pos;
    } else {
      p = this.pos;
      if (p >= end) return null;
      if (buf[p] !== 42 /* '*' */) return this.inline();
      const nl = buf.indexOf(LF, p);
      if (nl < 0) {
        if (end - p > 32) throw new ProtocolError('Protocol error: invalid multibulk length');
        return null;
      }
      if (buf[nl - 1] !== CR) throw new ProtocolError('Protocol error: expected CRLF');
      const argc = parseInt10(buf, p + 1, nl - 1);
      if (argc < 0 || argc > this.limits.maxArgs)
        throw new ProtocolError('Protocol error: invalid multibulk length');
      p = nl + 1;
      argv = new Array(argc);
      i = 0;
    }
    const argc = argv.length;
    for (; i < argc; i++) {
      if (p >= end) return this.suspend(argv, i, p);
      if (buf[p] !== 36 /* '$' */)
        throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(buf[p]!)}'`);
      const lf = buf.indexOf(LF, p);
      if (lf < 0) {
        if (end - p > 32) throw new ProtocolError('Protocol error: invalid bulk length');
        return this.suspend(argv, i, p);
      }
      if (buf[lf - 1] !== CR) throw new ProtocolError('Protocol error: expected CRLF');
      const len = parseInt10(buf, p + 1, lf - 1);
      if (len < 0 || len > this.limits.maxBulk)
        throw new ProtocolError('Protocol error: invalid bulk length');
      const start = lf + 1;
      if (start + len + 2 > end) {
        if (len < LARGE_ARG) return this.suspend(argv, i, p);
        // A large bulk: receive its chunks as they come, without joining them to what is here.
        const have = this.transient ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end);
        this.bulk = { length: len, parts: have.length > 0 ? [have] : [], got: have.length };
        this.buf = EMPTY;
        this.pos = 0;
        this.partial = { argv, i };
        return null;
      }
      if (buf[start + len] !== CR || buf[start + len + 1] !== LF)
        throw new ProtocolError('Protocol error: expected CRLF after bulk');
      argv[i] = buf.subarray(start, start + len);
      p = start + len + 2;
    }
    this.pos = p;
    this.partial = null;
    this.chunks = this.partialChunks;
    this.partialChunks = null;
    return argv;
  }

  /** Keeps the arguments parsed so far; parsing resumes at `p` when more bytes come. */
  private suspend(argv: Buffer[], i: number, p: number): null {
    this.partial = { argv, i };
    this.pos = p;
    return null;
  }

  private inline(): Buffer[] | null {
    const buf = this.buf;
    const nl = buf.indexOf(LF, this.pos);
    if (nl < 0) {
      if (buf.length - this.pos > 64 * 1024)
        throw new ProtocolError('Protocol error: too big inline request');
      return null;
    }
    const line = buf.subarray(this.pos, nl > this.pos && buf[nl - 1] === CR ? nl - 1 : nl).toString('latin1');
    this.pos = nl + 1;
    const parts = line.split(' ').filter((x) => x.length > 0);
    return parts.map((x) => Buffer.from(x, 'latin1'));
  }
}
