// `bun scripts/cluster.ts`: jobgraph scaled out on this machine, to try. Starts PostgreSQL (and Redis, when
// redis-server is installed) in a temporary directory on 127.0.0.1, then INSTANCES jobgraphs (default 3) on free
// loopback ports sharing them, prints their URLs and the admin password, and stops everything on Ctrl-C.
//   INSTANCES=3 WORKERS=1 bun scripts/cluster.ts
//   BENCH_JOBS=10000 bun scripts/cluster.ts   submits that many diagnostic jobs round-robin, reports jobs/s, and stops
//   SQLITE=1 BENCH_JOBS=10000 bun scripts/cluster.ts   the same on one instance over a SQLite file, to compare
//   (the bench queue's concurrency: CONCURRENCY, default 8 per worker per instance — it bounds the whole cluster)
import { type Subprocess } from 'bun';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, gql, type LocalServer, startInstance, startPostgres, startRedis } from './lib/local-servers';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: bun scripts/cluster.ts
Starts PostgreSQL (and Redis, when redis-server is installed) in a temporary directory on 127.0.0.1, then INSTANCES
jobgraphs sharing them on free loopback ports; prints their URLs and the admin password; Ctrl-C stops everything.
Settings (environment):
  INSTANCES=3        how many jobgraphs
  WORKERS=1          each one's worker pool size
  ADMIN_PASSWORD     the admin's password (default: generated and printed)
  BENCH_JOBS=N       submit N diagnostic jobs round-robin, report jobs/s, and stop
  CONCURRENCY=8      the bench queue's concurrency per worker per instance
  SQLITE=1           one instance over a SQLite file instead (to compare)
  LOG_LEVEL=warn     the instances' log level`);
  process.exit(0);
}
const SQLITE = Boolean(process.env.SQLITE);
const INSTANCES = SQLITE ? 1 : Number(process.env.INSTANCES ?? 3);
const WORKERS = process.env.WORKERS ?? '1';
const BENCH_JOBS = Number(process.env.BENCH_JOBS ?? 0);
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? `cluster-${crypto.randomUUID().slice(0, 8)}`;

const servers: LocalServer[] = [];
let postgresUrl: string | null = null;
const instances: { proc: Subprocess; url: string }[] = [];
let stopping = false;
/** SQLITE=1: the database's folder, removed on the way out. */
let sqliteDir: string | undefined;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const { proc } of instances) proc.kill('SIGTERM');
    await Promise.all(instances.map(({ proc }) => proc.exited));
    for (const server of servers.reverse()) await server.stop().catch((error) => console.error(error));
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const env: Record<string, string> = { ADMIN_PASSWORD, WORKERS, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', HOST: '127.0.0.1' };
  if (SQLITE) {
    sqliteDir = mkdtempSync(join(tmpdir(), 'jobgraph-cluster-'));
    env.DATABASE_PATH = join(sqliteDir, 'jobgraph.db');
    console.log(`SQLite      ${env.DATABASE_PATH}`);
  } else {
    const pg = await startPostgres();
    servers.push(pg);
    env.DATABASE_URL = pg.url;
    postgresUrl = pg.url;
    console.log(`PostgreSQL  ${pg.url}`);
  }
  if (!SQLITE && findRedisServer()) {
    const redis = await startRedis();
    servers.push(redis);
    env.REDIS_URL = redis.url;
    console.log(`Redis       ${redis.url}`);
  } else if (!SQLITE) console.log('Redis       not installed (apt-get install redis-server): subscriptions reach only the instance that produced the event');

  // One first (it migrates and makes the admin), then the others together.
  for (let i = 0; i < INSTANCES; i++) {
    const instance = await startInstance(env);
    instances.push(instance);
    await instance.ready;
    console.log(`jobgraph ${i + 1}  ${instance.url}`);
  }
  console.log(`admin / ${ADMIN_PASSWORD}`);

  if (BENCH_JOBS > 0) {
    await bench(BENCH_JOBS);
    await stopAll(0);
  }
  console.log('Ctrl-C stops them all.');
} catch (error) {
  console.error(error);
  await stopAll(1);
}

/** N diagnostic jobs (1 ms each) submitted round-robin in batches of 500; the time until every one succeeded. */
async function bench(jobs: number) {
  const urls = instances.map((instance) => instance.url);
  const token = (await gql(urls[0]!, 'mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD })).login.token;
  // A queue's concurrency bounds its running jobs over every instance: room for all of them.
  const concurrency = Number(process.env.CONCURRENCY ?? urls.length * Number(WORKERS) * 8);
  await gql(urls[0]!, 'mutation($c: Int!) { createQueue(input: { name: "bench", concurrency: $c }) { name } }', { c: concurrency }, token);
  const cpuBefore = cpuNow();
  const started = performance.now();
  for (let i = 0; i * 500 < jobs; i++) {
    const n = Math.min(500, jobs - i * 500);
    await gql(urls[i % urls.length]!, 'mutation($n: Int!) { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 1, queue: "bench" }, count: $n) { id } }', { n }, token);
  }
  const submitted = performance.now();
  for (;;) {
    const { jobCounts } = await gql(urls[0]!, '{ jobCounts { succeeded } }', {}, token);
    if (jobCounts.succeeded >= jobs) break;
    await Bun.sleep(50);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuNow();
  const perJob = (key: keyof typeof cpuAfter) => `${Math.round(((cpuAfter[key] - cpuBefore[key]) * 1e6) / jobs)}`;
  console.log(
    `bench: ${jobs.toLocaleString('en')} jobs on ${urls.length} instance(s) × ${WORKERS} worker(s), queue concurrency ${concurrency}: submitted in ${((submitted - started) / 1000).toFixed(2)} s, ` +
      `all succeeded in ${seconds.toFixed(2)} s: ${Math.round(jobs / seconds).toLocaleString('en')} jobs/s end to end`,
  );
  // On a shared machine wall time swings with other work; the CPU a job costs is steadier (µs, from /proc).
  console.log(`bench: CPU per job: jobgraph ${perJob('instances')} µs, PostgreSQL ${perJob('postgres')} µs, this load generator ${perJob('driver')} µs`);
}

/** /proc's processes: pid → [parent, CPU seconds of itself and its waited-for children]. */
function processes(): Map<number, [parent: number, cpu: number]> {
  const all = new Map<number, [number, number]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime (clock ticks of 1/100 s): a backend that exited is counted in its postmaster's.
      all.set(Number(name), [Number(fields[1]), (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100]);
    } catch {
      // Gone meanwhile.
    }
  }
  return all;
}

/** CPU seconds so far: the instances (and their children), our PostgreSQL (postmaster and backends), this process. */
function cpuNow(): { instances: number; postgres: number; driver: number } {
  const all = processes();
  const tree = (root: number): number => {
    let total = all.get(root)?.[1] ?? 0;
    for (const [pid, [parent]] of all) if (parent === root) total += tree(pid);
    return total;
  };
  const port = postgresUrl ? new URL(postgresUrl).port : null;
  let postmaster = 0;
  for (const pid of all.keys()) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (port && argv[0]!.endsWith('/postgres') && argv[argv.indexOf('-p') + 1] === port) postmaster = pid;
    } catch {
      // Gone meanwhile.
    }
  }
  const { user, system } = process.cpuUsage();
  return {
    instances: instances.reduce((sum, { proc }) => sum + tree(proc.pid), 0),
    postgres: postmaster ? tree(postmaster) : 0,
    driver: (user + system) / 1e6,
  };
}
