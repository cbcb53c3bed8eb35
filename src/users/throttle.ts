import { type RedisLink, redisScript } from '../redis';

/** One reserved login attempt: settle it exactly once, with what the password check found. */
export interface ReservedAttempt {
  /**
   * The password was wrong (or the user unknown): the reservation becomes a recorded failure.
   * Returns true when this failure used up the key's budget, so a lockout is logged once.
   */
  failed(): boolean;
  /** The attempt succeeded or never reached a verdict: its slot is given back. */
  release(): void;
}

interface KeyState {
  failures: number[];
  inFlight: number;
}

/**
 * Counts failed logins per key (a username, a client address) in a sliding window and refuses further
 * attempts once a key's failures plus its attempts still being checked reach `maxFailures`, until its oldest
 * failure leaves the window. Attempts in flight count because the hash check is awaited: without them, any
 * number of parallel guesses would pass the check before the first failure was recorded.
 * In memory on purpose: throttling state is worthless after a restart and must not cost a write per attempt.
 */
export class LoginThrottle {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Seconds until `key` may try again, or 0 when it may try now. Attempts in flight are counted as if they
   * will fail now, so the answer is the longest wait; it is shorter when they succeed.
   */
  retryAfterSeconds(key: string): number {
    const state = this.current(key);
    if (!state || state.failures.length + state.inFlight < this.maxFailures) return 0;
    const now = this.now();
    // Failures oldest first, then the attempts in flight as failures at `now`: the one that must leave the window.
    const index = state.failures.length + state.inFlight - this.maxFailures;
    const oldestThatCounts = index < state.failures.length ? state.failures[index]! : now;
    return Math.max(1, Math.ceil((oldestThatCounts + this.windowMs - now) / 1000));
  }

  /**
   * Takes one slot of `key`'s budget; the caller checks `retryAfterSeconds` first, in the same synchronous
   * step, so no other attempt can take the last slot in between.
   */
  reserve(key: string): ReservedAttempt {
    const state = this.current(key) ?? { failures: [], inFlight: 0 };
    state.inFlight += 1;
    this.keys.set(key, state);
    if (this.keys.size > 100_000) this.prune();
    let settled = false;
    const settle = (failed: boolean) => {
      if (settled) return false;
      settled = true;
      state.inFlight -= 1;
      if (failed) state.failures.push(this.now());
      // A state with an attempt in flight is never pruned, so `state` is still the one in the map.
      this.current(key);
      return failed && state.failures.length === this.maxFailures;
    };
    return { failed: () => settle(true), release: () => void settle(false) };
  }

  /** Forgets `key`'s failures (an admin unlocked it); attempts in flight still settle. */
  forget(key: string): void {
    const state = this.keys.get(key);
    if (state) state.failures = [];
    this.current(key);
  }

  private current(key: string): KeyState | undefined {
    const state = this.keys.get(key);
    if (!state) return undefined;
    const cutoff = this.now() - this.windowMs;
    state.failures = state.failures.filter((at) => at > cutoff);
    if (state.failures.length === 0 && state.inFlight === 0) {
      this.keys.delete(key);
      return undefined;
    }
    return state;
  }

  private prune(): void {
    for (const key of this.keys.keys()) this.current(key);
  }
}

/**
 * Reserves one attempt on each budget given, or on none: KEYS are (failures, in flight) pairs, one pair per budget;
 * ARGV: now, window (ms), the attempt's id, how long a reservation holds (ms), then each budget's maximum. Failures
 * and reservations are sorted sets scored by time; a reservation whose instance died runs out on its own.
 * Returns 0 (reserved) or the milliseconds until the fullest budget frees a slot — the same rule as LoginThrottle.
 */
const RESERVE = redisScript(`
local now, window, id, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local waitMs = 0
for i = 1, #KEYS / 2 do
  local failures, inFlight, max = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[4 + i])
  redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', inFlight, '-inf', now)
  local failed, pending = redis.call('ZCARD', failures), redis.call('ZCARD', inFlight)
  if failed + pending >= max then
    local index, oldest = failed + pending - max, now
    if index < failed then oldest = tonumber(redis.call('ZRANGE', failures, index, index, 'WITHSCORES')[2]) end
    waitMs = math.max(waitMs, oldest + window - now, 1)
  end
end
if waitMs > 0 then return waitMs end
for i = 1, #KEYS / 2 do
  redis.call('ZADD', KEYS[2 * i], now + hold, id)
  redis.call('PEXPIRE', KEYS[2 * i], hold)
end
return 0
`);

