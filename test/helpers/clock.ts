import type { Clock } from '../../src/clock';

/**
 * The app's clock for tests (job engine, sessions, login throttles, rate limits): real time plus an offset the
 * test moves forward, instead of sleeping.
 */
export class FakeClock implements Clock {
  private offset = 0;
  private readonly stoppedAt: number | undefined;

  /** `stopped`: only `advance` moves it, for rules (rate buckets) that real time would refill while a test runs. */
  constructor(options: { stopped?: boolean } = {}) {
    this.stoppedAt = options.stopped ? Date.now() : undefined;
  }

  now(): number {
    return (this.stoppedAt ?? Date.now()) + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
