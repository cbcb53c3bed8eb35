// bench/kinds.ts — a trivial kind file's end-to-end throughput beside the built-in π kind's, in the same run:
// submitJobs of JOBS jobs (over HTTP, the admin's token), then until the last one is final (jobCounts polled), in
// alternating rounds (π, wordCount, π, …) so both see the same machine. The kind file is examples/kinds/wordCount.ts
// (run in a pool Worker, its result checked against its schema); π is a 100-sample estimate (one pool task).
//   bun bench/kinds.ts [jobs per round = 2000] [rounds = 3]
import { fileURLToPath } from 'node:url';
import { amount, reportRow } from './report';
import { startBenchServer } from './server';

const JOBS = Number(process.argv[2] ?? 2_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const BATCH = 1_000;

const bench = await startBenchServer({ JOB_KINDS_DIR: fileURLToPath(new URL('../examples/kinds', import.meta.url)) });
const { url } = bench.server;

async function gql(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bench.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const result = (await response.json()) as { data?: any; errors?: unknown };
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data;
}

const ITEMS = { pi: { pi: { simulations: 100 } }, wordCount: { wordCount: { text: 'the quick brown fox' } } };

/** Jobs per second from the first submit to the last job final. */
async function round(kind: keyof typeof ITEMS): Promise<number> {
  const started = performance.now();
  for (let sent = 0; sent < JOBS; sent += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, JOBS - sent) }, () => ITEMS[kind]);
    await gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs) { id } }', { jobs });
  }
  for (;;) {
    const { jobCounts } = await gql('{ jobCounts { queued running failed } }');
    if (jobCounts.failed) throw new Error(`${jobCounts.failed} jobs failed`);
    if (jobCounts.queued + jobCounts.running === 0) break;
    await Bun.sleep(5);
  }
  return JOBS / ((performance.now() - started) / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  // Warm-up: JIT, prepared statements, the workers' import of the kind file.
  await round('pi');
  await round('wordCount');
  const rates: Record<keyof typeof ITEMS, number[]> = { pi: [], wordCount: [] };
  for (let i = 0; i < ROUNDS; i++) for (const kind of ['pi', 'wordCount'] as const) rates[kind].push(await round(kind));
  const pi = median(rates.pi);
  const wordCount = median(rates.wordCount);
  const ratio = wordCount / pi;
  console.log(`${JOBS.toLocaleString('en')} jobs a round, ${ROUNDS} rounds each, median:`);
  console.log(`  π (built-in, 100 samples):      ${amount(pi, 'jobs/s')}   rounds: ${rates.pi.map((r) => Math.round(r)).join(', ')}`);
  console.log(`  wordCount (kind file):          ${amount(wordCount, 'jobs/s')}   rounds: ${rates.wordCount.map((r) => Math.round(r)).join(', ')}`);
  console.log(`  ratio ${ratio.toFixed(2)}   (target: within 10% of π's, ≥ 0.90)`);
  reportRow({
    measure: `kinds: a kind file's jobs end to end (${JOBS.toLocaleString('en')} via submitJobs)`,
    jobgraph: amount(wordCount, 'jobs/s'),
    baseline: `${amount(pi, 'jobs/s')} (π)`,
    ratio,
    target: '≥ 0.90 × π',
    met: ratio >= 0.9,
  });
} finally {
  await bench.stop();
}
