import { type RedisLink, redisScript } from '../redis';

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

  /** The same, for a WebSocket message (see SharedRateLimiter.takeNow). */
  takeNow(address: string): number {
    return this.take(address);
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

/**
 * The same token bucket in Redis, one hash per address: refill, take, expire once full again, atomically.
 * ARGV: capacity, refill per ms, now (ms since the epoch). Returns 0 when a token was taken, else seconds to wait.
 */
const SHARED_BUCKET = redisScript(`
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * perMs)
  at = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs / 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / perMs) + 1000)
return wait
`);

/**
 * The per-address rule over every instance (REDIS_URL): the bucket lives in Redis. This instance's own bucket stays
 * in front as a first filter (it never holds fewer tokens than the shared one, so its refusals are the shared
 * rule's too, and cost no round trip). While Redis is unreachable the rule falls back to this instance's bucket
 * alone: it fails open to a per-instance limit, logged, rather than refusing every request.
 */
export class SharedRateLimiter {
  // WebSocket messages are judged synchronously (their order matters): the shared verdict, when it says wait,
  // holds the address back here until then.
  private readonly refusedUntil = new Map<string, number>();

  constructor(
    private readonly local: RateLimiter,
    private readonly link: RedisLink,
    private readonly perSecond: number,
    /** Milliseconds since the epoch, the same on every instance (never a process's monotonic clock). */
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.local.enabled;
  }

  /** 0 when the request may go ahead (and is counted on every instance), else the seconds to wait. */
  async take(address: string): Promise<number> {
    const wait = this.local.take(address);
    return wait > 0 || !this.enabled ? wait : this.takeShared(address);
  }

  private async takeShared(address: string): Promise<number> {
    try {
      return Number(await this.link.script(SHARED_BUCKET, [this.link.key(`rate:${address}`)], [this.perSecond * 2, this.perSecond / 1000, this.now()]));
    } catch (error) {
      this.link.outage('rate limit (per instance meanwhile)', error);
      return 0;
    }
  }

  /**
   * For a WebSocket message: this instance's bucket and the last shared refusal decide now; the shared bucket is
   * charged on the way, so a flood spread over instances is held back from the next message on.
   */
  takeNow(address: string): number {
    const wait = this.local.take(address);
    if (wait > 0 || !this.enabled) return wait;
    const now = this.now();
    const until = this.refusedUntil.get(address);
    if (until !== undefined) {
      if (until > now) return Math.ceil((until - now) / 1000);
      this.refusedUntil.delete(address);
    }
    void this.takeShared(address).then((shared) => {
      if (shared === 0) return;
      if (this.refusedUntil.size > 50_000) this.refusedUntil.clear();
      this.refusedUntil.set(address, this.now() + shared * 1000);
    });
    return 0;
  }
}

/** The per-address rule as the transports use it: this instance's alone, or shared through Redis. */
export type AddressRateLimiter = RateLimiter | SharedRateLimiter;
