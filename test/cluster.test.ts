// Three jobgraph processes on one PostgreSQL database (TEST_DATABASE_URL; `bun run test` provides one): jobs
// submitted round-robin to all three, one instance killed with kill -9 mid-run, and nothing lost or done twice.
// With TEST_REDIS_URL too, the three share Redis, and a WebSocket subscriber on the first hears every completion.
import { afterAll, describe, expect, test } from 'bun:test';
import { createClient } from 'graphql-ws';
import { FakeClock } from './helpers/clock';
import { type ServerProcess, spawnServer } from './helpers/process';
import { ADMIN_PASSWORD, createTestDatabase, startTestServer, subscribe, TEST_DATABASE_URL, until } from './helpers/server';
import { gqlData, sqlOnce } from './helpers/cluster';

const JOBS = 10_000;
const BATCH = 500;
const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
/** Most jobs one instance runs at once (WORKERS 1: src/app.ts's MIN_IN_FLIGHT): a bound on what a kill -9 can leave unannounced. */
const IN_FLIGHT_PER_INSTANCE = 256;
/**
 * The queue's concurrency: room for every instance's claims. With 24 the run waited ~10 s on the 25 ms sleeps alone;
 * with 96 two instances could keep every slot (each claims again as its settle frees one), and once all 10,000 ran
 * without the one to be killed holding a lease at any check.
 */
const CONCURRENCY = 1024;

if (!TEST_DATABASE_URL) console.log('test/cluster.test.ts: skipped (no TEST_DATABASE_URL; `bun run test` starts PostgreSQL when it is installed)');

