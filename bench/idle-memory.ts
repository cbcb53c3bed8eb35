// bench/idle-memory.ts — resident memory at idle after start, with the defaults (the bundled dataset, WORKERS = CPU
// count, the embedded quote server): `bun src/main.ts` as a real process plus its quote server child, beside the stock
// graphql-yoga + graphql-ws server (bench/stock-server.ts) in the same run. Memory does not depend on the machine's load.
//   bun bench/idle-memory.ts [settle seconds = 3]   (extra environment for jobgraph: IDLE_ENV='WORKERS=1 …')
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { amount, markdownTable, reportRow } from './report';
import { withServerRuntime } from '../scripts/lib/server-runtime';

const TARGET_MB = 150;
const settleMs = Number(process.argv[2] ?? 3) * 1000;
const root = new URL('..', import.meta.url).pathname;

/** Resident set size of one process in MB, from /proc (Linux). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Spawns `command` and waits until a stdout line matches; the whole stdout so far goes back too. */
async function spawnUntil(command: string[], env: Record<string, string | undefined>, ready: RegExp) {
  const proc = Bun.spawn(command, { cwd: root, env, stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 60_000;
  while (!ready.test(text)) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) throw new Error(`${command.join(' ')} did not start:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  // Keep draining, so that a full pipe never blocks the process.
  void (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  return proc;
}

const extraEnv = Object.fromEntries(
  (process.env.IDLE_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split('=', 2) as [string, string]),
);
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-idle-'));
const baseEnv = { ...process.env };
for (const name of ['PORT', 'DATABASE_PATH', 'WORKERS', 'QUOTE_SERVER', 'ANALYTICS_CSV', 'LOG_FILE', 'BENCH_REPORT']) delete baseEnv[name];
try {
  // First start ingests the dataset into the fresh database; the measured start is the second, as in production.
  // As `bun run start` starts it (scripts/lib/server-runtime.ts); the stock server as its own defaults.
  const env = withServerRuntime({ ...baseEnv, PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'idle.db'), ADMIN_PASSWORD: 'idle-bench-password', LOG_LEVEL: 'info', ...extraEnv });
  const first = await spawnUntil(['bun', 'src/main.ts'], env, /"jobgraph listening"/);
  first.kill('SIGTERM');
  await first.exited;

  const jobgraph = await spawnUntil(['bun', 'src/main.ts'], env, /"jobgraph listening"/);
  const stock = await spawnUntil(['bun', 'bench/stock-server.ts', '0'], baseEnv, /listening \d+/);
  await Bun.sleep(settleMs);
  const quotePids = childrenOf(jobgraph.pid);
  const server = rssMb(jobgraph.pid);
  const children = quotePids.reduce((sum, pid) => sum + rssMb(pid), 0);
  const stockMb = rssMb(stock.pid);
  jobgraph.kill('SIGTERM');
  stock.kill('SIGTERM');
  await Promise.all([jobgraph.exited, stock.exited]);

  const total = server + children;
  const mb = (value: number) => amount(value, 'MB', 1);
  console.log(`idle RSS ${settleMs / 1000} s after start${Object.keys(extraEnv).length ? ` (${process.env.IDLE_ENV})` : ''}\n`);
  console.log(
    markdownTable(
      ['process', 'RSS'],
      [
        ['jobgraph (src/main.ts)', mb(server)],
        [`its children (quote server: ${quotePids.length})`, mb(children)],
        ['jobgraph together', mb(total)],
        ['stock graphql-yoga + graphql-ws (bench/stock-server.ts)', mb(stockMb)],
      ],
    ),
  );
  reportRow({
    measure: 'idle RSS after start, jobgraph + quote server',
    jobgraph: mb(total),
    baseline: `${mb(stockMb)} (stock Yoga)`,
    ratio: total / stockMb,
    target: `≤ ${TARGET_MB} MB`,
    met: total <= TARGET_MB,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
