// bench/startup.ts — what a start costs: `bun src/main.ts` as a real process, time from spawn to its
// "jobgraph listening" line and the CPU it used by then (its own, from /proc; children such as the quote server not
// counted) and 3 s later (what it does in the background once listening: warm-up, assets), median of several starts
// against one database (the first start, which ingests the dataset, is not counted).
// With a second checkout as the baseline, both alternate in the same run (the machine's load affects both alike):
//   bun bench/startup.ts [starts = 5] [baseline checkout, e.g. /tmp/base]   (extra environment: STARTUP_ENV='WORKERS=1 …')
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { amount, markdownTable, reportRow } from './report';
import { withServerRuntime } from '../scripts/lib/server-runtime';

const starts = Number(process.argv[2] ?? 5);
const baselineRoot = process.argv[3];
const root = new URL('..', import.meta.url).pathname;
const ticksPerSecond = 100; // USER_HZ on Linux
const SETTLE_MS = 3000;

/** CPU seconds (user + system) one process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

const extraEnv = Object.fromEntries(
  (process.env.STARTUP_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split('=', 2) as [string, string]),
);
const baseEnv = { ...process.env };
for (const name of ['PORT', 'DATABASE_PATH', 'QUOTE_SERVER', 'ANALYTICS_CSV', 'LOG_FILE', 'BENCH_REPORT']) delete baseEnv[name];

/** One start: milliseconds to the listening line and CPU seconds by then; stopped with SIGTERM after. */
async function start(cwd: string, env: Record<string, string | undefined>): Promise<{ ms: number; cpu: number; settled: number }> {
  const began = performance.now();
  const proc = Bun.spawn(['bun', 'src/main.ts'], { cwd, env, stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('"jobgraph listening"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${cwd}: bun src/main.ts did not start:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  const ms = performance.now() - began;
  const cpu = cpuSeconds(proc.pid);
  void (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  await Bun.sleep(SETTLE_MS);
  const settled = cpuSeconds(proc.pid);
  proc.kill('SIGTERM');
  await proc.exited;
  return { ms, cpu, settled };
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-startup-'));
try {
  const checkouts = [{ name: 'this checkout', root }, ...(baselineRoot ? [{ name: `baseline (${baselineRoot})`, root: baselineRoot }] : [])];
  const runs = checkouts.map((checkout, index) => {
    const env = withServerRuntime({ ...baseEnv, PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, `startup-${index}.db`), ADMIN_PASSWORD: 'startup-bench-password', LOG_LEVEL: 'info', ...extraEnv });
    return { ...checkout, env, times: [] as number[], cpus: [] as number[], settled: [] as number[] };
  });
  for (const run of runs) await start(run.root, run.env); // ingests the dataset: not a typical start
  for (let i = 0; i < starts; i++) {
    for (const run of i % 2 ? runs.toReversed() : runs) {
      const { ms, cpu, settled } = await start(run.root, run.env);
      run.times.push(ms);
      run.cpus.push(cpu);
      run.settled.push(settled);
    }
  }
  console.log(`start-up: median of ${starts} starts${Object.keys(extraEnv).length ? ` (${process.env.STARTUP_ENV})` : ''}\n`);
  console.log(
    markdownTable(
      ['checkout', 'spawn → listening', 'CPU by then', `CPU ${SETTLE_MS / 1000} s later`],
      runs.map((run) => [run.name, amount(median(run.times), 'ms'), amount(median(run.cpus) * 1000, 'ms'), amount(median(run.settled) * 1000, 'ms')]),
    ),
  );
  const [ours, base] = runs;
  reportRow({
    measure: 'start-up: spawn → listening (CPU by then)',
    jobgraph: `${amount(median(ours!.times), 'ms')} (${amount(median(ours!.cpus) * 1000, 'ms')} CPU)`,
    baseline: base ? `${amount(median(base.times), 'ms')} (${amount(median(base.cpus) * 1000, 'ms')} CPU)` : '—',
    ratio: base ? median(ours!.times) / median(base.times) : null,
    target: '—',
    met: null,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
