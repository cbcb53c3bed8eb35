// `bun run test`: the suite on SQLite, then — where the servers are installed — again on PostgreSQL (and Redis),
// each started for the run in a temporary directory on loopback and stopped after. Says which backends ran and how
// each went; exits non-zero if any failed. Arguments go to `bun test` (a file, `-t name`).
import { findPostgresBin, findRedisServer, type LocalServer, startPostgres, startRedis } from './lib/local-servers';
import { SQLITE_PASS_ONLY, TEST_ALLOCATOR } from './lib/test-passes';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// bunfig.toml's [test] timeout is not read by Bun 1.4.5 (every test got 5 s): the default is passed here, where a
// test that starts real processes on a busy 2-core machine needs the room.
const given = process.argv.slice(2);
const args = given.some((arg) => arg.startsWith('--timeout')) ? given : ['--timeout', '20000', ...given];

// Each pass runs its files in TEST_WORKERS processes at once (default: 3 on SQLite, where most tests wait on
// processes, sockets and timers and two workers kept two cores ~60 % busy; 2 PostgreSQL shards, each with servers of
// its own), the slowest first
// (test/timings.json and test/timings-postgres.json: per-file milliseconds; `bun run test --update-timings` refreshes
// both, `bun run test:timings` the first only). TEST_WORKERS=1: one process.
// - SQLite: `bun test --parallel`, each worker running its files one after another in one global as a plain
//   `bun test` does (--no-isolate: Bun 1.4.5's isolated workers cannot load graphql-jit).
// - PostgreSQL: one `bun test --shard` per worker, each with a PostgreSQL and a Redis of its own: a transaction
//   open in one database holds back what the event log calls settled in every database of its server
//   (pg_snapshot_xmin is server-wide), so two files at once on one server would see each other's transactions.
const chosen = process.env.TEST_WORKERS ? Number(process.env.TEST_WORKERS) : null;
if (chosen !== null && (!Number.isInteger(chosen) || chosen < 1)) throw new Error(`TEST_WORKERS must be a positive integer, got "${process.env.TEST_WORKERS}"`);
const sqliteWorkers = chosen ?? 3;
const postgresShards = chosen ?? 2;
const ownScheduling = given.some((arg) => arg.startsWith('--parallel') || arg.startsWith('--shard'));
const TIMINGS = '--timings=test/timings.json';
// The PostgreSQL pass's own: files that skip on SQLite (three instances on one database) are among its slowest.
const PG_TIMINGS_FILE = 'test/timings-postgres.json';
// `bun run test --update-timings` refreshes both files. Each shard writes a copy of its own (two writing one file
// would each put back the other's old times), and the times a shard changed are merged back once all have ended.
const updating = given.includes('--update-timings');
// Files that never reach the suite's backend run in the SQLite pass only (scripts/lib/test-passes.ts); a file named
// on the command line runs in both.
const namesFiles = given.some((arg) => arg.endsWith('.ts') || arg.startsWith('test/'));
const PG_IGNORE = namesFiles ? [] : Object.keys(SQLITE_PASS_ONLY).map((path) => `--path-ignore-patterns=${path}`);

interface Result {
  label: string;
  ok: boolean;
  seconds: number;
  /** User + system CPU seconds of the pass, its processes included: steadier than wall time on a shared machine. */
  cpuSeconds?: number;
}

const cpuOf = (child: Bun.Subprocess) => {
  const usage = child.resourceUsage();
  return usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : 0;
};

async function sqlitePass(): Promise<Result> {
  console.log('\n=== bun test on SQLite ===');
  const started = performance.now();
  const parallel = sqliteWorkers > 1 && !ownScheduling ? [`--parallel=${sqliteWorkers}`, '--no-isolate', TIMINGS] : [];
  const env = { ...process.env, ...TEST_ALLOCATOR, TEST_DATABASE_URL: '', TEST_REDIS_URL: '' };
  const child = Bun.spawn(['bun', 'test', ...parallel, ...(parallel.length ? args : args.filter((arg) => arg !== '--update-timings'))], { env, stdio: ['inherit', 'inherit', 'inherit'] });
  const code = await child.exited;
  return { label: 'SQLite', ok: code === 0, seconds: (performance.now() - started) / 1000, cpuSeconds: cpuOf(child) };
}

type Timings = { version: number; files: Record<string, number> };
/** The timings file a shard reads (and, updating, writes: a copy of its own). */
const timingsOf = (shard: string) => (updating ? join(tmpdir(), `jobgraph-timings-${process.pid}-${shard.replace('/', '-of-')}.json`) : PG_TIMINGS_FILE);

