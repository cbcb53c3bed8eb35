import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readSseEvents, startTestServer, subscribe, type TestServer, until } from './helpers/server';

/** The first retry waits half to all of this, the second twice that (jitter in [0.5, 1)). */
const RETRY_BASE_MS = 100;
let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer({ JOB_RETRY_BASE_MS: String(RETRY_BASE_MS) });
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const JOB_FIELDS = 'id kind status queue progress attempts error claimedBy result { ... on PiEstimate { pi simulations simulationsDistribution } ... on DiagnosticResult { behavior } }';

async function diagnostic(input: Record<string, unknown>, token = admin, count = 1) {
  const result = await server.gql<{ submitDiagnosticJobs: { id: string }[] }>(
    `mutation($input: DiagnosticJobInput!, $count: Int) { submitDiagnosticJobs(input: $input, count: $count) { id status } }`,
    { input, count },
    token,
  );
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.submitDiagnosticJobs.map((job) => job.id);
}

async function waitForJob(id: string, statuses: string[], token = admin, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await server.gql(`query($id: ID!) { job(id: $id) { ${JOB_FIELDS} events { type at payload } } }`, { id }, token);
    const job = result.data?.job;
    if (job && statuses.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job?.status}, not ${statuses.join('/')}`);
    await Bun.sleep(25);
  }
}

async function createQueue(name: string, extra: Record<string, unknown> = {}) {
  const result = await server.gql('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name concurrency maxLength paused } }', { input: { name, ...extra } }, admin);
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.createQueue;
}

describe('running jobs on the pool', () => {
  test('a long job reports its progress, rising, over WebSocket', async () => {
    const [id] = await diagnostic({ behavior: 'SLEEP', durationMs: 600 });
    const sub = subscribe(server.wsClient(admin), 'subscription($id: ID!) { jobUpdated(id: $id) { status progress } }', { id });
    const events = await sub.waitFor(100, 10_000);
    expect(sub.completed).toBe(true);
    const updates = events.map((e) => e.data!.jobUpdated);
    expect(updates.at(-1)).toEqual({ status: 'SUCCEEDED', progress: 1 });
    const progress = updates.filter((u) => u.status === 'RUNNING').map((u) => u.progress);
    expect(progress.filter((p) => p > 0 && p < 1).length).toBeGreaterThanOrEqual(3);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  test('a π job runs to SUCCEEDED with its result, history and progress over WebSocket', async () => {
    const submitted = await server.gql('mutation { submitPiJob(input: { simulations: 40000000, concurrency: 2, seed: 42 }) { id status } }', {}, admin);
    const id = submitted.data?.submitPiJob.id;
    const sub = subscribe(server.wsClient(admin), `subscription($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`, { id });
    const events = await sub.waitFor(1000, 20_000);
    expect(sub.completed).toBe(true);
    const updates = events.map((e) => e.data?.jobUpdated);
    const last = updates.at(-1);
    expect(last.status).toBe('SUCCEEDED');
    expect(last.result).toMatchObject({ simulations: 40000000, simulationsDistribution: [20000000, 20000000] });
    expect(Math.abs(last.result.pi - Math.PI)).toBeLessThan(0.01);
    // 40 M samples take ~15 ms on the SIMD kernel, under the 100 ms progress throttle: progress is checked below.
    const progress = updates.filter((u) => u.status === 'RUNNING').map((u) => u.progress);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);

    const job = await waitForJob(id, ['SUCCEEDED']);
    expect(job.events.map((e: { type: string }) => e.type)).toEqual(['queued', 'started', 'succeeded']);
  });

  test('jobUpdated over SSE ends after the final state', async () => {
    const [id] = await diagnostic({ behavior: 'SLEEP', durationMs: 300 });
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: `subscription($id: ID!) { jobUpdated(id: $id) { status progress } }`, variables: { id } }),
    });
    const events = await readSseEvents(response, 100, 10_000);
    const statuses = events.map((e) => e.data.jobUpdated.status);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses).toContain('RUNNING');
  });

  test('a kernel that throws, one that kills its worker and one that hangs each fail clearly; the pool refills', async () => {
    const [throws] = await diagnostic({ behavior: 'THROW', maxAttempts: 1 });
    const [exits] = await diagnostic({ behavior: 'EXIT', maxAttempts: 1 });
    const [hangs] = await diagnostic({ behavior: 'HANG', maxAttempts: 1, timeoutSeconds: 1 });
    expect((await waitForJob(throws!, ['FAILED'])).error).toBe('diagnostic kernel failed on purpose');
    expect((await waitForJob(exits!, ['FAILED'])).error).toContain('the worker running it crashed');
    expect((await waitForJob(hangs!, ['FAILED'])).error).toBe('timed out after 1000 ms');
    expect(server.running.app.pool.size).toBe(2);
    const later = await diagnostic({ behavior: 'SUCCEED' }, admin, 20);
    for (const id of later) expect((await waitForJob(id, ['SUCCEEDED', 'FAILED'])).status).toBe('SUCCEEDED');
    const ready = await fetch(server.url.replace('/graphql', '/ready'), { headers: { authorization: `Bearer ${admin}` } });
    expect(((await ready.json()) as any).checks.workers).toBe(2);
  });

  test('a failing job is retried with exponential backoff up to maxAttempts', async () => {
    const [id] = await diagnostic({ behavior: 'THROW', maxAttempts: 3 });
    const job = await waitForJob(id!, ['FAILED']);
    expect(job.attempts).toBe(3);
    const types = job.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(['queued', 'started', 'retry_scheduled', 'started', 'retry_scheduled', 'started', 'failed']);
    const starts = job.events.filter((e: { type: string }) => e.type === 'started').map((e: { at: string }) => Date.parse(e.at));
    // The second attempt waits base/2..base, the third base..2·base.
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(RETRY_BASE_MS / 2);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(RETRY_BASE_MS);
    const retried = await server.gql('mutation($id: ID!) { retryJob(id: $id) { status } }', { id }, admin);
    expect(['QUEUED', 'RUNNING']).toContain(retried.data?.retryJob.status);
    const again = await waitForJob(id!, ['FAILED']);
    expect(again.attempts).toBe(3);
    expect(again.events.filter((e: { type: string }) => e.type === 'started')).toHaveLength(6);
  });

  test('submission is validated with the source system’s messages', async () => {
    const cases: [string, string][] = [
      ['{ simulations: 99 }', 'invalid field simulations'],
      ['{ simulations: 100000001 }', 'invalid field simulations'],
      ['{ simulations: 1000, concurrency: 0 }', 'invalid field concurrency'],
      ['{ simulations: 1000, concurrency: 9 }', 'invalid field concurrency'],
      ['{ simulations: 1000, queue: "nope" }', 'no queue named "nope"'],
      ['{ simulations: 1000, maxAttempts: 0 }', 'maxAttempts must be an integer from 1 to 20'],
    ];
    for (const [input, message] of cases) {
      const result = await server.gql(`mutation { submitPiJob(input: ${input}) { id } }`, {}, admin);
      expect(result.errors?.[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
    }
    const count = await server.gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED }, count: 0) { id } }', {}, admin);
    expect(count.errors?.[0]).toMatchObject({ message: 'count must be an integer from 1 to 10000', extensions: { code: 'BAD_USER_INPUT' } });
    const anonymous = await server.gql('mutation { submitPiJob(input: { simulations: 1000 }) { id } }');
    expect(anonymous.errors?.[0]).toMatchObject({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
  });
});

describe('queues', () => {
  test('pause holds jobs, resume releases them; cancel works on queued and running jobs', async () => {
    await createQueue('held');
    const manager = (await server.userWithRole('MANAGER')).token;
    expect((await server.gql('mutation { pauseQueue(name: "held") { paused } }', {}, manager)).data?.pauseQueue.paused).toBe(true);
    const [queued, other] = await diagnostic({ behavior: 'SUCCEED', queue: 'held' }, admin, 2);
    // A job of another queue submitted after them runs: claim passes ran, and left the held ones queued.
    const [passing] = await diagnostic({ behavior: 'SUCCEED' });
    await waitForJob(passing!, ['SUCCEEDED']);
    expect((await waitForJob(queued!, ['QUEUED'])).status).toBe('QUEUED');
    const cancelled = await server.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id: queued }, manager);
    expect(cancelled.data?.cancelJob.status).toBe('CANCELLED');
    await server.gql('mutation { resumeQueue(name: "held") { paused } }', {}, manager);
    expect((await waitForJob(other!, ['SUCCEEDED'])).status).toBe('SUCCEEDED');

    const [running] = await diagnostic({ behavior: 'SLEEP', durationMs: 20_000 });
    await waitForJob(running!, ['RUNNING']);
    expect((await server.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id: running }, admin)).data?.cancelJob.status).toBe('CANCELLED');
    // A job submitted after the cancel finishing: the stopped run's late end was handled before it.
    const [after] = await diagnostic({ behavior: 'SUCCEED' });
    await waitForJob(after!, ['SUCCEEDED']);
    const job = await waitForJob(running!, ['CANCELLED']);
    expect(job.events.map((e: { type: string }) => e.type)).toEqual(['queued', 'started', 'cancelled']);
    // Stopped, not run to its end: by the server's own record, well short of the 20 s it would have slept.
    expect(Date.parse(job.events[2].at) - Date.parse(job.events[1].at)).toBeLessThan(20_000);
    const again = await server.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id: running }, admin);
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  test("a queue's concurrency bounds how many of its jobs run at once", async () => {
    await createQueue('single', { concurrency: 1 });
    const ids = await diagnostic({ behavior: 'SLEEP', durationMs: 50, queue: 'single' }, admin, 3);
    const jobs = [];
    for (const id of ids) jobs.push(await waitForJob(id, ['SUCCEEDED']));
    const spans = jobs.map((job) => {
      const at = (type: string) => Date.parse(job.events.find((e: { type: string }) => e.type === type).at);
      return [at('started'), at('succeeded')] as const;
    });
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  test('maxLength is enforced with CONFLICT', async () => {
    await createQueue('tiny', { maxLength: 2 });
    await server.gql('mutation { pauseQueue(name: "tiny") { paused } }', {}, admin);
    await diagnostic({ behavior: 'SUCCEED', queue: 'tiny' }, admin, 2);
    const full = await server.gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "tiny" }) { id } }', {}, admin);
    expect(full.errors?.[0]).toMatchObject({ message: 'queue "tiny" is full: 2 jobs waiting, at most 2', extensions: { code: 'CONFLICT' } });
  });

  test('deleting a queue deletes its jobs; the default queue stays', async () => {
    await createQueue('doomed');
    await server.gql('mutation { pauseQueue(name: "doomed") { paused } }', {}, admin);
    const ids = await diagnostic({ behavior: 'SUCCEED', queue: 'doomed' }, admin, 3);
    expect((await server.gql('mutation { deleteQueue(name: "doomed") }', {}, admin)).data).toEqual({ deleteQueue: true });
    for (const id of ids) expect((await server.gql('query($id: ID!) { job(id: $id) { id } }', { id }, admin)).data?.job).toBeNull();
    expect((await server.gql('{ queue(name: "doomed") { name } }', {}, admin)).data?.queue).toBeNull();
    const keep = await server.gql('mutation { deleteQueue(name: "default") }', {}, admin);
    expect(keep.errors?.[0]).toMatchObject({ message: 'the default queue cannot be deleted', extensions: { code: 'CONFLICT' } });
    const bad = await server.gql('mutation { createQueue(input: { name: "Bad Name!" }) { name } }', {}, admin);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const user = (await server.userWithRole('USER')).token;
    expect((await server.gql('mutation { createQueue(input: { name: "mine" }) { name } }', {}, user)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await server.gql('mutation { pauseQueue(name: "default") { name } }', {}, user)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('pulling jobs by hand', () => {
  test('a manager pulls the oldest job, completes it with a checked result; an empty queue gives null', async () => {
    await createQueue('manual');
    await server.gql('mutation { pauseQueue(name: "manual") { paused } }', {}, admin);
    const manager = (await server.userWithRole('MANAGER')).token;
    const user = (await server.userWithRole('USER')).token;
    const first = await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "manual" }) { id } }', {}, user);
    await server.gql('mutation { submitPiJob(input: { simulations: 2000, queue: "manual" }) { id } }', {}, user);
    expect((await server.gql('mutation { pullJob(queue: "manual") { id } }', {}, user)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const pulled = await server.gql('mutation { pullJob(queue: "manual") { id status claimedBy input } }', {}, manager);
    expect(pulled.data?.pullJob).toMatchObject({ id: first.data?.submitPiJob.id, status: 'RUNNING' });
    expect(pulled.data?.pullJob.claimedBy).toMatch(/^user:\d+$/);
    const id = pulled.data?.pullJob.id;
    const bad = await server.gql('mutation($id: ID!) { completeJob(id: $id, result: { pi: "three" }) { id } }', { id }, manager);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const result = { simulations: 1000, concurrency: 1, pi: 3.1, simulationsDistribution: [1000], seconds: 60 };
    const otherManager = (await server.userWithRole('MANAGER')).token;
    expect((await server.gql('mutation($id: ID!, $r: JSON!) { completeJob(id: $id, result: $r) { id } }', { id, r: result }, otherManager)).errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const done = await server.gql(`mutation($id: ID!, $r: JSON!) { completeJob(id: $id, result: $r) { ${JOB_FIELDS} } }`, { id, r: result }, manager);
    expect(done.data?.completeJob).toMatchObject({ status: 'SUCCEEDED', result: { pi: 3.1 } });
    expect((await waitForJob(id, ['SUCCEEDED'], user)).status).toBe('SUCCEEDED');

    await server.gql('mutation { pullJob(queue: "manual") { id } }', {}, manager);
    expect((await server.gql('mutation { pullJob(queue: "manual") { id } }', {}, manager)).data).toEqual({ pullJob: null });
  });

  test('10 concurrent claimers (the pool and managers pulling) over 2,000 jobs never claim a job twice', async () => {
    await createQueue('contended', { concurrency: 64 });
    const managers = await Promise.all(Array.from({ length: 9 }, () => server.userWithRole('MANAGER')));
    const ids = await diagnostic({ behavior: 'SUCCEED', queue: 'contended' }, admin, 2000);
    let pulled = 0;
    await Promise.all(
      managers.map(async ({ token }) => {
        for (;;) {
          const result = await server.gql('mutation { pullJob(queue: "contended") { id } }', {}, token);
          if (!result.data?.pullJob) break;
          pulled++;
        }
      }),
    );
    // A manager's pull finds nothing while the queue's 64 places are all taken: the pool may still have jobs to
    // claim. Every claim is counted once none is waiting (pulled jobs stay RUNNING: no manager completes them).
    const waiting = async () => (await server.sql<{ n: number }>(`SELECT CAST(count(*) AS INTEGER) AS n FROM jobs WHERE queue = 'contended' AND status = 'QUEUED'`))[0]!.n;
    await until(async () => (await waiting()) === 0, 'no contended job left waiting');
    const claims = await server.sql<{ job_id: number; n: number }>(
      `SELECT job_id, CAST(count(*) AS INTEGER) AS n FROM job_events WHERE type IN ('started', 'pulled') AND job_id >= $1 AND job_id <= $2 GROUP BY job_id`,
      Number(ids[0]),
      Number(ids.at(-1)),
    );
    const status = await server.sql<{ pool: number; n: number }>(
      `SELECT CASE WHEN claimed_by = 'pool' THEN 1 ELSE 0 END AS pool, CAST(count(*) AS INTEGER) AS n FROM jobs WHERE queue = 'contended' GROUP BY 1`,
    );
    expect(claims).toHaveLength(2000);
    expect(claims.every((c) => c.n === 1)).toBe(true);
    expect(pulled).toBeGreaterThan(0);
    expect(status.find((s) => s.pool === 0)?.n).toBe(pulled);
  }, 60_000);
});

describe('who sees what', () => {
  test('users see and act on their own jobs only; managers see all; jobCompleted respects both', async () => {
    const alice = await server.userWithRole('USER');
    const bob = await server.userWithRole('USER');
    const manager = await server.userWithRole('MANAGER');
    await createQueue('visible');
    const listening = server.nextSubscriptions('jobCompleted', 3);
    const aliceClient = server.wsClient(alice.token);
    const aliceSub = subscribe(aliceClient, 'subscription { jobCompleted(queue: "visible") { id owner { username } } }');
    const managerSub = subscribe(server.wsClient(manager.token), 'subscription { jobCompleted(queue: "visible", kind: PI) { id } }');
    const adminSub = subscribe(server.wsClient(admin), 'subscription { jobCompleted(queue: "visible") { id } }');
    await listening;
    const bobJob = (await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "visible" }) { id } }', {}, bob.token)).data?.submitPiJob.id;
    await waitForJob(bobJob, ['SUCCEEDED'], bob.token);
    const aliceJob = (await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "visible" }) { id } }', {}, alice.token)).data?.submitPiJob.id;
    await diagnostic({ behavior: 'SUCCEED', queue: 'visible' });
    const [aliceEvent] = await aliceSub.waitFor(1);
    expect(aliceEvent?.data?.jobCompleted).toEqual({ id: aliceJob, owner: { username: alice.username } });
    await managerSub.waitFor(2);
    expect(managerSub.events.map((e) => e.data?.jobCompleted.id)).toEqual([bobJob, aliceJob]);
    // The admin heard of all three jobs, and alice's socket answered a query since: nothing more is coming to her.
    await adminSub.waitFor(3);
    await subscribe(aliceClient, '{ __typename }').waitFor(1);
    expect(aliceSub.events).toHaveLength(1);

    expect((await server.gql('query($id: ID!) { job(id: $id) { id } }', { id: bobJob }, alice.token)).data?.job).toBeNull();
    const cancel = await server.gql('mutation($id: ID!) { deleteJob(id: $id) }', { id: bobJob }, alice.token);
    expect(cancel.errors?.[0]).toMatchObject({ message: `no job with id ${bobJob}`, extensions: { code: 'NOT_FOUND' } });
    const own = await server.gql('{ jobs(first: 50) { edges { node { id owner { username } } } } jobCounts { succeeded total } }', {}, alice.token);
    expect(own.data?.jobs.edges.map((e: any) => e.node.id)).toEqual([aliceJob]);
    expect(own.data?.jobCounts).toEqual({ succeeded: 1, total: 1 });
    const all = await server.gql('query($owner: ID) { jobs(first: 5, owner: $owner, kind: PI) { edges { node { id } } } }', { owner: bob.id }, manager.token);
    expect(all.data?.jobs.edges.map((e: any) => e.node.id)).toEqual([bobJob]);
    const sub = subscribe(server.wsClient(alice.token), 'subscription($id: ID!) { jobUpdated(id: $id) { id } }', { id: bobJob });
    await sub.waitFor(1);
    expect(((sub.error as any[]) ?? sub.events[0]?.errors)?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await server.gql('mutation($id: ID!) { deleteJob(id: $id) }', { id: bobJob }, manager.token)).data).toEqual({ deleteJob: true });
  });
});
