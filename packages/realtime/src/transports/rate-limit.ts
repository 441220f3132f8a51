// Token bucket: `messagesPerSecond` sustained, up to `burst` at once.

export interface RateLimit {
  /** Messages per second a connection may send on average. Default 100. */
  messagesPerSecond: number;
  /** Messages a connection may send at once after being idle. Default 200. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { messagesPerSecond: 100, burst: 200 };

/** Default `inputBytesPerSecond`: 1 MiB/s per connection, as the HTTP fallback's `sendBytesPerSecond`. */
export const DEFAULT_INPUT_BYTES_PER_SECOND = 1024 * 1024;

/**
 * Default `subscribeRateLimit`: 20 `sub`/`unsub` per second, and at once as many as the default
 * `maxSubscriptionsPerConnection` (256; the server uses its own value), for a reconnect.
 */
export const DEFAULT_SUBSCRIBE_RATE_LIMIT: RateLimit = { messagesPerSecond: 20, burst: 256 };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limit.messagesPerSecond > 0) || !(limit.burst >= 1)) {
      throw new RangeError('rateLimit: messagesPerSecond must be > 0 and burst >= 1');
    }
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes `n` tokens (default one); false, taking none, when fewer are left. */
  take(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Reserves `n` tokens (default one), even ones not there yet, and returns the milliseconds until
   * they are (0 when they were available). For callers that wait instead of refusing.
   */
  reserve(n = 1): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.limit.messagesPerSecond) * 1000);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(
      this.limit.burst,
      this.tokens + ((t - this.last) / 1000) * this.limit.messagesPerSecond,
    );
    this.last = t;
  }
}