describe.skipIf(!TEST_DATABASE_URL)('three instances on one PostgreSQL database', () => {
  const servers: ServerProcess[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

  afterAll(async () => {
    await Promise.all(servers.map((server) => (server.proc.exitCode === null ? server.stop('SIGKILL') : undefined)));
    await database?.drop();
  });

  const gql = gqlData;

  const sql = <T>(text: string): Promise<T[]> => sqlOnce<T>(database!.url, text);

  test(`${JOBS.toLocaleString('en')} jobs round-robin, one instance killed with kill -9 mid-run: every job SUCCEEDED exactly once`, async () => {
    database = await createTestDatabase();
    // A short lease, so the killed instance's jobs are recovered by the others within seconds.
    const env: Record<string, string> = { DATABASE_URL: database.url, ADMIN_PASSWORD, WORKERS: '1', JOB_LEASE_SECONDS: '2', LOG_LEVEL: 'info', QUOTE_SERVER: '127.0.0.1:9' };
    // One Redis key space for the three: events cross between them.
    if (TEST_REDIS_URL) Object.assign(env, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `cluster-test:${crypto.randomUUID()}:` });
    // Started together: migrations, the first admin and the analytics ingest are taken in turn.
    servers.push(...(await Promise.all([0, 1, 2].map(() => spawnServer(env, 60_000)))));
    const urls = servers.map((server) => server.url);
    const { login } = await gql(urls[0]!, 'mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD });
    const token = login.token as string;

    // A queue's concurrency bounds its running jobs over every instance.
    await gql(urls[0]!, 'mutation($n: Int!) { createQueue(input: { name: "cluster", concurrency: $n }) { name } }', { n: CONCURRENCY }, token);

    // With Redis: a subscriber on the first instance, counting every completion by job id, whoever ran the job.
    const heard = new Map<string, number>();
    const listener = TEST_REDIS_URL ? createClient({ url: urls[0]!.replace(/^http/, 'ws'), lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } }) : null;
    const completions = listener ? subscribe<{ jobCompleted: { id: string; queue: string } }>(listener, 'subscription { jobCompleted { id queue status } }') : null;
    if (completions) {
      // Listening once a probe job's completion (default queue) comes through.
      const probe = await gql(urls[0]!, 'mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 1 }, count: 1) { id } }', {}, token);
      const until = Date.now() + 10_000;
      while (!completions.events.some((event) => event.data?.jobCompleted.id === probe.submitDiagnosticJobs[0].id)) {
        if (Date.now() > until || completions.error !== undefined) throw new Error(`the subscriber did not hear the probe: ${String(completions.error)}`);
        await completions.waitFor(completions.events.length + 1, 10_000);
      }
      // Gone again, so the counts below are the 10,000's alone.
      await gql(urls[0]!, 'mutation($id: ID!) { deleteJob(id: $id) }', { id: probe.submitDiagnosticJobs[0].id }, token);
    }
    const countHeard = () => {
      for (const event of completions?.events.splice(0) ?? []) {
        const job = event.data?.jobCompleted;
        if (job?.queue === 'cluster') heard.set(job.id, (heard.get(job.id) ?? 0) + 1);
      }
    };
    // Round-robin: batch i goes to instance i mod 3 (a token works on every instance: sessions live in the database),
    // the three instances' batches at once. The queue is paused meanwhile, so the run cannot end before the victim is
    // killed (unpaused, it once ran 70 % of the jobs while the batches went in one after another).
    await gql(urls[0]!, 'mutation { pauseQueue(name: "cluster") { paused } }', {}, token);
    const batches = await Promise.all(
      urls.map(async (url, instance) => {
        const ids: string[] = [];
        for (let i = instance; i < JOBS / BATCH; i += 3) {
          const data = await gql(url, 'mutation($n: Int!) { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 25, queue: "cluster" }, count: $n) { id } }', { n: BATCH }, token);
          ids.push(...data.submitDiagnosticJobs.map((job: { id: string }) => job.id));
        }
        return ids;
      }),
    );
    const submitted = batches.flat();
    expect(new Set(submitted).size).toBe(JOBS);
    await gql(urls[1]!, 'mutation { resumeQueue(name: "cluster") { paused } }', {}, token);

    const victim = servers[2]!;
    // Its leases carry its name (see PgJobStore.instance): it is killed while it holds some.
    const victimInstance = JSON.parse(victim.stdout().split('\n').find((line) => line.includes('"job store on PostgreSQL"'))!).instance as string;
    let orphaned = 0;
    // The jobs SUCCEEDED when the victim was killed: only among those can a completion have gone unannounced.
    let succeededAtKill = new Set<string>();
    let killedAt: number | null = null;
    // Mid-run (some done, most not), while the victim holds leases (only another instance's recovery can finish
    // those). Read from the database every 20 ms: the jobs go fast, and a 100 ms poll through the API once first saw
    // 4,000 done (beside a busy machine, all 10,000: no kill).
    const watch = new Bun.SQL(database.url, { max: 1 });
    try {
      const killBy = Date.now() + 120_000;
      while (killedAt === null) {
        const [{ succeeded }] = (await watch.unsafe(`SELECT count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded FROM jobs`)) as [{ succeeded: number }];
        if (succeeded >= JOBS) break;
        if (succeeded >= JOBS / 10) {
          // Frozen first, so what it holds cannot change while it is counted; killed only while it holds leases, else
          // thawed to try again.
          victim.proc.kill('SIGSTOP');
          const holding = async () => ((await watch.unsafe(`SELECT count(*)::int AS held FROM jobs WHERE status = 'RUNNING' AND lease_token LIKE '${victimInstance}.%'`)) as [{ held: number }])[0].held;
          // A settle it sent before it froze still commits, and one settle can hold all it runs: what it holds is read
          // again once that is in. What is then left half-sent rolls back at the kill, and those jobs are recovered.
          const held = (await holding()) > 0 ? (await Bun.sleep(200), await holding()) : 0;
          if (held > 0) {
            if (completions) succeededAtKill = new Set(((await watch.unsafe(`SELECT id FROM jobs WHERE status = 'SUCCEEDED'`)) as { id: number }[]).map((row) => String(row.id)));
            victim.proc.kill('SIGKILL');
            await victim.proc.exited;
            killedAt = succeeded;
            orphaned = held;
          } else victim.proc.kill('SIGCONT');
        }
        if (Date.now() > killBy) throw new Error(`the victim was not killed in time (${succeeded} succeeded)`);
        if (killedAt === null) await Bun.sleep(20);
      }
    } finally {
      await watch.close();
    }
    // The survivors finish the run (the victim's jobs once their leases run out), ready all along.
    const survivors = urls.slice(0, 2);
    const readyCodes = new Set<number>();
    const deadline = Date.now() + 240_000;
    for (;;) {
      const counts = (await gql(survivors[0]!, '{ jobCounts { succeeded failed total } }', {}, token)).jobCounts;
      for (const url of survivors) readyCodes.add((await fetch(url.replace('/graphql', '/ready'))).status);
      if (counts.succeeded + counts.failed >= JOBS) break;
      if (Date.now() > deadline) throw new Error(`not done in time: ${JSON.stringify(counts)}`);
      await Bun.sleep(100);
    }
    expect(killedAt).not.toBeNull();
    expect(killedAt!).toBeLessThan(JOBS);
    expect([...readyCodes]).toEqual([200]);

    const [statuses] = await sql<{ succeeded: number; other: number }>(
      `SELECT count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded, count(*) FILTER (WHERE status <> 'SUCCEEDED')::int AS other FROM jobs`,
    );
    expect(statuses).toEqual({ succeeded: JOBS, other: 0 });
    const [events] = await sql<{ events: number; jobs: number; twice: number; recovered: number }>(
      `SELECT (SELECT count(*)::int FROM job_events WHERE type = 'succeeded') AS events,
              (SELECT count(DISTINCT job_id)::int FROM job_events WHERE type = 'succeeded') AS jobs,
              (SELECT count(*)::int FROM (SELECT job_id FROM job_events WHERE type = 'succeeded' GROUP BY job_id HAVING count(*) > 1) AS t) AS twice,
              (SELECT count(*)::int FROM job_events WHERE type = 'recovered') AS recovered`,
    );
    expect({ events: events!.events, jobs: events!.jobs, twice: events!.twice }).toEqual({ events: JOBS, jobs: JOBS, twice: 0 });
    console.log(`cluster: killed at ${killedAt} succeeded, holding ${orphaned} leases; ${events!.recovered} recoveries`);
    expect(orphaned).toBeGreaterThan(0);
    // (One whose completion was committing as it froze is finished, not recovered: at least one, not all, is certain.)
    expect(events!.recovered).toBeGreaterThan(0);
    if (completions) {
      // Every completion reaches the subscriber on the first instance, once, whichever instance ran the job (the
      // others' through Redis). Only the victim's last outcomes — committed, then killed before its events left —
      // may be missing: jobs already SUCCEEDED at the kill, at most what it ran at once.
      const deadline = Date.now() + 30_000;
      const unheardAfterKill = () => submitted.filter((id) => !heard.has(id) && !succeededAtKill.has(id));
      for (countHeard(); unheardAfterKill().length > 0 && Date.now() < deadline; countHeard()) await Bun.sleep(50);
      await Bun.sleep(200);
      countHeard();
      const missing = submitted.filter((id) => !heard.has(id));
      console.log(`cluster: the subscriber on the first instance heard ${heard.size} of ${JOBS} completions (${missing.length} unannounced by the killed instance)`);
      expect(completions.error).toBeUndefined();
      expect([...heard.values()].filter((times) => times !== 1)).toEqual([]);
      const ours = new Set(submitted);
      expect([...heard.keys()].filter((id) => !ours.has(id))).toEqual([]);
      expect(missing.filter((id) => !succeededAtKill.has(id))).toEqual([]);
      expect(missing.length).toBeLessThanOrEqual(IN_FLIGHT_PER_INSTANCE);
      await listener!.dispose();
    }
    for (const server of servers.slice(0, 2)) expect(server.stderr()).toBe('');
  }, 300_000);
});

