/**
 * Command names looked up from a request's first argument without making a string per request:
 * names of up to six letters are keyed by their bytes folded to upper case (and their length).
 * Only case variants of a letters-only name fold to its key, so a hit is always that name.
 */

const MAX_FAST = 6;

function code(b: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < b.length; i++) c = c * 256 + (b[i]! & 0xdf);
  return c * 8 + b.length;
}

export class NameTable {
  private readonly byCode = new Map<number, string>();

  constructor(names: Iterable<string>) {
    for (const n of names) {
      if (n.length <= MAX_FAST && /^[A-Z]+$/.test(n)) this.byCode.set(code(Buffer.from(n, 'latin1')), n);
    }
  }

  /** The request name `b` spells, upper-cased. */
  name(b: Buffer): string {
    if (b.length > 0 && b.length <= MAX_FAST) {
      const hit = this.byCode.get(code(b));
      if (hit !== undefined) return hit;
    }
    return b.toString('latin1').toUpperCase();
  }
}
