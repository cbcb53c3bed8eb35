// bench/cluster-fanout.ts — `jobCompleted` fan-out through Redis (issue 16), the same workload on two setups in one run:
//   (a) one instance on SQLite, events in process, all SUBSCRIBERS on it;
//   (b) three instances on one PostgreSQL + one Redis (scripts/lib/local-servers.ts, started here on loopback), the
//       SUBSCRIBERS split evenly over them; jobs are submitted to instance 1 and run on whichever instance claims them,
//       so two thirds of the deliveries reach their subscriber's instance through Redis.
// Each setup: SUBSCRIBERS admin WebSocket subscribers of `jobCompleted` (every job), in three load-generator processes
// (bench/public-client.ts completions); a warm-up trickle until every socket has had an event; then `submitJobs`
// batches of RATE / 10 cheap π jobs (100 samples) every 100 ms for SECONDS, into a queue with room for them all.
// Measures deliveries/s, the fraction of the expected SUBSCRIBERS × jobs received, lag p50/p99 (receipt − the job's
// finishedAt), and CPU s/s of the instances, the subscriber processes and the whole machine over the measured span.
// Needs PostgreSQL and redis-server (Debian packages); without them it prints a skip line and exits 0.
//   bun bench/cluster-fanout.ts [subscribers=300] [rate=200] [seconds=10] [--pg-single]
//   (--pg-single adds a third setup, one instance on PostgreSQL without Redis: the database's share of the difference)
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { findPostgresBin, findRedisServer, gql, type LocalServer, startInstance, startPostgres, startRedis } from '../scripts/lib/local-servers';
import { amount, lagPercentiles, lines, markdownTable, reportRow } from './report';

const positional = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const [SUBSCRIBERS, RATE, SECONDS] = [Number(positional[0] ?? 300), Number(positional[1] ?? 200), Number(positional[2] ?? 10)];
const PG_SINGLE = process.argv.includes('--pg-single');
const CLIENTS = 3;
const ADMIN_PASSWORD = 'bench-admin-password';
const QUERY = 'subscription { jobCompleted { id queue finishedAt } }';
const TICK_MS = 100;

if (!findPostgresBin() || !findRedisServer()) {
  console.log('cluster-fanout: skipped — needs PostgreSQL and redis-server (apt-get install postgresql redis-server)');
  process.exit(0);
}

