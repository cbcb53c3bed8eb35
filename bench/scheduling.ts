// bench/scheduling.ts — delayed jobs and rate limits, through the public API (GraphQL over HTTP):
//  1. lateness of delayed jobs: N jobs (default 1,000) due over 2 s, each with its own runAt; lateness = startedAt −
//     runAt as the server stamps them. Baseline, in the same run: N plain setTimeout timers due over 2 s in this
//     process (what a timer alone costs, with no database, claim or worker).
//  2. what a rate limit costs the other queues: an unlimited queue's throughput (M trivial jobs) alone, then again
//     while another queue's jobs wait behind a rate limit (River's users lost half theirs: riverqueue/river#1145).
//  3. many jobs at once: cancelJobs, retryJobs, then (cancelled again) deleteJobs over K jobs (default 100,000) of a
//     paused queue, each one call; beside it, the time the same K jobs took to submit (10,000 per submitJobs call).
//   bun bench/scheduling.ts [N=1000] [M=5000] [K=100000]
import { startBenchServer } from './server';
import { amount, reportRow } from './report';

const N = Number(process.argv[2] ?? 1000);
const M = Number(process.argv[3] ?? 5000);
const K = Number(process.argv[4] ?? 100_000);
const SPREAD_MS = 2000;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const bench = await startBenchServer({ JOB_PROGRESS_INTERVAL_MS: '1000' });
const gql = async (query: string, variables: Record<string, unknown> = {}) => {
  const response = await fetch(bench.server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bench.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (!body.data || body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};
const succeeded = async (queue: string) => (await gql(`{ jobCounts(queue: "${queue}") { succeeded } }`)).jobCounts.succeeded as number;
async function waitFor(queue: string, count: number): Promise<void> {
  while ((await succeeded(queue)) < count) await Bun.sleep(20);
}

try {
  // Warm the pool and the claim path.
  await gql('mutation { createQueue(input: { name: "warm", concurrency: 1024 }) { name } }');
  await gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "warm" }, count: 2000) { id } }');
  await waitFor('warm', 2000);

  // ---- 1. lateness ------------------------------------------------------------------------------------
  const timerLateness: number[] = [];
  const timerStart = Date.now() + 500;
  await Promise.all(
    Array.from({ length: N }, (_, i) => {
      const due = timerStart + (i * SPREAD_MS) / N;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          timerLateness.push(Date.now() - due);
          resolve();
        }, due - Date.now()),
      );
    }),
  );
  timerLateness.sort((a, b) => a - b);

  await gql('mutation { createQueue(input: { name: "delayed", concurrency: 1024 }) { name } }');
  const first = Date.now() + 1000;
  const jobs = Array.from({ length: N }, (_, i) => ({ diagnostic: { behavior: 'SUCCEED', runAt: new Date(first + Math.floor((i * SPREAD_MS) / N)).toISOString() } }));
  await gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "delayed" }) { id } }', { jobs });
  await waitFor('delayed', N);
  const lateness: number[] = [];
  for (let after: string | null = null; ; ) {
    const page: any = (await gql('query($after: String) { jobs(queue: "delayed", first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { runAt startedAt } } } }', { after })).jobs;
    for (const { node } of page.edges as { node: { runAt: string; startedAt: string } }[]) lateness.push(Date.parse(node.startedAt) - Date.parse(node.runAt));
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  lateness.sort((a, b) => a - b);
  const [p50, p99] = [percentile(lateness, 50), percentile(lateness, 99)];
  const [t50, t99] = [percentile(timerLateness, 50), percentile(timerLateness, 99)];
  console.log(`delayed jobs: ${N} due over ${SPREAD_MS} ms, lateness (startedAt − runAt): p50 ${p50} ms, p99 ${p99} ms, max ${lateness.at(-1)} ms, early ${lateness.filter((ms) => ms < 0).length}`);
  console.log(`baseline    : ${N} setTimeout timers over ${SPREAD_MS} ms in this process: p50 ${t50} ms, p99 ${t99} ms`);
  reportRow({ measure: `scheduling: delayed-job lateness p50 (${N} due over 2 s)`, jobgraph: amount(p50, 'ms'), baseline: amount(t50, 'ms'), ratio: t50 > 0 ? p50 / t50 : null, target: '≤ 5 ms', met: p50 <= 5 });
  reportRow({ measure: `scheduling: delayed-job lateness p99 (${N} due over 2 s)`, jobgraph: amount(p99, 'ms'), baseline: amount(t99, 'ms'), ratio: t99 > 0 ? p99 / t99 : null, target: '≤ 50 ms', met: p99 <= 50 });

  // ---- 2. rate-limit cost -----------------------------------------------------------------------------
  const throughput = async (queue: string) => {
    await gql(`mutation { createQueue(input: { name: "${queue}", concurrency: 1024 }) { name } }`);
    const start = performance.now();
    await gql(`mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "${queue}" }, count: ${M}) { id } }`);
    await waitFor(queue, M);
    return M / ((performance.now() - start) / 1000);
  };
  const before = await throughput('free-alone');
  // Another queue whose jobs wait behind a limit all along: every claim pass meets it.
  await gql('mutation { createQueue(input: { name: "limited", concurrency: 1024, rateLimit: { jobs: 20, perSeconds: 1 } }) { name } }');
  await gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "limited" }, count: 5000) { id } }');
  const beside = await throughput('free-beside');
  const limitedStarted = await succeeded('limited');
  await gql('mutation { cancelJobs(filter: { queue: "limited" }) }');
  // Alone again after, so warm-up favours neither side: the baseline is the mean of the two.
  const alone = (before + (await throughput('free-after'))) / 2;
  console.log(`rate-limit cost: an unlimited queue, ${M} jobs: alone ${Math.round(alone).toLocaleString('en')} jobs/s (mean of before and after); beside a limited queue (20/s) ${Math.round(beside).toLocaleString('en')} jobs/s (×${(beside / alone).toFixed(2)}); the limited queue ran ${limitedStarted} meanwhile`);
  reportRow({
    measure: `scheduling: unlimited queue beside a rate-limited one (${M} jobs)`,
    jobgraph: amount(beside, 'jobs/s'),
    baseline: amount(alone, 'jobs/s'),
    ratio: beside / alone,
    target: 'no loss (×1)',
    met: beside / alone >= 0.9,
  });

  // ---- 3. many jobs at once ---------------------------------------------------------------------------
  await gql('mutation { createQueue(input: { name: "many", maxLength: 10000000 }) { name } pauseQueue(name: "many") { paused } }');
  const submitStart = performance.now();
  for (let left = K; left > 0; left -= 10_000) {
    await gql(`mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "many" }, count: ${Math.min(10_000, left)}) { id } }`);
  }
  const submitMs = performance.now() - submitStart;
  const timed = async (mutation: string) => {
    const start = performance.now();
    const count = Object.values(await gql(mutation))[0] as number;
    if (count !== K) throw new Error(`${mutation}: ${count} of ${K}`);
    return performance.now() - start;
  };
  const cancelMs = await timed('mutation { cancelJobs(filter: { queue: "many" }) }');
  const retryMs = await timed('mutation { retryJobs(filter: { queue: "many" }) }');
  await timed('mutation { cancelJobs(filter: { queue: "many" }) }');
  const deleteMs = await timed('mutation { deleteJobs(filter: { queue: "many" }) }');
  console.log(`many jobs (${K.toLocaleString('en')}): cancelJobs ${cancelMs.toFixed(0)} ms, retryJobs ${retryMs.toFixed(0)} ms, deleteJobs ${deleteMs.toFixed(0)} ms; submitting them took ${submitMs.toFixed(0)} ms`);
  for (const [name, ms] of [['cancelJobs', cancelMs], ['retryJobs', retryMs], ['deleteJobs', deleteMs]] as const) {
    reportRow({ measure: `scheduling: ${name} over ${K.toLocaleString('en')} jobs (one call)`, jobgraph: amount(ms, 'ms'), baseline: `${amount(submitMs, 'ms')} (submit)`, ratio: ms / submitMs, target: 'a few seconds', met: ms <= 5000 });
  }
} finally {
  await bench.stop();
}
