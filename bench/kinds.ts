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

/**
 * Jobs per second from the first submit to the last job final, and per CPU second this process (server, workers and
 * client: the same for both kinds) spent meanwhile: the second figure is less moved by other loads on the machine.
 */
async function round(kind: keyof typeof ITEMS): Promise<{ wall: number; cpu: number }> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: JOBS / ((performance.now() - started) / 1000), cpu: JOBS / ((cpu.user + cpu.system) / 1e6) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  // Warm-up: JIT, prepared statements, the workers' import of the kind file.
  await round('pi');
  await round('wordCount');
  const rates: Record<keyof typeof ITEMS, { wall: number; cpu: number }[]> = { pi: [], wordCount: [] };
  for (let i = 0; i < ROUNDS; i++) for (const kind of ['pi', 'wordCount'] as const) rates[kind].push(await round(kind));
  const pi = median(rates.pi.map((r) => r.wall));
  const wordCount = median(rates.wordCount.map((r) => r.wall));
  const ratio = wordCount / pi;
  const piCpu = median(rates.pi.map((r) => r.cpu));
  const wordCountCpu = median(rates.wordCount.map((r) => r.cpu));
  const rounds = (kind: keyof typeof ITEMS) => rates[kind].map((r) => Math.round(r.wall)).join(', ');
  console.log(`${JOBS.toLocaleString('en')} jobs a round, ${ROUNDS} rounds each, median:`);
  console.log(`  π (built-in, 100 samples):  ${amount(pi, 'jobs/s')}, ${amount(piCpu, 'jobs per CPU second')}   rounds: ${rounds('pi')}`);
  console.log(`  wordCount (kind file):      ${amount(wordCount, 'jobs/s')}, ${amount(wordCountCpu, 'jobs per CPU second')}   rounds: ${rounds('wordCount')}`);
  console.log(`  ratio ${ratio.toFixed(2)} (per CPU second ${(wordCountCpu / piCpu).toFixed(2)})   (target: within 10% of π's, ≥ 0.90)`);
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
