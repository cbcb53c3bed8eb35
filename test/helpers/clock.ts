import type { Clock } from '../../src/jobs/model';

/** The job engine's clock for tests: real time plus an offset the test moves forward, instead of sleeping. */
export class FakeClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }
}
