/**
 * A token bucket per client address: `perSecond` requests a second on average, bursts up to twice that.
 * Idle buckets are dropped so a scan of many addresses cannot grow memory without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();
  private readonly capacity: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.capacity = perSecond * 2;
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** 0 when the request may go ahead (and is counted), else the seconds to wait. */
  take(address: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    const bucket = this.buckets.get(address) ?? { tokens: this.capacity, updatedAt: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.perSecond);
    bucket.updatedAt = now;
    this.buckets.set(address, bucket);
    if (this.buckets.size > 50_000) this.dropFullBuckets(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.perSecond);
  }

  /** Drops a key's bucket (a closed connection's: it will never ask again). */
  forget(key: string): void {
    this.buckets.delete(key);
  }

  private dropFullBuckets(now: number): void {
    for (const [address, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.perSecond >= this.capacity) this.buckets.delete(address);
    }
  }
}
