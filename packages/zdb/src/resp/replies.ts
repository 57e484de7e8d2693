/**
 * Incremental RESP2 reply parser used by the client.
 *
 * Large values cost one copy each: a top-level bulk reply of at least LARGE bytes is copied chunk
 * by chunk straight into a buffer of its exact size as it arrives (which is also the buffer handed
 * to the caller), and any other incomplete reply waits until enough bytes are there to be joined
 * once, instead of joining every chunk with everything received before it.
 *
 * That buffer owns its memory (allocUnsafeSlow, not a slice of a pool). A SharedArrayBuffer was
 * tried (a worker thread would see it without a copy) and lost: each one is a fresh mmap, and on
 * this VM touching fresh pages cost more (~1.5 s of system time per GiB read) than the copy saved.
 */

import { ZdbError } from '../client/errors.ts';

export type Reply = null | number | Buffer | ReplyError | Status | Reply[];

/** A `+status` reply. */
export class Status {
  constructor(readonly value: string) {}
}

/** A `-error` reply (a value, not thrown by the parser). */
export class ReplyError {
  constructor(readonly message: string) {}
}

const LARGE = 64 * 1024;

/** The server's bytes are not RESP: the connection cannot be read any further. */
const protocolError = (what: string) =>
  new ZdbError('protocol_error', `protocol error: ${what}`, { kind: 'connection' });
const EMPTY = Buffer.alloc(0);

/** A large top-level bulk being received straight into its own buffer. */
interface Bulk {
  value: Buffer;
  filled: number;
  /** Bytes of the trailing CRLF seen so far. */
  crlf: number;
}

export class ReplyParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Chunks held while waiting for `need` bytes past pos (joined once they are all here). */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private need = 0;
  private bulk: Bulk | null = null;

  /** Adds received bytes; `transient`: `chunk` is reused after this call, so what is kept is copied. */
  push(chunk: Buffer, transient = false): void {
    if (this.bulk) {
      chunk = this.fill(this.bulk, chunk);
      if (chunk.length === 0) return;
    }
    if (transient) {
      // A large bulk reply starting this chunk goes straight into its own buffer, not via a copy.
      if (!this.bulk && this.need === 0 && this.pos >= this.buf.length && chunk[0] === 36) {
        const nl = chunk.indexOf(10);
        const len =
          nl > 2 && nl < 24 && chunk[nl - 1] === 13 ? Number(chunk.toString('latin1', 1, nl - 1)) : -1;
        if (Number.isInteger(len) && len >= LARGE && nl + 1 + len + 2 > chunk.length) {
          this.bulk = { value: Buffer.allocUnsafeSlow(len), filled: 0, crlf: 0 };
          this.buf = EMPTY;
          this.pos = 0;
          chunk = this.fill(this.bulk, chunk.subarray(nl + 1));
          if (chunk.length === 0) return;
        }
      }
      chunk = Buffer.from(chunk);
    }
    if (this.need > 0) {
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      if (this.buf.length - this.pos + this.waitingBytes < this.need) return;
      chunk = Buffer.concat(this.waiting, this.waitingBytes);
      this.waiting = [];
      this.waitingBytes = 0;
      this.need = 0;
    }
    this.buf = this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
  }

  /** Copies what belongs to `b` from `chunk`; returns the rest of the chunk. */
  private fill(b: Bulk, chunk: Buffer): Buffer {
    let at = 0;
    if (b.filled < b.value.length) {
      const n = Math.min(b.value.length - b.filled, chunk.length);
      chunk.copy(b.value, b.filled, 0, n);
      b.filled += n;
      at = n;
    }
    while (b.crlf < 2 && at < chunk.length) {
      if (chunk[at] !== (b.crlf === 0 ? 13 : 10)) throw protocolError('expected CRLF after bulk reply');
      b.crlf++;
      at++;
    }
    return at === 0 ? chunk : chunk.subarray(at);
  }

  /** The next complete reply, or undefined when more bytes are needed. */
  next(): Reply | undefined {
    const b = this.bulk;
    if (b) {
      if (b.crlf < 2) return undefined;
      this.bulk = null;
      return b.value;
    }
    if (this.need > 0) return undefined;
    const r = this.parse(this.pos, true);
    if (r === undefined) return undefined;
    this.pos = r[1];
    return r[0];
  }

  private line(at: number): [string, number] | undefined {
    const nl = this.buf.indexOf(10, at);
    if (nl < 0) return undefined;
    return [this.buf.toString('latin1', at, nl - 1), nl + 1];
  }

  private parse(at: number, top: boolean): [Reply, number] | undefined {
    if (at >= this.buf.length) return undefined;
    const type = this.buf[at];
    const l = this.line(at + 1);
    if (!l) return undefined;
    const [text, next] = l;
    switch (type) {
      case 43: // +
        return [new Status(text), next];
      case 45: // -
        return [new ReplyError(text), next];
      case 58: // :
        return [Number(text), next];
      case 36: {
        // $
        const len = Number(text);
        if (len < 0) return [null, next];
        if (next + len + 2 > this.buf.length) {
          if (len >= LARGE) {
            if (top) {
              // Receive the rest straight into the value's own buffer.
              const b: Bulk = { value: Buffer.allocUnsafeSlow(len), filled: 0, crlf: 0 };
              const rest = this.buf.subarray(next);
              this.buf = EMPTY;
              this.pos = 0;
              this.bulk = b;
              this.fill(b, rest);
            } else {
              this.need = next + len + 2 - this.pos;
            }
          }
          return undefined;
        }
        return [Buffer.from(this.buf.subarray(next, next + len)), next + len + 2];
      }
      case 42: {
        // *
        const n = Number(text);
        if (n < 0) return [null, next];
        const items: Reply[] = [];
        let p = next;
        for (let i = 0; i < n; i++) {
          const r = this.parse(p, false);
          if (!r) return undefined;
          items.push(r[0]);
          p = r[1];
        }
        return [items, p];
      }
      default:
        throw protocolError(`unexpected reply type byte ${type}`);
    }
  }
}
