/**
 * RESP2 reply encoding into a growable output buffer (one socket write per batch). Bulk values of
 * LARGE_BULK bytes or more are not copied: the batch becomes a list of buffers that reference them.
 */

export const LARGE_BULK = 64 * 1024;

export class ReplyWriter {
  buf = Buffer.allocUnsafe(16 * 1024);
  length = 0;
  /** Earlier parts of the batch (before buf), when it holds large bulks. */
  private parts: Buffer[] = [];

  /** Nothing written since the last take(). */
  get empty(): boolean {
    return this.length === 0 && this.parts.length === 0;
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  raw(s: string): void {
    this.ensure(s.length * 3);
    this.length += this.buf.write(s, this.length, 'latin1');
  }

  /** `prefix`, the decimal digits of `n` (a non-negative integer), CRLF: written byte by byte. */
  private header(prefix: number, n: number): void {
    this.ensure(24);
    const buf = this.buf;
    let at = this.length;
    buf[at++] = prefix;
    if (n < 10) buf[at++] = 48 + n;
    else {
      let digits = 0;
      for (let x = n; x > 0; x = Math.floor(x / 10)) digits++;
      for (let i = at + digits - 1, x = n; i >= at; i--, x = Math.floor(x / 10)) buf[i] = 48 + (x % 10);
      at += digits;
    }
    buf[at++] = 13;
    buf[at++] = 10;
    this.length = at;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  ok(): void {
    this.ensure(5);
    const buf = this.buf;
    const at = this.length;
    buf[at] = 43; // +OK\r\n
    buf[at + 1] = 79;
    buf[at + 2] = 75;
    buf[at + 3] = 13;
    buf[at + 4] = 10;
    this.length = at + 5;
  }

  status(s: string): void {
    this.raw(`+${s}\r\n`);
  }

  /** An error reply; `message` is 0-db's error text (without the leading '-'). */
  error(message: string): void {
    this.raw(`-${message.replace(/[\r\n]/g, ' ')}\r\n`);
  }

  integer(n: number): void {
    if (Number.isSafeInteger(n) && n >= 0) this.header(58, n);
    else this.raw(`:${n}\r\n`);
  }

  nil(): void {
    this.ensure(5);
    const buf = this.buf;
    const at = this.length;
    buf[at] = 36; // $-1\r\n
    buf[at + 1] = 45;
    buf[at + 2] = 49;
    buf[at + 3] = 13;
    buf[at + 4] = 10;
    this.length = at + 5;
  }

  /** A bulk reply; a large `b` is referenced, not copied, so it must not change until sent. */
  bulk(b: Buffer): void {
    if (b.length >= LARGE_BULK) {
      this.raw(`$${b.length}\r\n`);
      this.parts.push(Buffer.from(this.buf.subarray(0, this.length)), b);
      this.length = 0;
      this.raw('\r\n');
      return;
    }
    this.ensure(b.length + 24);
    this.header(36, b.length);
    const buf = this.buf;
    buf.set(b, this.length);
    this.length += b.length;
    buf[this.length++] = 13;
    buf[this.length++] = 10;
  }

  bulkString(s: string): void {
    this.bulk(Buffer.from(s));
  }

  array(n: number): void {
    this.header(42, n);
  }

  /** Takes the encoded bytes (copies, and the large bulks themselves) and resets the writer. */
  take(): Buffer[] {
    const last = Buffer.allocUnsafe(this.length);
    this.buf.copy(last, 0, 0, this.length);
    const out = this.parts.length === 0 ? [last] : [...this.parts, last];
    this.parts = [];
    this.length = 0;
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(16 * 1024);
    return out;
  }
}
