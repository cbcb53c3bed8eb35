// `bun run test`: the suite on SQLite, then — where the servers are installed — again on PostgreSQL (and Redis),
// each started for the run in a temporary directory on loopback and stopped after. Says which backends ran and how
// each went; exits non-zero if any failed. Arguments go to `bun test` (a file, `-t name`).
import { findPostgresBin, findRedisServer, type LocalServer, startPostgres, startRedis } from './lib/local-servers';

// bunfig.toml's [test] timeout is not read by Bun 1.4.5 (every test got 5 s): the default is passed here, where a
// test that starts real processes on a busy 2-core machine needs the room.
const given = process.argv.slice(2);
const args = given.some((arg) => arg.startsWith('--timeout')) ? given : ['--timeout', '20000', ...given];
// The files run in TEST_WORKERS `bun test` processes at once (default 2: most tests wait on processes, sockets and
// timers, so two keep two cores busy without starving the tests that watch their own latency), the slowest first
// (test/timings.json: per-file milliseconds; `bun run test:timings` refreshes it). Each worker runs its files one
// after another in one global, as a plain `bun test` does (--no-isolate: Bun 1.4.5's isolated workers cannot load
// graphql-jit). TEST_WORKERS=1: one process, as before.
const workers = Number(process.env.TEST_WORKERS || 2);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`TEST_WORKERS must be a positive integer, got "${process.env.TEST_WORKERS}"`);
if (workers > 1 && !given.some((arg) => arg.startsWith('--parallel'))) args.unshift(`--parallel=${workers}`, '--no-isolate', '--timings=test/timings.json');

interface Result {
  label: string;
  ok: boolean;
  seconds: number;
  /** User + system CPU seconds of the pass, its processes included: steadier than wall time on a shared machine. */
  cpuSeconds?: number;
}

async function bunTest(label: string, env: Record<string, string>): Promise<Result> {
  console.log(`\n=== bun test on ${label} ===`);
  const started = performance.now();
  const child = Bun.spawn(['bun', 'test', ...args], { env: { ...process.env, ...env }, stdio: ['inherit', 'inherit', 'inherit'] });
  const code = await child.exited;
  const usage = child.resourceUsage();
  const cpuSeconds = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : undefined;
  return { label, ok: code === 0, seconds: (performance.now() - started) / 1000, cpuSeconds };
}

const results: Result[] = [];
const skipped: string[] = [];
results.push(await bunTest('SQLite', { TEST_DATABASE_URL: '', TEST_REDIS_URL: '' }));

const pgBin = findPostgresBin();
if (!pgBin) skipped.push('PostgreSQL (no initdb found: apt-get install postgresql, or set PG_BIN)');
else {
  const servers: LocalServer[] = [];
  try {
    const pg = await startPostgres(pgBin);
    servers.push(pg);
    const env: Record<string, string> = { TEST_DATABASE_URL: pg.url, TEST_REDIS_URL: '' };
    let label = 'PostgreSQL';
    if (findRedisServer()) {
      const redis = await startRedis();
      servers.push(redis);
      env.TEST_REDIS_URL = redis.url;
      label = 'PostgreSQL + Redis';
    } else skipped.push('Redis (no redis-server found: apt-get install redis-server)');
    results.push(await bunTest(label, env));
  } catch (error) {
    console.error(error);
    results.push({ label: 'PostgreSQL (could not start)', ok: false, seconds: 0 });
  } finally {
    for (const server of servers.reverse()) await server.stop().catch((error) => console.error(error));
  }
}

console.log('\n=== backends ===');
for (const { label, ok, seconds, cpuSeconds } of results) {
  const cpu = cpuSeconds === undefined ? '' : `, ${cpuSeconds.toFixed(1)} s CPU`;
  console.log(`${ok ? 'passed' : 'FAILED'}  ${label} (${seconds.toFixed(1)} s${cpu})`);
}
for (const reason of skipped) console.log(`skipped ${reason}`);
// .ci/run installs every backend: there, one that could not run is a failure, not a skip.
const missingInCi = process.env.JOBGRAPH_REQUIRE_ALL && skipped.length > 0;
if (missingInCi) console.log('FAILED  JOBGRAPH_REQUIRE_ALL: every backend must run');
process.exit(results.every((result) => result.ok) && !missingInCi ? 0 : 1);
