/** Where time-based rules read the time (leases, backoff, recovery, session expiry, throttles), so tests can move it. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
