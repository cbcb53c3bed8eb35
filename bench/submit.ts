// bench/submit.ts — submitting π jobs through the public API (HTTP, the admin's token), as clients must:
//   (a) 8 clients × submitJobs of 1,000 per request; (b) 8 clients × one submitPiJob per request;
//   (c) single submits while a paused queue already holds 0 / 10,000 / 50,000 / 100,000 waiting jobs (should stay flat).
// The server runs in this process; the clients run in a child process, so they do not share its event loop.
// Jobs go to a paused queue: this measures submission (parse, check, insert, answer), not running them.
//   bun bench/submit.ts            (CLIENTS, BULK_REQUESTS, SINGLE_REQUESTS override the sizes)
import { amount, reportRow } from './report';
import { startBenchServer } from './server';

const CLIENTS = Number(process.env.CLIENTS ?? 8);
const BULK_SIZE = 1_000;
const BULK_REQUESTS = Number(process.env.BULK_REQUESTS ?? 64);
const SINGLE_REQUESTS = Number(process.env.SINGLE_REQUESTS ?? 8_000);

const SUBMIT_JOBS = 'mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "bench" }) { id } }';
const SUBMIT_PI = 'mutation { submitPiJob(input: { simulations: 1000, queue: "bench" }) { id } }';
/** The request path alone (token, context, Yoga, one field): the ceiling for any one-job-per-request mutation. */
const ME = 'query { me { id } }';

interface Load {
  url: string;
  token: string;
  mode: 'bulk' | 'single' | 'me';
  requests: number;
}

/** The child: `requests` requests over CLIENTS connections; prints {jobs, seconds}. */
async function runLoad({ url, token, mode, requests }: Load): Promise<void> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const body =
    mode === 'bulk'
      ? JSON.stringify({ query: SUBMIT_JOBS, variables: { jobs: Array.from({ length: BULK_SIZE }, () => ({ pi: { simulations: 1000 } })) } })
      : JSON.stringify({ query: mode === 'me' ? ME : SUBMIT_PI });
  const perRequest = mode === 'bulk' ? BULK_SIZE : 1;
  let next = 0;
  let jobs = 0;
  const client = async () => {
    while (next++ < requests) {
      const response = await fetch(url, { method: 'POST', headers, body });
      const result = (await response.json()) as { data?: unknown; errors?: unknown };
      if (!result.data) throw new Error(JSON.stringify(result.errors));
      jobs += perRequest;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  console.log(JSON.stringify({ jobs, seconds: (performance.now() - start) / 1000 }));
}

async function measure(load: Load): Promise<number> {
  const child = Bun.spawn(['bun', import.meta.path, '--load', JSON.stringify(load)], { stdout: 'pipe', stderr: 'inherit' });
  const output = await new Response(child.stdout).text();
  if ((await child.exited) !== 0) throw new Error(`the load process failed: ${output}`);
  const { jobs, seconds } = JSON.parse(output.trim().split('\n').at(-1)!) as { jobs: number; seconds: number };
  return jobs / seconds;
}

const rate = (perSecond: number) => `${Math.round(perSecond).toLocaleString('en')} jobs/s`;

if (process.argv[2] === '--load') {
  await runLoad(JSON.parse(process.argv[3]!) as Load);
} else {
  const bench = await startBenchServer();
  const { app } = bench.server;
  try {
    await app.queues.create({ name: 'bench', maxLength: 10_000_000 });
    await app.queues.update('bench', { paused: true });
    const common = { url: bench.server.url, token: bench.token };
    // Warm-up: JIT, prepared statements, Yoga's document caches.
    await measure({ ...common, mode: 'bulk', requests: 8 });
    await measure({ ...common, mode: 'single', requests: 800 });
    const bulk = await measure({ ...common, mode: 'bulk', requests: BULK_REQUESTS });
    console.log(`(a) ${CLIENTS} clients × submitJobs of ${BULK_SIZE.toLocaleString('en')}: ${rate(bulk)}   (target ≥ 15,000)`);
    const single = await measure({ ...common, mode: 'single', requests: SINGLE_REQUESTS });
    console.log(`(b) ${CLIENTS} clients × submitPiJob: ${rate(single)}   (target ≥ 3,000)`);
    const me = await measure({ ...common, mode: 'me', requests: SINGLE_REQUESTS });
    console.log(`    for reference, ${CLIENTS} clients × { me { id } } (the request path, no job): ${Math.round(me).toLocaleString('en')} requests/s`);
    // No stock server has a job engine, so bulk has no baseline; a single submit's is the request path alone.
    reportRow({
      measure: `submit: ${CLIENTS} clients × submitJobs of ${BULK_SIZE.toLocaleString('en')}`,
      jobgraph: amount(bulk, 'jobs/s'),
      baseline: '—',
      ratio: null,
      target: '≥ 15,000 jobs/s',
      met: bulk >= 15_000,
    });
    reportRow({
      measure: `submit: ${CLIENTS} clients × single submitPiJob`,
      jobgraph: amount(single, 'jobs/s'),
      baseline: `${amount(me, 'req/s')} ({ me { id } })`,
      ratio: single / me,
      target: '≥ 3,000 jobs/s',
      met: single >= 3_000,
    });

    // (c) a fresh queue at each level, filled through the service (the fill is not what is measured).
    const admin = { id: 1, username: 'admin', role: 'ADMIN' as const, sessionId: 0, expiresAt: Number.POSITIVE_INFINITY };
    const rates: number[] = [];
    for (const waiting of [0, 10_000, 50_000, 100_000]) {
      await app.jobs.deleteQueue('bench');
      await app.queues.create({ name: 'bench', maxLength: 10_000_000 });
      await app.queues.update('bench', { paused: true });
      for (let filled = 0; filled < waiting; filled += 10_000) {
        await app.jobs.submitMany(admin, 'PI', Array.from({ length: 10_000 }, () => ({ simulations: 1000 })), { queue: 'bench' });
      }
      const perSecond = await measure({ ...common, mode: 'single', requests: SINGLE_REQUESTS / 2 });
      rates.push(perSecond);
      // The engine alone (no HTTP, no other process): what the queue's size could change, without the machine's noise.
      const engineStart = performance.now();
      for (let i = 0; i < 5_000; i++) await app.jobs.submit(admin, 'PI', { simulations: 1000 }, { queue: 'bench' });
      const engine = 5_000 / ((performance.now() - engineStart) / 1000);
      console.log(`(c) submitPiJob with ${waiting.toLocaleString('en')} waiting: ${rate(perSecond)}   (jobs.submit in process: ${rate(engine)})`);
    }
    const spread = Math.max(...rates) / Math.min(...rates) - 1;
    console.log(`(c) spread from 0 to 100,000 waiting: ${(spread * 100).toFixed(0)}%   (target ≤ 20%)`);
    reportRow({
      measure: `submit: single submitPiJob with 100,000 waiting (spread over 0/10k/50k/100k: ${(spread * 100).toFixed(0)}%)`,
      jobgraph: amount(rates.at(-1)!, 'jobs/s'),
      baseline: `${amount(rates[0]!, 'jobs/s')} (0 waiting)`,
      ratio: rates.at(-1)! / rates[0]!,
      target: 'flat: spread ≤ 20%',
      met: spread <= 0.2,
    });
  } finally {
    await bench.stop();
  }
}