/** After an updating pass: each shard's changed times into test/timings-postgres.json. */
function mergeShardTimings(shards: string[]): void {
  const merged = JSON.parse(readFileSync(PG_TIMINGS_FILE, 'utf8')) as Timings;
  const before = { ...merged.files };
  for (const shard of shards) {
    const path = timingsOf(shard);
    const written = JSON.parse(readFileSync(path, 'utf8')) as Timings;
    for (const [file, ms] of Object.entries(written.files)) if (before[file] !== ms) merged.files[file] = ms;
    rmSync(path, { force: true });
  }
  // The files this pass leaves out keep no time here.
  for (const file of Object.keys(SQLITE_PASS_ONLY)) delete merged.files[file];
  writeFileSync(PG_TIMINGS_FILE, `${JSON.stringify(merged, null, 2)}\n`);
}

/** One shard of the PostgreSQL pass on servers of its own; its output, printed whole once it ends (shards run at once). */
async function postgresShard(pgBin: string, shard: string | null, withRedis: boolean, print: (text: string) => unknown): Promise<{ ok: boolean; cpuSeconds: number }> {
  const servers: LocalServer[] = [];
  let output = '';
  try {
    const pg = await startPostgres(pgBin);
    servers.push(pg);
    const redis = withRedis ? await startRedis() : null;
    if (redis) servers.push(redis);
    const env = { ...process.env, ...TEST_ALLOCATOR, TEST_DATABASE_URL: pg.url, TEST_REDIS_URL: redis?.url ?? '' };
    const sharding = shard ? [`--shard=${shard}`, `--timings=${timingsOf(shard)}`] : [];
    const shardArgs = shard && updating ? args : args.filter((arg) => arg !== '--update-timings');
    const child = Bun.spawn(['bun', 'test', ...sharding, ...PG_IGNORE, ...shardArgs], { env, stdin: 'inherit', stdout: 'pipe', stderr: 'pipe' });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    output = out + err;
    return { ok: code === 0, cpuSeconds: cpuOf(child) };
  } catch (error) {
    output += `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
    return { ok: false, cpuSeconds: 0 };
  } finally {
    for (const server of servers.reverse()) await server.stop().catch((error) => (output += `${String(error)}\n`));
    print(`${shard ? `\n--- shard ${shard} ---\n` : ''}${output}`);
  }
}

/** The PostgreSQL pass; its shards print their output once `printAfter` (the SQLite pass, which may run beside it) has ended. */
async function postgresPass(pgBin: string, withRedis: boolean, printAfter: Promise<unknown>): Promise<Result> {
  const label = withRedis ? 'PostgreSQL + Redis' : 'PostgreSQL';
  const started = performance.now();
  const shards = postgresShards > 1 && !ownScheduling ? Array.from({ length: postgresShards }, (_, i) => `${i + 1}/${postgresShards}`) : [null];
  // Printed after the SQLite pass: the heading, then each shard as it ends.
  let printing = printAfter.then(() => console.log(`\n=== bun test on ${label}${shards.length > 1 ? ` (${shards.length} shards at once, each printed as it ends)` : ''} ===`));
  const print = (text: string) => (printing = printing.then(() => void process.stdout.write(text)));
  if (updating) for (const shard of shards) if (shard) copyFileSync(PG_TIMINGS_FILE, timingsOf(shard));
  const done = await Promise.all(shards.map((shard) => postgresShard(pgBin, shard, withRedis, print)));
  await printing;
  if (updating) mergeShardTimings(shards.filter((shard) => shard !== null));
  const cpuSeconds = done.reduce((sum, shard) => sum + shard.cpuSeconds, 0);
  return { label, ok: done.every((shard) => shard.ok), seconds: (performance.now() - started) / 1000, cpuSeconds };
}

const skipped: string[] = [];
const pgBin = findPostgresBin();
if (!pgBin) skipped.push('PostgreSQL (no initdb found: apt-get install postgresql, or set PG_BIN)');
const withRedis = pgBin !== null && findRedisServer() !== null;
if (pgBin && !withRedis) skipped.push('Redis (no redis-server found: apt-get install redis-server)');
// One pass after the other by default. TEST_AT_ONCE=1 runs them side by side (the SQLite pass prints as it goes, the
// PostgreSQL shards once it has ended, each whole): on two cores that saved only ~5-10 % (both passes are mostly
// CPU), and two whole suites side by side then ran four passes at once, which starved the fuzz test's time budget.
const atOnce = process.env.TEST_AT_ONCE === '1';
const sqliteRun = sqlitePass();
if (!atOnce) await sqliteRun;
const results: Result[] = await Promise.all([sqliteRun, ...(pgBin ? [postgresPass(pgBin, withRedis, sqliteRun)] : [])]);

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
