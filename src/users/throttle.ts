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
