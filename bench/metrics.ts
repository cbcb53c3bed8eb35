// bench/metrics.ts — what a Prometheus scrape of /metrics costs a server that has run jobs: N trivial jobs through
// submitJobs (1,000 a request), every one finished, then scrapes alternated with `{ __typename }` requests (the
// baseline: what any request costs the same server in the same run). A scrape runs on the server's one thread, so its
// time is how long every other request waits behind it.
//   bun bench/metrics.ts [N=20000] [scrapes=10]
import { amount, reportRow } from './report';
import { startBenchServer } from './server';

const N = Number(process.argv[2] ?? 20_000);
const SCRAPES = Number(process.argv[3] ?? 10);
const bench = await startBenchServer({ QUOTE_SERVER: '127.0.0.1:9' });
const url = bench.server.url;
const gql = async (query: string, variables: Record<string, unknown> = {}) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bench.token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data: any; errors?: unknown };
};
const timed = async (run: () => Promise<unknown>) => {
  const started = performance.now();
  await run();
  return performance.now() - started;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  const batch = Array.from({ length: 1000 }, () => ({ diagnostic: { behavior: 'SUCCEED', durationMs: 0 } }));
  for (let sent = 0; sent < N; sent += batch.length) {
    const answer = await gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs) { id } }', { jobs: batch.slice(0, Math.min(batch.length, N - sent)) });
    if (answer.errors) throw new Error(`submitJobs failed: ${JSON.stringify(answer.errors)}`);
  }
  for (;;) {
    const counts = (await gql('{ jobCounts { queued running } }')).data.jobCounts;
    if (counts.queued + counts.running === 0) break;
    await Bun.sleep(100);
  }
  const metricsUrl = new URL('/metrics', url).href;
  const scrapes: number[] = [];
  const requests: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES; i++) {
    scrapes.push(await timed(async () => (bytes = (await (await fetch(metricsUrl)).text()).length)));
    requests.push(await timed(() => gql('{ __typename }')));
  }
  const scrape = median(scrapes);
  const request = median(requests);
  console.log(`after ${N.toLocaleString('en')} jobs: /metrics (${Math.round(bytes / 1024)} KiB) p50 ${scrape.toFixed(1)} ms, max ${Math.max(...scrapes).toFixed(1)} ms; { __typename } p50 ${request.toFixed(2)} ms`);
  reportRow({
    measure: `metrics: one /metrics scrape after ${N.toLocaleString('en')} jobs, p50`,
    jobgraph: amount(scrape, 'ms', 1),
    baseline: `${amount(request, 'ms', 2)} ({ __typename })`,
    ratio: scrape / request,
    target: '≤ 20 ms',
    met: scrape <= 20,
  });
} finally {
  await bench.stop();
}
