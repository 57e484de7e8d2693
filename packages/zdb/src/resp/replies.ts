/** Incremental RESP2 reply parser used by the client. */

export type Reply = null | number | Buffer | ReplyError | Status | Reply[];

/** A `+status` reply. */
export class Status {
  constructor(readonly value: string) {}
}

/** A `-error` reply (a value, not thrown by the parser). */
export class ReplyError {
  constructor(readonly message: string) {}
}

export class ReplyParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  push(chunk: Buffer): void {
    this.buf = this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
  }

  /** The next complete reply, or undefined when more bytes are needed. */
  next(): Reply | undefined {
    const r = this.parse(this.pos);
    if (r === undefined) return undefined;
    this.pos = r[1];
    return r[0];
  }

  private line(at: number): [string, number] | undefined {
    const nl = this.buf.indexOf(10, at);
    if (nl < 0) return undefined;
    return [this.buf.toString('latin1', at, nl - 1), nl + 1];
  }

  private parse(at: number): [Reply, number] | undefined {
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
        if (next + len + 2 > this.buf.length) return undefined;
        return [Buffer.from(this.buf.subarray(next, next + len)), next + len + 2];
      }
      case 42: {
        // *
        const n = Number(text);
        if (n < 0) return [null, next];
        const items: Reply[] = [];
        let p = next;
        for (let i = 0; i < n; i++) {
          const r = this.parse(p);
          if (!r) return undefined;
          items.push(r[0]);
          p = r[1];
        }
        return [items, p];
      }
      default:
        throw new Error(`unexpected reply type byte ${type}`);
    }
  }
}
