/**
 * Token buckets keyed by client address or twin id. A bucket holds up to `burst` tokens and
 * gains one every `refillMs`; the map keeps at most `maxBuckets` of them (least recently used
 * dropped first), so a stranger cycling through addresses cannot make the server hold more.
 */
import type { RateLimit } from './limits.ts';

interface Bucket {
  tokens: number;
  at: number;
}

/** Bounded token buckets per key (see the module doc); `take` answers how long to wait (0: go). */
export class TokenBuckets<K> {
  private readonly buckets = new Map<K, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxBuckets: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The bucket for `key`, refilled up to now, moved to the most recently used end. */
  private bucket(key: K): Bucket {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      const gained = Math.floor((t - b.at) / this.limit.refillMs);
      if (gained > 0)
        b = {
          tokens: Math.min(this.limit.burst, b.tokens + gained),
          at: b.at + gained * this.limit.refillMs,
        };
      if (b.tokens >= this.limit.burst) b.at = t;
    } else {
      b = { tokens: this.limit.burst, at: t };
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value as K);
    }
    this.buckets.set(key, b);
    return b;
  }

  /** Milliseconds until `key` has a token (0: one is available now). */
  wait(key: K): number {
    const b = this.bucket(key);
    return b.tokens > 0 ? 0 : Math.max(1, b.at + this.limit.refillMs - this.now());
  }

  /** Takes a token when one is available; returns the wait in ms otherwise (0 on success). */
  take(key: K): number {
    const b = this.bucket(key);
    if (b.tokens <= 0) return Math.max(1, b.at + this.limit.refillMs - this.now());
    b.tokens--;
    return 0;
  }

  get size(): number {
    return this.buckets.size;
  }
}
