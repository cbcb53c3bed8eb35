import type { Clock } from '../clock';
import type { Job } from './model';

/** How far back throughput and latencies reach: what the dashboard's chart shows. */
export const STATISTICS_WINDOW_MS = 10 * 60_000;
/** Finished jobs remembered for the percentiles; past it the oldest are forgotten (bounded memory under load). */
const MAX_REMEMBERED = 20_000;

export interface LatencyPercentiles {
  /** Jobs the percentiles are taken over. */
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface ThroughputSample {
  /** The start of the interval. */
  at: Date;
  jobsPerSecond: number;
}

interface Finished {
  at: number;
  runMs: number | null;
  waitMs: number | null;
}

/**
 * Jobs finished in the last minutes, as this process saw them (the jobCompleted events): how many per second, and
 * how long they ran and waited. In memory: a restart starts the window again, and nothing is read from the database.
 */
export class JobStatistics {
  private readonly finished: Finished[] = [];

  constructor(private readonly clock: Clock) {}

  record(job: Pick<Job, 'createdAt' | 'startedAt' | 'finishedAt'>): void {
    const at = job.finishedAt?.getTime() ?? this.clock.now();
    const started = job.startedAt?.getTime();
    this.finished.push({ at, runMs: started === undefined ? null : at - started, waitMs: started === undefined ? null : started - job.createdAt.getTime() });
    // Trimmed a quarter at a time: one splice per job past the bound moved all 20,000 entries for each completion.
    if (this.finished.length > MAX_REMEMBERED + MAX_REMEMBERED / 4) this.finished.splice(0, this.finished.length - MAX_REMEMBERED);
  }

  /** Jobs finished per second in consecutive intervals of `intervalSeconds` over the last `minutes`, oldest first; the last one ends now. */
  throughput(minutes: number, intervalSeconds: number): ThroughputSample[] {
    const now = this.clock.now();
    const intervalMs = intervalSeconds * 1000;
    const count = Math.ceil((minutes * 60_000) / intervalMs);
    const start = now - count * intervalMs;
    const perInterval = new Array<number>(count).fill(0);
    for (const { at } of this.recent(start)) perInterval[Math.min(count - 1, Math.floor((at - start) / intervalMs))]!++;
    return perInterval.map((n, i) => ({ at: new Date(start + i * intervalMs), jobsPerSecond: n / intervalSeconds }));
  }

  /** Percentiles of how long jobs finished in the last `minutes` ran (`run`) or waited to start (`wait`), in ms. */
  latency(which: 'run' | 'wait', minutes: number): LatencyPercentiles {
    const values = this.recent(this.clock.now() - minutes * 60_000)
      .map((f) => (which === 'run' ? f.runMs : f.waitMs))
      .filter((v): v is number => v !== null)
      .sort((a, b) => a - b);
    // Nearest rank: the smallest value with at least p% of the values at or below it.
    const rank = (p: number) => (values.length ? values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)]! : null);
    return { count: values.length, p50: rank(50), p90: rank(90), p99: rank(99), max: values.at(-1) ?? null };
  }

  private recent(since: number): Finished[] {
    const cutoff = Math.max(since, this.clock.now() - STATISTICS_WINDOW_MS);
    // Forget what left the window; the rest is in finishing order (near enough: one event per job, as it finished).
    const stale = this.finished.findIndex((f) => f.at >= this.clock.now() - STATISTICS_WINDOW_MS);
    this.finished.splice(0, stale === -1 ? this.finished.length : stale);
    // The newest MAX_REMEMBERED only (up to a quarter more wait for the next trim).
    const remembered = this.finished.length > MAX_REMEMBERED ? this.finished.slice(-MAX_REMEMBERED) : this.finished;
    return remembered.filter((f) => f.at >= cutoff);
  }
}
