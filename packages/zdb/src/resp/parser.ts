/**
 * Incremental RESP2 request parser: multibulk (`*N\r\n$len\r\n...`) and inline commands.
 * Arguments are zero-copy views into the received bytes. Bounded: a request larger than the
 * limits is a protocol error (the connection is then closed), so a client cannot exhaust memory.
 */

export interface ParserLimits {
  /** Largest single argument (bulk string) in bytes. */
  maxBulk: number;
  /** Most arguments in one request. */
  maxArgs: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxBulk: 8 * 1024 * 1024, maxArgs: 1024 * 1024 };

export class ProtocolError extends Error {}

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

export class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Chunks received while waiting for a large bulk: joined once enough bytes are here. */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private need = 0;

  constructor(private readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    if (this.need > 0) {
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      if (this.buf.length - this.pos + this.waitingBytes < this.need) return;
      chunk = Buffer.concat(this.waiting, this.waitingBytes);
      this.waiting = [];
      this.waitingBytes = 0;
      this.need = 0;
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** Bytes received but not yet parsed into a complete request. */
  get pending(): number {
    return this.buf.length - this.pos + this.waitingBytes;
  }

  /** The next complete request, or null when more bytes are needed. Throws ProtocolError. */
  next(): Buffer[] | null {
    const buf = this.buf;
    const end = buf.length;
    let p = this.pos;
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
    const argv: Buffer[] = new Array(argc);
    for (let i = 0; i < argc; i++) {
      if (p >= end) return null;
      if (buf[p] !== 36 /* '$' */)
        throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(buf[p]!)}'`);
      const lf = buf.indexOf(LF, p);
      if (lf < 0) {
        if (end - p > 32) throw new ProtocolError('Protocol error: invalid bulk length');
        return null;
      }
      if (buf[lf - 1] !== CR) throw new ProtocolError('Protocol error: expected CRLF');
      const len = parseInt10(buf, p + 1, lf - 1);
      if (len < 0 || len > this.limits.maxBulk)
        throw new ProtocolError('Protocol error: invalid bulk length');
      const start = lf + 1;
      if (start + len + 2 > end) {
        // Wait for the whole bulk before joining chunks again (large values arrive in many chunks).
        if (len > 64 * 1024) this.need = start + len + 2 - this.pos;
        return null;
      }
      if (buf[start + len] !== CR || buf[start + len + 1] !== LF)
        throw new ProtocolError('Protocol error: expected CRLF after bulk');
      argv[i] = buf.subarray(start, start + len);
      p = start + len + 2;
    }
    this.pos = p;
    return argv;
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