/**
 * Settles a reservation: ARGV: now, window, the attempt's id, 1 when it failed (0: give the slot back), then each
 * budget's maximum. Returns, per budget, 1 when this failure used it up (the lockout is logged once, there).
 */
const SETTLE = redisScript(`
local now, window, id, failed = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1'
local usedUp = {}
for i = 1, #KEYS / 2 do
  local failures, inFlight, max = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[4 + i])
  redis.call('ZREM', inFlight, id)
  usedUp[i] = 0
  if failed then
    redis.call('ZADD', failures, now, id)
    redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - window)
    redis.call('PEXPIRE', failures, window)
    if redis.call('ZCARD', failures) == max then usedUp[i] = 1 end
  end
end
return usedUp
`);

/** A reservation longer than any password check; it only matters when the instance holding it died mid-check. */
const SHARED_RESERVATION_MS = 30_000;

/** One login attempt reserved on every instance's budgets; settle it once. */
export interface SharedReservedAttempt {
  /** Records the failure; says which budgets it used up (for the lockout log line). */
  failed(): Promise<{ username: boolean; address: boolean }>;
  /** The attempt succeeded or never reached a verdict: the slots are given back. */
  release(): void;
}

/**
 * LoginThrottle's rule over every instance (REDIS_URL): the failures and the attempts in flight of each username
 * and address live in Redis, and one script checks and reserves both budgets atomically, so at most
 * `maxFailures` wrong passwords are ever checked per username per window however the attempts are spread over
 * instances. The caller keeps its LoginThrottle in front (a refusal there holds here too) and fails closed when
 * Redis cannot be reached: without the shared count the guarantee cannot be kept.
 */
export class SharedLoginThrottle {
  constructor(
    private readonly link: RedisLink,
    private readonly limits: { maxFailures: number; maxFailuresPerAddress: number; windowMs: number },
    /** Milliseconds since the epoch, the same on every instance (tests pass their clock). */
    private readonly now: () => number = Date.now,
  ) {}

  /** Forgets `username`'s failures on every instance (an admin unlocked it). */
  async forget(username: string): Promise<void> {
    await this.link.send('DEL', [this.link.key(`login:user:${username}:failures`)]);
  }

  /** Reserves an attempt for `username` (and `address`, unless that rule is off), or says how many seconds to wait. */
  async reserve(username: string, address: string): Promise<{ wait: number } | { attempt: SharedReservedAttempt }> {
    const { maxFailures, maxFailuresPerAddress, windowMs } = this.limits;
    const budgets: [string, number][] = [[`login:user:${username}`, maxFailures]];
    if (maxFailuresPerAddress > 0) budgets.push([`login:address:${address}`, maxFailuresPerAddress]);
    const keys = budgets.flatMap(([key]) => [this.link.key(`${key}:failures`), this.link.key(`${key}:in-flight`)]);
    const maxima = budgets.map(([, max]) => max);
    const id = crypto.randomUUID();
    const waitMs = Number(await this.link.script(RESERVE, keys, [this.now(), windowMs, id, SHARED_RESERVATION_MS, ...maxima]));
    if (waitMs > 0) return { wait: Math.max(1, Math.ceil(waitMs / 1000)) };
    let settled = false;
    const settle = async (failed: boolean) => {
      if (settled) return [0, 0];
      settled = true;
      return (await this.link.script(SETTLE, keys, [this.now(), windowMs, id, failed ? 1 : 0, ...maxima])) as number[];
    };
    return {
      attempt: {
        failed: async () => {
          const [username = 0, address = 0] = await settle(true);
          return { username: username === 1, address: address === 1 };
        },
        // Not awaited by the login: if it is lost, the reservation runs out by itself.
        release: () => void settle(false).catch((error) => this.link.outage('login throttle release', error)),
      },
    };
  }
}
