// Three jobgraph processes on one PostgreSQL database (TEST_DATABASE_URL): a schedule makes exactly one job per tick
// however many instances wake for it, and cancelJobs sent to one instance stops the attempts running on the others
// (their workers go idle at once, not when the sleeping tasks would have ended).
import { afterAll, describe, expect, test } from 'bun:test';
import { type ServerProcess, spawnServer } from './helpers/process';
import { ADMIN_PASSWORD, createTestDatabase, TEST_DATABASE_URL, until } from './helpers/server';
import { gqlData, sqlOnce } from './helpers/cluster';

if (!TEST_DATABASE_URL) console.log('test/lifecycle-cluster.test.ts: skipped (no TEST_DATABASE_URL)');

describe.skipIf(!TEST_DATABASE_URL)('three instances on one PostgreSQL database: schedules and cancels', () => {
  const servers: ServerProcess[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let token = '';
  let urls: string[] = [];

  afterAll(async () => {
    await Promise.all(servers.map((server) => (server.proc.exitCode === null ? server.stop('SIGKILL') : undefined)));
    await database?.drop();
  });

  const gql = (url: string, query: string, variables: Record<string, unknown> = {}) => gqlData(url, query, variables, token);

  const sql = <T>(text: string): Promise<T[]> => sqlOnce<T>(database!.url, text);

  test('start three instances', async () => {
    database = await createTestDatabase();
    // Long leases: a lease renewal (every third of one) cannot be what stops a cancelled attempt within this test.
    const env: Record<string, string> = { DATABASE_URL: database.url, ADMIN_PASSWORD, WORKERS: '1', JOB_LEASE_SECONDS: '300', QUOTE_SERVER: '127.0.0.1:9' };
    servers.push(...(await Promise.all([0, 1, 2].map(() => spawnServer({ ...env, LOG_LEVEL: 'info' }, 60_000)))));
    urls = servers.map((server) => server.url);
    token = (await gql(urls[0]!, 'mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD })).login.token;
  }, 90_000);

  test('cancelJobs through one instance stops the attempts running on all three; their workers free up', async () => {
    await gql(urls[0]!, 'mutation { createQueue(input: { name: "sleepers", concurrency: 24 }) { name } }');
    // Every instance has heard of the queue (its list is reloaded on NOTIFY) before jobs are submitted to it.
    for (const url of urls) await until(async () => (await gql(url, '{ queue(name: "sleepers") { name } }')).queue !== null, 'the queue everywhere', 10_000);
    // Submitted through each instance, so each holds some.
    for (const url of urls) await gql(url, 'mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 120000, queue: "sleepers" }, count: 6) { id } }');
    await until(async () => (await gql(urls[0]!, '{ jobCounts(queue: "sleepers") { running } }')).jobCounts.running === 18, '18 running', 30_000);
    // Which instance holds which jobs: a lease token starts with its holder's instance id, which each logs at start.
    const instanceOf = servers.map((server) => JSON.parse(server.stdout().split('\n').find((line) => line.includes('"job store on PostgreSQL"'))!).instance as string);
    const held = await sql<{ instance: string; n: number }>(
      `SELECT split_part(lease_token, '.', 1) AS instance, count(*)::int AS n FROM jobs WHERE queue = 'sleepers' AND status = 'RUNNING' GROUP BY 1`,
    );
    const heldBy = instanceOf.map((instance) => held.find((row) => row.instance === instance)?.n ?? 0);
    // The cancel goes to the instance holding the fewest: most (or all) of the attempts it stops run elsewhere.
    const canceller = heldBy.indexOf(Math.min(...heldBy));
    expect(heldBy[canceller]!).toBeLessThan(18);
    const busy = async () => (await Promise.all(urls.map((url) => gql(url, '{ workerPool { tasksRunning tasksQueued } }')))).map((answer) => (answer.workerPool.tasksRunning + answer.workerPool.tasksQueued) as number);
    // RUNNING in the database comes a moment before the pool has the task (a worker may still be starting).
    await until(async () => (await busy()).reduce((a, b) => a + b, 0) >= 18, 'the 18 attempts in the pools', 30_000);
    const sent = performance.now();
    expect((await gql(urls[canceller]!, 'mutation { cancelJobs(filter: { queue: "sleepers" }) }')).cancelJobs).toBe(18);
    await until(async () => (await busy()).every((n) => n === 0), 'every instance to stop its sleeping tasks', 20_000);
    console.log(`cancelJobs → every instance idle: ${(performance.now() - sent).toFixed(0)} ms (the tasks would have slept 120 s)`);
    // The freed slots take the next jobs on every instance.
    for (const url of urls) await gql(url, 'mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "sleepers" }, count: 8) { id } }');
    await until(async () => (await gql(urls[1]!, '{ jobCounts(queue: "sleepers") { succeeded } }')).jobCounts.succeeded === 24, 'the next jobs to run', 30_000);

    // Again with cancelJob, one job at a time, each sent to an instance round-robin (mostly not the one running it).
    const ids: string[] = [];
    for (const url of urls) ids.push(...(await gql(url, 'mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 120000, queue: "sleepers" }, count: 8) { id } }')).submitDiagnosticJobs.map((job: { id: string }) => job.id));
    await until(async () => (await gql(urls[0]!, '{ jobCounts(queue: "sleepers") { running } }')).jobCounts.running === 24, '24 running', 30_000);
    await Promise.all(ids.map((id, i) => gql(urls[i % 3]!, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', { id })));
    try { await until(async () => (await busy()).every((n) => n === 0), 'every instance to stop its sleeping tasks', 20_000); } catch (e) { console.log('busy', await busy(), JSON.stringify(await sql(`SELECT status, count(*) FROM jobs WHERE queue='sleepers' GROUP BY 1`))); for (const s of servers) console.log(s.stdout().split('\n').filter((l) => /cancel|warn|error/i.test(l)).slice(-8).join('\n')); throw e; }
    expect((await gql(urls[2]!, '{ jobCounts(queue: "sleepers") { running cancelled } }')).jobCounts).toEqual({ running: 0, cancelled: 42 });
  }, 90_000);

  // The two below run at once, on a schedule and a queue of their own: the schedule's ticks take ~6 s of waiting. (Not
  // the cancel test: it counts every task in the pools.)
  test.concurrent('a schedule due every second makes one job per tick, whichever instance takes it', async () => {
    await gql(urls[0]!, 'mutation { createSchedule(input: { name: "tick", cron: "* * * * * *", job: { pi: { simulations: 1000 } } }) { name } }');
    await until(async () => (await gql(urls[1]!, '{ schedule(name: "tick") { runs { totalCount } } }')).schedule.runs.totalCount >= 6, 'six runs', 30_000);
    await gql(urls[2]!, 'mutation { pauseSchedule(name: "tick") { paused } }');
    const perSecond = await sql<{ second: string; n: number }>(
      `SELECT floor(created_at / 1000)::text AS second, count(*)::int AS n FROM jobs WHERE schedule = 'tick' GROUP BY 1 HAVING count(*) > 1`,
    );
    expect(perSecond).toEqual([]);
    const [{ n, spread }] = (await sql<{ n: number; spread: number }>(
      `SELECT count(*)::int AS n, (max(created_at) / 1000 - min(created_at) / 1000)::int + 1 AS spread FROM jobs WHERE schedule = 'tick'`,
    )) as [{ n: number; spread: number }];
    // Every tick between the first run and the last made its job (none skipped, none doubled).
    expect(n).toBe(spread);
  }, 60_000);

  test.concurrent('a rate limit holds over the three instances together', async () => {
    await gql(urls[0]!, 'mutation { createQueue(input: { name: "limited", concurrency: 24, rateLimit: { jobs: 4, perSeconds: 1 } }) { name } }');
    // Every instance has heard of the queue (its list is reloaded on NOTIFY) before jobs are submitted to it.
    for (const url of urls) await until(async () => (await gql(url, '{ queue(name: "limited") { name } }')).queue !== null, 'the queue everywhere', 10_000);
    for (const url of urls) await gql(url, 'mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "limited" }, count: 4) { id } }');
    await until(async () => (await gql(urls[0]!, '{ jobCounts(queue: "limited") { succeeded } }')).jobCounts.succeeded === 12, 'all twelve', 90_000);
    const starts = (await sql<{ at: string }>(`SELECT started_at::text AS at FROM jobs WHERE queue = 'limited' ORDER BY started_at`)).map((row) => Number(row.at));
    for (let i = 4; i < starts.length; i++) expect(starts[i]! - starts[i - 4]!).toBeGreaterThanOrEqual(1000);
  }, 120_000);
});
