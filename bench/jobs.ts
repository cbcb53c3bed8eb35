// bench/jobs.ts — end-to-end throughput of durable jobs: bulk-submit N trivial jobs, run them all on the
// worker pool, and report jobs/s and submit-to-complete latency; then the same again on the warmed-up server. The baseline, in the same run, is the same
// N tasks sent straight to the pool with no database at all: the ratio is what durability costs.
//   bun bench/jobs.ts [N=10000]      (WORKERS sets the pool size; default: CPU count)
import './server-runtime';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { amount, reportRow } from './report';

const N = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-bench-'));
const config = loadConfig({ ...process.env, DATABASE_PATH: join(dir, 'bench.db'), LOG_LEVEL: 'warn' });
const app = await createApp(config, createLogger({ level: 'warn' }));
const cpuMicros = (usage: NodeJS.CpuUsage) => usage.user + usage.system;
// The main thread's CPU time (µs; Linux only, else null): on two cores it is the bound (GraphQL, the store, the
// runner and the pool's messages all run there), while the worker and the WAL checkpointer run beside it.
const MAIN_THREAD_STAT = `/proc/self/task/${process.pid}/schedstat`;
const mainThreadMicros = () => (existsSync(MAIN_THREAD_STAT) ? Number(readFileSync(MAIN_THREAD_STAT, 'utf8').split(' ')[0]) / 1000 : null);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

try {
  const task = { behavior: 'SUCCEED', durationMs: 0 };
  // Warm the workers (module load, JIT) before timing anything.
  await Promise.all(Array.from({ length: 1000 }, () => app.pool.run('diagnostic', task)));

  const poolStart = performance.now();
  const poolCpu = process.cpuUsage();
  await Promise.all(Array.from({ length: N }, () => app.pool.run('diagnostic', task)));
  const poolSeconds = (performance.now() - poolStart) / 1000;
  const poolCpuPerTask = cpuMicros(process.cpuUsage(poolCpu)) / N;

  await app.users.bootstrapAdmin('admin', 'bench-admin-password');
  const admin = { id: 1, username: 'admin', role: 'ADMIN' as const, sessionId: 0, expiresAt: Number.POSITIVE_INFINITY };
  await app.queues.create({ name: 'bench', concurrency: 1024 });
  await app.jobs.start();

  // Two rounds of N: the first right after the start (what the JIT compiles then is counted: 11-16 µs a job on one
  // core at N = 20,000), the second on a server that has run N jobs already, as a long-running one has.
  const completions = app.events.subscribe('jobCompleted');
  let onCompleted = (_id: number) => {};
  void (async () => {
    for await (const job of completions) onCompleted(job.id);
  })();
  async function round() {
    const latencies: number[] = [];
    const submittedAt = new Map<number, number>();
    const done = new Promise<void>((resolve) => {
      onCompleted = (id) => {
        const at = submittedAt.get(id);
        if (at === undefined) return;
        latencies.push(performance.now() - at);
        if (latencies.length === N) resolve();
      };
    });
    const start = performance.now();
    const cpu = process.cpuUsage();
    const mainCpu = mainThreadMicros();
    const jobs = await app.jobs.submitMany(admin, 'DIAGNOSTIC', Array.from({ length: N }, () => task), { queue: 'bench' });
    const submitSeconds = (performance.now() - start) / 1000;
    for (const job of jobs) submittedAt.set(job.id, start);
    await done;
    const seconds = (performance.now() - start) / 1000;
    const cpuPerJob = cpuMicros(process.cpuUsage(cpu)) / N;
    const mainCpuNow = mainThreadMicros();
    const mainCpuPerJob = mainCpu === null || mainCpuNow === null ? null : (mainCpuNow - mainCpu) / N;
    latencies.sort((a, b) => a - b);
    return { submitSeconds, seconds, cpuPerJob, mainCpuPerJob, latencies, jobsPerSecond: N / seconds };
  }
  const cold = await round();
  const warm = await round();
  const succeeded = (await app.jobs.counts(null, 'bench')).succeeded;

  const tasksPerSecond = N / poolSeconds;
  console.log(`workers: ${app.pool.size}, jobs: ${N} a round, succeeded: ${succeeded} of ${2 * N}`);
  console.log(`baseline  pool only (no database): ${Math.round(tasksPerSecond).toLocaleString('en')} tasks/s`);
  for (const [name, r] of [['first', cold], ['second', warm]] as const) {
    console.log(`${name} round (${name === 'first' ? 'just started' : `after ${N.toLocaleString('en')} jobs`}):`);
    console.log(`  durable   submit (bulk, one transaction): ${(r.submitSeconds * 1000).toFixed(0)} ms (${Math.round(N / r.submitSeconds).toLocaleString('en')} jobs/s)`);
    console.log(`  durable   end to end: ${Math.round(r.jobsPerSecond).toLocaleString('en')} jobs/s in ${r.seconds.toFixed(2)} s`);
    console.log(`  durable   submit-to-complete latency: p50 ${percentile(r.latencies, 50).toFixed(0)} ms, p99 ${percentile(r.latencies, 99).toFixed(0)} ms`);
    // CPU time (every thread of this process) per job: steadier than wall time on a shared machine; on one core,
    // 1,000,000 / µs is the rate it allows.
    console.log(`  cpu       durable ${r.cpuPerJob.toFixed(1)} µs per job (all threads: ${Math.round(1e6 / r.cpuPerJob).toLocaleString('en')} jobs per CPU-second)`);
    if (r.mainCpuPerJob !== null) console.log(`  cpu       main thread ${r.mainCpuPerJob.toFixed(1)} µs per job (${Math.round(1e6 / r.mainCpuPerJob).toLocaleString('en')} jobs per second of it)`);
    console.log(`  ratio     durable / pool only: ${(r.jobsPerSecond / tasksPerSecond).toFixed(2)}`);
  }
  console.log(`cpu       pool only ${poolCpuPerTask.toFixed(1)} µs per task`);
  for (const [name, r] of [['', cold], [' (second round)', warm]] as const) {
    reportRow({
      measure: `jobs: ${N.toLocaleString('en')} durable jobs, bulk submit → SUCCEEDED${name}`,
      jobgraph: amount(r.jobsPerSecond, 'jobs/s'),
      baseline: `${amount(tasksPerSecond, 'tasks/s')} (pool only, no database)`,
      ratio: r.jobsPerSecond / tasksPerSecond,
      target: '≥ 20,000 jobs/s',
      met: r.jobsPerSecond >= 20_000,
    });
  }
  await completions.return?.();
} finally {
  app.jobs.stop();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
