import type { Clock } from '../../src/clock';

/**
 * The app's clock for tests (job engine, sessions, login throttles, rate limits): real time plus an offset the
 * test moves forward, instead of sleeping.
 */
export class FakeClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
