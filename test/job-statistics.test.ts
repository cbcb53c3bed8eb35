// JobStatistics (src/jobs/statistics.ts) remembers the newest 20,000 finished jobs for its percentiles; past that it
// trims a quarter at a time (a trim per job moved the whole array for every completion), answering the same.
import { describe, expect, test } from 'bun:test';
import { JobStatistics } from '../src/jobs/statistics';

describe('job statistics past their bound', () => {
  test('percentiles cover exactly the newest 20,000 finished jobs, whenever the trim happens', () => {
    const now = 1_000_000_000;
    const statistics = new JobStatistics({ now: () => now });
    const finish = (runMs: number) => statistics.record({ createdAt: new Date(now - runMs - 5), startedAt: new Date(now - runMs), finishedAt: new Date(now) });
    // 10,000 old jobs that ran 1 s, then 24,999 that ran 10 ms: only the newest 20,000 count (no 1 s among them).
    for (let i = 0; i < 10_000; i++) finish(1_000);
    for (let i = 0; i < 24_999; i++) finish(10);
    expect(statistics.latency('run', 5)).toMatchObject({ count: 20_000, p50: 10, max: 10 });
    // One more goes past the trim point; still the newest 20,000.
    finish(20);
    expect(statistics.latency('run', 5)).toMatchObject({ count: 20_000, p50: 10, max: 20 });
    expect(statistics.latency('wait', 5)).toMatchObject({ count: 20_000, max: 5 });
  });
});