describe.skipIf(!TEST_DATABASE_URL)('two instances in one process, one PostgreSQL database', () => {
  test('a token works on either; a logout on one is refused by the other at once; queues and jobs are shared', async () => {
    const a = await startTestServer();
    const b = await startTestServer({ DATABASE_URL: a.databaseUrl! });
    try {
      const ME = '{ me { username } }';
      const token = await a.login('admin', ADMIN_PASSWORD);
      expect((await b.gql(ME, {}, token)).data).toEqual({ me: { username: 'admin' } });
      // b remembers the session now; a's logout must reach it (NOTIFY), not wait for the token to expire.
      expect((await a.gql('mutation { logout }', {}, token)).data).toEqual({ logout: true });
      const deadline = Date.now() + 1000;
      let status = 200;
      while (status !== 401 && Date.now() < deadline) {
        status = (await b.gql(ME, {}, token)).status;
        if (status !== 401) await Bun.sleep(10);
      }
      expect(status).toBe(401);

      const admin = await a.adminToken();
      expect((await a.gql('mutation { createQueue(input: { name: "shared", maxLength: 1 }) { name } }', {}, admin)).errors).toBeUndefined();
      // b learns of the queue through NOTIFY too, and its maxLength holds across both.
      let submitted = await b.gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "shared" }) { id } }', {}, admin);
      for (let i = 0; submitted.errors && i < 100; i++) {
        await Bun.sleep(10);
        submitted = await b.gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "shared" }) { id } }', {}, admin);
      }
      const id = submitted.data!.submitDiagnosticJobs[0].id;
      for (let i = 0; i < 200; i++) {
        if ((await a.gql('query($id: ID!) { job(id: $id) { status } }', { id }, admin)).data?.job?.status === 'SUCCEEDED') break;
        await Bun.sleep(20);
      }
      expect((await a.gql('query($id: ID!) { job(id: $id) { status } }', { id }, admin)).data).toEqual({ job: { status: 'SUCCEEDED' } });
    } finally {
      await b.stop();
      await a.stop();
    }
  }, 30_000);

  test('a session revoked where no announcement reaches this instance is trusted for 30 s at most', async () => {
    const clock = new FakeClock();
    const server = await startTestServer({}, { clock });
    try {
      const ME = '{ me { username } }';
      const token = await server.login('admin', ADMIN_PASSWORD);
      expect((await server.gql(ME, {}, token)).data).toEqual({ me: { username: 'admin' } });
      // Revoked in the database itself, as if another instance's NOTIFY (and Redis message) had been lost.
      await server.sql('DELETE FROM sessions');
      expect((await server.gql(ME, {}, token)).data).toEqual({ me: { username: 'admin' } });
      clock.advance(31_000);
      expect((await server.gql(ME, {}, token)).status).toBe(401);
    } finally {
      await server.stop();
    }
  });

  test("a graceful shutdown of one instance drains only its own work: other instances' jobs do not hold it", async () => {
    const b = await startTestServer();
    const admin = await b.adminToken();
    let a: Awaited<ReturnType<typeof startTestServer>> | undefined;
    try {
      // b runs five minute-long jobs; a starts after (so none is a's) and is asked to drain.
      const submitted = await b.gql('mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 60000 }, count: 5) { id } }', {}, admin);
      const ids: string[] = submitted.data!.submitDiagnosticJobs.map((job: { id: string }) => job.id);
      const statuses = () => Promise.all(ids.map(async (id) => (await b.gql('query($id: ID!) { job(id: $id) { status } }', { id }, admin)).data!.job.status));
      for (let i = 0; i < 200 && !(await statuses()).every((status) => status === 'RUNNING'); i++) await Bun.sleep(10);
      expect(await statuses()).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
      a = await startTestServer({ DATABASE_URL: b.databaseUrl! });
      // Alone on a database it would wait for every running pool job (and time out here); beside b, none is its own.
      expect(await a.running.app.jobs.drain(5_000)).toEqual({ drained: true, left: 0 });
      expect(await statuses()).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
      for (const id of ids) await b.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id }, admin);
    } finally {
      await a?.stop();
      await b.stop();
    }
  }, 30_000);
});

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('two instances sharing one PostgreSQL database and one Redis', () => {
  test('a session change reaches the other instance both ways (Redis and NOTIFY) and is acted on once', async () => {
    const shared = { REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: `sessions-test:${crypto.randomUUID()}:` };
    const a = await startTestServer(shared);
    const b = await startTestServer({ ...shared, DATABASE_URL: a.databaseUrl! });
    try {
      const ME = '{ me { username } }';
      const token = await a.login('admin', ADMIN_PASSWORD);
      expect((await b.gql(ME, {}, token)).data).toEqual({ me: { username: 'admin' } });
      // What b hears (each way calls sessionsChangedElsewhere with the change's id) and how often it drops its cache.
      const users = b.running.app.users;
      const heard: (string | undefined)[] = [];
      const hear = users.sessionsChangedElsewhere.bind(users);
      users.sessionsChangedElsewhere = (change) => {
        heard.push(change);
        hear(change);
      };
      let drops = 0;
      users.onSessionsChanged(() => drops++);

      expect((await a.gql('mutation { logout }', {}, token)).data).toEqual({ logout: true });
      await until(() => heard.length >= 2, 'b to hear the logout through Redis and through NOTIFY');
      expect(heard).toHaveLength(2);
      expect(heard[0]).toBeString();
      expect(heard[1]).toBe(heard[0]);
      expect(drops).toBe(1);
      expect((await b.gql(ME, {}, token)).status).toBe(401);
    } finally {
      await b.stop();
      await a.stop();
    }
  }, 30_000);
});