// The SQLite file and PostgreSQL's data directory on tmpfs where there is one: the kernel's writeback of a fresh
// database (the analytics ingest at start) would otherwise land in the measured span. PostgreSQL runs with fsync off.
if (existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
const children = new Set<Subprocess>();
const servers: LocalServer[] = [];
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-fanout-'));
async function stopAll() {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([...children].map((child) => child.exited));
  children.clear();
  for (const server of servers.splice(0).reverse()) await server.stop().catch((error) => console.error(error));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll().finally(() => process.exit(130)));

/** CPU seconds used by one process (utime + stime, clock ticks of 1/100 s); 0 once it is gone. */
function processCpu(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
/** CPU seconds used so far by every process of this name (`postgres`, `redis-server`), from /proc. */
function cpuByName(name: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name) total += processCpu(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}
/** CPU seconds the whole machine was busy (all cores; /proc/stat's first line less idle and iowait), and of them in interrupts (loopback TCP's softirq work lands there). */
function machineCpu(): { busy: number; interrupts: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (fields.reduce((sum, value) => sum + value, 0) - fields[3]! - fields[4]!) / 100, interrupts: (fields[5]! + fields[6]!) / 100 };
}
/** This process's CPU seconds (the driver: submits, polls, and reads the subscriber processes' results). */
const ownCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

interface Outcome {
  jobs: number;
  completedPerSecond: number;
  deliveries: number;
  perSecond: number;
  fraction: number;
  p50: number;
  p99: number;
  subscribed: number;
  failures: number;
  instancesCpu: number;
  clientsCpu: number;
  machineCpu: number;
  interruptsCpu: number;
  driverCpu: number;
  postgresCpu: number;
  redisCpu: number;
  cpuPerThousand: number;
}

/** The workload against running instances (`urls`), subscribers spread over them round-robin by client process. */
async function measure(urls: string[], instancePids: number[]): Promise<Outcome> {
  const token = (await gql(urls[0]!, 'mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD })).login.token;
  for (const [name, concurrency] of [['warmup', 8], ['bench', 64]] as const)
    await gql(urls[0]!, 'mutation($n: String!, $c: Int!) { createQueue(input: { name: $n, concurrency: $c }) { name } }', { n: name, c: concurrency }, token);
  const submit = (queue: string, n: number) =>
    gql(urls[0]!, 'mutation($jobs: [JobSubmission!]!, $q: String!) { submitJobs(jobs: $jobs, options: { queue: $q }) { id } }', { jobs: Array.from({ length: n }, () => ({ pi: { simulations: 100 } })), q: queue }, token);

  const clients = Array.from({ length: CLIENTS }, (_, i) => {
    const count = Math.floor(SUBSCRIBERS / CLIENTS) + (i < SUBSCRIBERS % CLIENTS ? 1 : 0);
    const child = Bun.spawn(['bun', new URL('public-client.ts', import.meta.url).pathname, 'completions', urls[i % urls.length]!, String(count), 'bench', QUERY, token], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
    });
    children.add(child);
    return { child, next: lines(child) };
  });
  // A trickle of warm-up jobs until every socket has had its first event: then every subscription is live.
  let warming = true;
  const warmup = (async () => {
    while (warming) {
      await submit('warmup', 2);
      await Bun.sleep(TICK_MS);
    }
  })();
  await Promise.all(clients.map(({ next }) => next()));
  warming = false;
  await warmup;
  await Bun.sleep(500);

  const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
  const ticks = Math.round((SECONDS * 1000) / TICK_MS);
  const jobs = perTick * ticks;
  const pids = [...instancePids];
  const clientPids = clients.map(({ child }) => child.pid);
  const before = { instances: pids.map(processCpu), clients: clientPids.map(processCpu), machine: machineCpu(), driver: ownCpu(), postgres: cpuByName('postgres'), redis: cpuByName('redis-server') };
  const started = Date.now();
  // Fixed schedule: a slow submit is caught up on at the next tick, not skipped.
  const inFlight: Promise<unknown>[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    inFlight.push(submit('bench', perTick));
    const wait = started + (tick + 1) * TICK_MS - Date.now();
    if (wait > 0) await Bun.sleep(wait);
  }
  await Promise.all(inFlight);
  for (let tries = 0; ; tries++) {
    const { jobCounts } = await gql(urls[0]!, '{ jobCounts(queue: "bench") { succeeded } }', {}, token);
    if (jobCounts.succeeded >= jobs) break;
    if (tries > 1200) throw new Error(`only ${jobCounts.succeeded} of ${jobs} jobs succeeded within 60 s after the last submit`);
    await Bun.sleep(50);
  }
  const completedAt = Date.now();
  // The last completions' events are still on their way to some subscribers.
  await Bun.sleep(1000);
  const seconds = (completedAt - started) / 1000;
  const after = { instances: pids.map(processCpu), clients: clientPids.map(processCpu), machine: machineCpu(), driver: ownCpu(), postgres: cpuByName('postgres'), redis: cpuByName('redis-server') };
  const span = (Date.now() - started) / 1000;
  const cpuOf = (a: number[], b: number[]) => b.reduce((sum, value, i) => sum + value - a[i]!, 0) / span;

  const results = await Promise.all(
    clients.map(async ({ child, next }) => {
      (child.stdin as import('bun').FileSink).write('stop\n');
      (child.stdin as import('bun').FileSink).end();
      const result = JSON.parse(await next());
      await child.exited;
      children.delete(child);
      return result as { subscribed: number; failures: number; deliveries: number; lastAt: number; lags: [number, number][] };
    }),
  );
  const percentile = lagPercentiles(results.map((result) => result.lags));
  const deliveries = results.reduce((sum, result) => sum + result.deliveries, 0);
  const lastAt = Math.max(...results.map((result) => result.lastAt));
  const instancesCpu = cpuOf(before.instances, after.instances);
  return {
    jobs,
    completedPerSecond: jobs / seconds,
    deliveries,
    // Over the span from the first submit to the last receipt.
    perSecond: deliveries / ((lastAt - started) / 1000),
    fraction: deliveries / (jobs * SUBSCRIBERS),
    p50: percentile(50),
    p99: percentile(99),
    subscribed: results.reduce((sum, result) => sum + result.subscribed, 0),
    failures: results.reduce((sum, result) => sum + result.failures, 0),
    instancesCpu,
    clientsCpu: cpuOf(before.clients, after.clients),
    machineCpu: (after.machine.busy - before.machine.busy) / span,
    interruptsCpu: (after.machine.interrupts - before.machine.interrupts) / span,
    driverCpu: (after.driver - before.driver) / span,
    postgresCpu: (after.postgres - before.postgres) / span,
    redisCpu: (after.redis - before.redis) / span,
    cpuPerThousand: (instancesCpu * span * 1000) / (deliveries / 1000),
  };
}

const instanceEnv = {
  ADMIN_PASSWORD,
  WORKERS: '1',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SECOND: '0',
  MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
  MAX_SUBSCRIPTIONS_PER_USER: '0',
  MAX_SUBSCRIPTIONS_PER_ADDRESS: '0',
};

async function runSetup(count: number, env: Record<string, string>): Promise<Outcome> {
  const instances = [];
  // One first (it migrates and makes the admin), then the others.
  for (let i = 0; i < count; i++) {
    const instance = await startInstance({ ...instanceEnv, ...env }, 'ignore');
    children.add(instance.proc);
    instances.push(instance);
    await instance.ready;
  }
  try {
    return await measure(
      instances.map((instance) => instance.url),
      instances.map((instance) => instance.proc.pid),
    );
  } finally {
    for (const { proc } of instances) {
      proc.kill('SIGKILL');
      await proc.exited;
      children.delete(proc);
    }
  }
}

try {
  console.log(`cluster-fanout: ${SUBSCRIBERS} jobCompleted subscribers (${CLIENTS} client processes), ${RATE} π jobs/s for ${SECONDS} s, WORKERS=1 per instance\n`);
  const single = await runSetup(1, { DATABASE_PATH: join(dir, 'bench.db') });
  const pg = await startPostgres();
  servers.push(pg);
  const redis = await startRedis();
  servers.push(redis);
  const cluster = await runSetup(3, { DATABASE_URL: pg.url, REDIS_URL: redis.url });
  // --pg-single: the job path on PostgreSQL without the Redis hop, to tell the two apart (a fresh database).
  let pgSingle: Outcome | null = null;
  if (PG_SINGLE) {
    await stopAll();
    const pgAgain = await startPostgres();
    servers.push(pgAgain);
    pgSingle = await runSetup(1, { DATABASE_URL: pgAgain.url });
  }
  await stopAll();

  // Each measure: its figure per setup (a number gets a ratio, 3 instances ÷ 1 on SQLite).
  const measures: [string, (o: Outcome) => number | string, unit: string, digits: number][] = [
    ['jobs completed /s (submitted at a fixed rate)', (o) => o.completedPerSecond, 'jobs/s', 1],
    ['deliveries/s, all subscribers', (o) => o.perSecond, '/s', 0],
    ['expected deliveries received', (o) => o.fraction * 100, '%', 3],
    ['  received of subscribers × jobs', (o) => `${o.deliveries.toLocaleString('en')} of ${(o.jobs * SUBSCRIBERS).toLocaleString('en')}`, '', 0],
    ['lag p50 (receipt − finishedAt)', (o) => o.p50, 'ms', 0],
    ['lag p99', (o) => o.p99, 'ms', 0],
    ['subscribers flowing / socket failures', (o) => `${o.subscribed} / ${o.failures}`, '', 0],
    ['CPU s/s: jobgraph instances (sum)', (o) => o.instancesCpu, '', 2],
    ['CPU s/s: subscriber processes', (o) => o.clientsCpu, '', 2],
    ['CPU s/s: driver (submits, polls)', (o) => o.driverCpu, '', 2],
    ['CPU s/s: PostgreSQL / Redis', (o) => (o.postgresCpu + o.redisCpu > 0 ? `${o.postgresCpu.toFixed(2)} / ${o.redisCpu.toFixed(2)}` : '—'), '', 0],
    ['CPU s/s: whole machine (of 2)', (o) => o.machineCpu, '', 2],
    // Softirq work is mostly charged to the processes above too: a part of them, not an addition.
    ['  of which interrupts (loopback TCP)', (o) => o.interruptsCpu, '', 2],
    ['instance CPU per 1,000 deliveries', (o) => o.cpuPerThousand, 'ms', 1],
  ];
  const cell = (value: number | string, unit: string, digits: number) => (typeof value === 'number' ? amount(value, unit, digits).trim() : value);
  const rows = measures.map(([label, of, unit, digits]) => {
    const [a, b] = [of(cluster), of(single)];
    const ratio = typeof a === 'number' && typeof b === 'number' ? `×${(a / b).toFixed(2)}` : '';
    return [label, cell(a, unit, digits), cell(b, unit, digits), ratio, ...(pgSingle ? [cell(of(pgSingle), unit, digits)] : [])];
  });
  console.log(markdownTable(['measure', '3 instances (PostgreSQL + Redis)', '1 instance (SQLite)', 'ratio', ...(pgSingle ? ['1 instance (PostgreSQL, no Redis)'] : [])], rows));

  const measure = `cluster-fanout: ${SUBSCRIBERS} jobCompleted subscribers × ${RATE} jobs/s, 3 instances (PG + Redis)`;
  reportRow({ measure: `${measure}, deliveries/s`, jobgraph: amount(cluster.perSecond, '/s'), baseline: `${amount(single.perSecond, '/s')} (1 instance, SQLite)`, ratio: cluster.perSecond / single.perSecond, target: '', met: null });
  reportRow({ measure: `${measure}, received`, jobgraph: `${amount(cluster.fraction * 100, '%', 3)} (${cluster.deliveries.toLocaleString('en')})`, baseline: `${amount(single.fraction * 100, '%', 3)} (1 instance, SQLite)`, ratio: cluster.fraction / single.fraction, target: '100 %', met: cluster.fraction >= 1 });
  reportRow({ measure: `${measure}, lag p99`, jobgraph: `${cluster.p99} ms`, baseline: `${single.p99} ms (1 instance, SQLite)`, ratio: cluster.p99 / single.p99, target: '', met: null });
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
