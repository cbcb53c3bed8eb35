// bench/flows.ts — flows through the public API (HTTP, the admin's token), each beside a baseline in the same run:
//   (a) submitFlow of 10,000 nodes (100 layers of 100, each node waiting for one of the layer before) in one request,
//       beside submitJobs of the same 10,000 jobs with no edges (both into a paused queue: submission alone);
//   (b) a chain of CHAIN nodes (default 1,000): per-step overhead = start of a child − end of its parent (p50/p99),
//       beside a client that chains by hand (submitPiJob, follow jobUpdated until it ends, submit the next).
//   bun bench/flows.ts [CHAIN] [HAND_STEPS]       (on SQLite; DATABASE_URL=postgres://… for PostgreSQL)
import { createClient } from 'graphql-ws';
import { amount, reportRow } from './report';
import { startBenchServer } from './server';

const CHAIN = Number(process.argv[2] ?? 1000);
const HAND_STEPS = Number(process.argv[3] ?? 200);
const NODES = 10_000;

const bench = await startBenchServer();
const { url, token } = { url: bench.server.url, token: bench.token };
const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };

async function gql(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const result = (await response.json()) as { data?: any; errors?: unknown };
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data;
}

const tiny = (seed: number) => ({ pi: { simulations: 100, seed } });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

try {
  await gql('mutation { createQueue(input: { name: "bench-flows", maxLength: 10000000 }) { name } }');
  await gql('mutation { pauseQueue(name: "bench-flows") { paused } }');

  // (a) One request of 10,000 nodes, three times each, medians.
  const nodes = Array.from({ length: NODES }, (_, i) => ({ key: `n${i}`, job: tiny(i + 1), dependsOn: i >= 100 ? [`n${i - 100}`] : [] }));
  const jobs = nodes.map((node) => node.job);
  const flowMs: number[] = [];
  const jobsMs: number[] = [];
  for (let round = 0; round < 3; round++) {
    flowMs.push(await timed(() => gql('mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id } }', { input: { nodes, options: { queue: 'bench-flows' } } })));
    jobsMs.push(await timed(() => gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "bench-flows" }) { id } }', { jobs })));
  }
  console.log(`(a) submitFlow of ${NODES.toLocaleString('en')} nodes: ${median(flowMs).toFixed(0)} ms (median of 3)   submitJobs of the same jobs: ${median(jobsMs).toFixed(0)} ms`);
  reportRow({
    measure: `flows: submitFlow of ${NODES.toLocaleString('en')} nodes, one request`,
    jobgraph: amount(median(flowMs), 'ms'),
    baseline: `${amount(median(jobsMs), 'ms')} (submitJobs, no edges)`,
    ratio: median(flowMs) / median(jobsMs),
    target: 'one request',
    met: true,
  });

  // (b) A chain of CHAIN tiny nodes on the default queue.
  const chain = Array.from({ length: CHAIN }, (_, i) => ({ key: `c${i}`, job: tiny(i + 1), dependsOn: i ? [`c${i - 1}`] : [] }));
  const { submitFlow } = await gql('mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id } }', { input: { nodes: chain } });
  for (;;) {
    const { flow } = await gql('query($id: ID!) { flow(id: $id) { status } }', { id: submitFlow.id });
    if (flow.status !== 'RUNNING') break;
    await Bun.sleep(50);
  }
  const { flow } = await gql('query($id: ID!) { flow(id: $id) { nodes { job { startedAt finishedAt } } } }', { id: submitFlow.id });
  const steps: number[] = [];
  for (let i = 1; i < flow.nodes.length; i++) steps.push(Date.parse(flow.nodes[i].job.startedAt) - Date.parse(flow.nodes[i - 1].job.finishedAt));
  steps.sort((a, b) => a - b);

  // The baseline: a client chaining by hand over WebSocket (what a user without flows does).
  const ws = createClient({ url: url.replace(/^http/, 'ws'), connectionParams: { authorization: `Bearer ${token}` } });
  const hand: number[] = [];
  let previousEnd: number | null = null;
  for (let i = 0; i < HAND_STEPS; i++) {
    const { submitPiJob } = await gql(`mutation { submitPiJob(input: { simulations: 100, seed: ${i + 1} }) { id } }`);
    const done = await new Promise<{ startedAt: string; finishedAt: string }>((resolve, reject) => {
      const stop = ws.subscribe<{ jobUpdated: { status: string; startedAt: string; finishedAt: string } }>(
        { query: 'subscription($id: ID!) { jobUpdated(id: $id) { status startedAt finishedAt } }', variables: { id: submitPiJob.id } },
        {
          next: ({ data }) => {
            if (data?.jobUpdated.finishedAt) {
              stop();
              resolve(data.jobUpdated);
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    if (previousEnd !== null) hand.push(Date.parse(done.startedAt) - previousEnd);
    previousEnd = Date.parse(done.finishedAt);
  }
  await ws.dispose();
  hand.sort((a, b) => a - b);
  console.log(
    `(b) chain of ${CHAIN.toLocaleString('en')}: child start − parent end p50 ${percentile(steps, 0.5)} ms, p99 ${percentile(steps, 0.99)} ms   ` +
      `by hand (${HAND_STEPS} steps over graphql-ws): p50 ${percentile(hand, 0.5)} ms, p99 ${percentile(hand, 0.99)} ms`,
  );
  reportRow({
    measure: `flows: chain of ${CHAIN.toLocaleString('en')}, child start − parent end, p50 (p99 ${percentile(steps, 0.99)} ms)`,
    jobgraph: amount(percentile(steps, 0.5), 'ms'),
    baseline: `${amount(percentile(hand, 0.5), 'ms')} p50, ${amount(percentile(hand, 0.99), 'ms')} p99 (a client chaining by hand)`,
    ratio: percentile(hand, 0.5) ? percentile(steps, 0.5) / percentile(hand, 0.5) : null,
    target: '≤ 5 ms p50 (SQLite)',
    met: percentile(steps, 0.5) <= 5,
  });
} finally {
  await bench.stop();
}
