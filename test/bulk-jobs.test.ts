// submitJobs (bulk, mixed kinds, all or none) and the waiting counts that maxLength checks, through HTTP and WebSocket.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FakeClock } from './helpers/clock';
import { startTestServer, subscribe, type TestServer, until, gqlData } from './helpers/server';

const PULL_LEASE_MS = 60_000;
const LOW = 'Percent of adults aged 18 years and older who have obesity';
const SUBMIT = 'mutation($jobs: [JobSubmission!]!, $options: SubmitJobsOptions) { submitJobs(jobs: $jobs, options: $options) { id kind status queue priority } }';

const clock = new FakeClock();
let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer({ JOB_LEASE_SECONDS: '1', PULL_LEASE_SECONDS: String(PULL_LEASE_MS / 1000), JOB_RETRY_BASE_MS: '600000' }, { clock });
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);

const pi = (simulations = 1000, extra: Record<string, unknown> = {}) => ({ pi: { simulations, ...extra } });
const jobCount = async () => (await data('{ jobCounts { total } }')).jobCounts.total as number;

async function pausedQueue(name: string, maxLength?: number) {
  await data('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name, maxLength } });
  await data(`mutation { pauseQueue(name: "${name}") { paused } }`);
}

async function jobWhen(id: string, ready: (job: any) => boolean, fields = 'id status attempts') {
  let job: any;
  await until(async () => ready((job = (await data(`query($id: ID!) { job(id: $id) { ${fields} } }`, { id })).job)), `job ${id}`, 10_000);
  return job;
}

describe('submitJobs', () => {
  test('jobs of every kind in one call run as their single submits do', async () => {
    const jobs = [
      pi(20_000, { seed: 7 }),
      { forecast: { assets: [1, 2], seed: 3 } },
      { calc: { expressions: ['1+2', '2*3'] } },
      { analytics: { query: 'GLOBAL_MEAN', question: LOW } },
    ];
    const { submitJobs } = await data(SUBMIT, { jobs });
    expect(submitJobs.map((job: any) => [job.kind, job.status, job.queue])).toEqual([
      ['PI', 'QUEUED', 'default'],
      ['FORECAST', 'QUEUED', 'default'],
      ['CALC', 'QUEUED', 'default'],
      ['ANALYTICS', 'QUEUED', 'default'],
    ]);
    const ids = submitJobs.map((job: any) => job.id);
    expect(new Set(ids).size).toBe(4);
    const results = 'id status result { __typename ... on PiEstimate { simulations } ... on CalcBatchResult { count errors } }';
    const done = await Promise.all(ids.map((id: string) => jobWhen(id, (job) => job.status === 'SUCCEEDED', results)));
    expect(done.map((job) => job.result.__typename)).toEqual(['PiEstimate', 'Forecast', 'CalcBatchResult', 'AnalyticsResult']);
    expect(done[0].result.simulations).toBe(20_000);
    expect(done[2].result).toMatchObject({ count: 2, errors: 0 });
  });

  test("the call's options apply to every job; an item's own options win", async () => {
    await pausedQueue('opts');
    const { submitJobs } = await data(SUBMIT, { jobs: [pi(), pi(1000, { priority: 5 })], options: { queue: 'opts', priority: -3 } });
    expect(submitJobs.map((job: any) => [job.queue, job.priority])).toEqual([
      ['opts', -3],
      ['opts', 5],
    ]);
  });

  test('one bad item refuses the whole call, its error naming the index; nothing is stored', async () => {
    const before = await jobCount();
    const jobs = [pi(), { analytics: { query: 'GLOBAL_MEAN', question: LOW } }, pi(), pi(5)];
    const result = await server.gql(SUBMIT, { jobs }, admin);
    expect(result.data).toBeNull();
    expect(result.errors?.[0]).toMatchObject({
      message: 'jobs[3]: invalid field simulations',
      extensions: { code: 'BAD_USER_INPUT', index: 3, field: 'simulations' },
    });
    // A conversion's own check (an unknown analytics question) and a bad option name their item too.
    const unknown = await server.gql(SUBMIT, { jobs: [pi(), { analytics: { query: 'GLOBAL_MEAN', question: 'nope' } }] }, admin);
    expect(unknown.errors?.[0]?.message).toStartWith('jobs[1]: ');
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 1 });
    const option = await server.gql(SUBMIT, { jobs: [pi(), pi(), pi(1000, { maxAttempts: 99 })] }, admin);
    expect(option.errors?.[0]).toMatchObject({ message: 'jobs[2]: maxAttempts must be an integer from 1 to 20', extensions: { index: 2 } });
    expect(await jobCount()).toBe(before);
  });

  test('@oneOf: an item with two kinds, or none, is refused by GraphQL', async () => {
    const before = await jobCount();
    const two = await server.gql(SUBMIT, { jobs: [{ pi: { simulations: 1000 }, calc: { text: '1' } }] }, admin);
    // A variable's value: the one request's error (execution coerces it), not a verdict cached for the document.
    expect(two.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(two.errors?.[0]?.message).toContain('exactly one field must be specified');
    const none = await server.gql(SUBMIT, { jobs: [pi(), {}] }, admin);
    expect(none.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(none.errors?.[0]?.message).toContain('at "jobs[1]"');
    expect(await jobCount()).toBe(before);
  });

  test('10,000 jobs in one call fit; 10,001 are refused with a clear message', async () => {
    await pausedQueue('big', 20_000);
    const jobs = Array.from({ length: 10_000 }, () => pi());
    const ok = await server.gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "big" }) { id } }', { jobs }, admin);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.submitJobs).toHaveLength(10_000);
    const tooMany = await server.gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "big" }) { id } }', { jobs: [...jobs, pi()] }, admin);
    expect(tooMany.errors?.[0]).toMatchObject({
      message: 'submitJobs takes at most 10,000 jobs per call; got 10,001: split them into several calls',
      extensions: { code: 'BAD_USER_INPUT', maxItems: 10_000 },
    });
    expect((await data('{ queue(name: "big") { waiting } }')).queue.waiting).toBe(10_000);
  });

  test('the cost limit counts the list: 10,000 jobs selecting many fields each are refused', async () => {
    const jobs = Array.from({ length: 10_000 }, () => pi());
    const fields = 'id kind status queue owner { id username role } progress input error attempts maxAttempts priority claimedBy runAt createdAt startedAt finishedAt durationMs events { type at payload }';
    const result = await server.gql(`mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs) { ${fields} } }`, { jobs }, admin);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'complexity' });
  });

  test('a user sees only their own bulk jobs', async () => {
    const alice = await server.userWithRole('USER');
    const bob = await server.userWithRole('USER');
    await pausedQueue('mine');
    const ids = (await data(SUBMIT, { jobs: [pi(), pi()], options: { queue: 'mine' } }, alice.token)).submitJobs.map((job: any) => job.id);
    for (const id of ids) {
      expect((await data('query($id: ID!) { job(id: $id) { id } }', { id }, bob.token)).job).toBeNull();
      expect((await data('query($id: ID!) { job(id: $id) { id owner { username } } }', { id }, alice.token)).job.owner.username).toBe(alice.username);
    }
    const bobs = (await data('{ jobs(queue: "mine") { edges { node { id } } } }', {}, bob.token)).jobs.edges;
    expect(bobs).toEqual([]);
    expect((await server.gql(SUBMIT, { jobs: [pi()] })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('over WebSocket: the same answer, and the same indexed error', async () => {
    const client = server.wsClient(admin);
    const ok = subscribe(client, SUBMIT, { jobs: [pi(), { calc: { text: '1+1' } }] });
    const [answer] = await ok.waitFor(1, 5_000);
    expect(answer!.data!.submitJobs.map((job: any) => job.kind)).toEqual(['PI', 'CALC']);
    const bad = subscribe(client, SUBMIT, { jobs: [pi(), { calc: { text: '1+1' } }, pi(0)] });
    const [refused] = await bad.waitFor(1, 5_000);
    expect(refused!.errors?.[0]).toMatchObject({ message: 'jobs[2]: invalid field simulations', extensions: { code: 'BAD_USER_INPUT', index: 2 } });
    await client.dispose();
  });
});

describe('waiting counts (what maxLength checks)', () => {
  test('maxLength holds exactly under many concurrent bulk and single submissions', async () => {
    await pausedQueue('tight', 50);
    const bulk = Array.from({ length: 20 }, () => server.gql(SUBMIT, { jobs: Array.from({ length: 7 }, () => pi()), options: { queue: 'tight' } }, admin));
    const single = Array.from({ length: 30 }, () => server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "tight" }) { id } }', {}, admin));
    const results = await Promise.all([...bulk, ...single]);
    const accepted = results.reduce((sum, result) => sum + (result.data ? (result.data.submitJobs ?? [result.data.submitPiJob]).length : 0), 0);
    for (const result of results) if (!result.data) expect(result.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(accepted).toBeLessThanOrEqual(50);
    expect(accepted).toBeGreaterThanOrEqual(44);
    expect(await waitingByQueue()).toMatchObject({ tight: accepted });
    await expectCountsExact();
  });

  test('the count stays exact through every transition', async () => {
    await pausedQueue('counted');
    const manager = await server.userWithRole('MANAGER');
    const ids: string[] = (await data(SUBMIT, { jobs: Array.from({ length: 5 }, () => pi()), options: { queue: 'counted' } })).submitJobs.map((job: any) => job.id);
    await expectCountsExact({ counted: 5 });
    // pulled, then recovered when its lease runs out
    const pulled = (await data('mutation { pullJob(queue: "counted") { id } }', {}, manager.token)).pullJob.id;
    await expectCountsExact({ counted: 4 });
    clock.advance(PULL_LEASE_MS + 1_000);
    await jobWhen(pulled, (job) => job.status === 'QUEUED');
    await expectCountsExact({ counted: 5 });
    // cancelled, retried, deleted (a queued one, then a cancelled one)
    await data(`mutation { cancelJob(id: "${ids[1]}") { id } }`);
    await expectCountsExact({ counted: 4 });
    await data(`mutation { retryJob(id: "${ids[1]}") { id } }`);
    await expectCountsExact({ counted: 5 });
    await data(`mutation { deleteJob(id: "${ids[2]}") }`);
    await expectCountsExact({ counted: 4 });
    await data(`mutation { cancelJob(id: "${ids[3]}") { id } }`);
    await data(`mutation { deleteJob(id: "${ids[3]}") }`);
    await expectCountsExact({ counted: 3 });
    // a failed attempt scheduled again (retry backoff far away): waiting again
    await data('mutation { createQueue(input: { name: "flaky" }) { name } }');
    const [failing] = (await data('mutation { submitDiagnosticJobs(input: { behavior: THROW, queue: "flaky", maxAttempts: 2 }) { id } }')).submitDiagnosticJobs;
    await jobWhen(failing.id, (job) => job.status === 'QUEUED' && job.attempts === 1);
    await expectCountsExact({ flaky: 1 });
    // claimed by the pool and run
    await data('mutation { resumeQueue(name: "counted") { paused } }');
    for (const id of [ids[0]!, ids[1]!, pulled]) await jobWhen(id, (job) => job.status === 'SUCCEEDED');
    await expectCountsExact({ counted: 0 });
    // a deleted queue takes its waiting jobs with it; one made again under its name starts empty
    await data('mutation { deleteQueue(name: "flaky") }');
    await data('mutation { createQueue(input: { name: "flaky", maxLength: 1 }) { name } }');
    await expectCountsExact({ flaky: 0 });
    await data('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "flaky" }) { id } }');
    await data('mutation { pauseQueue(name: "flaky") { paused } }');
  });
});

/** Every queue's `waiting`, as the API answers it. */
async function waitingByQueue(): Promise<Record<string, number>> {
  const { queues } = await data('{ queues { name waiting } }');
  return Object.fromEntries(queues.map((queue: { name: string; waiting: number }) => [queue.name, queue.waiting]));
}

/** The kept counts equal a COUNT of QUEUED rows for every queue (and `expected`, where given). */
async function expectCountsExact(expected: Record<string, number> = {}) {
  const kept = await waitingByQueue();
  const rows = await server.sql<{ name: string; n: number }>(
    `SELECT q.name, CAST(count(j.id) AS INTEGER) AS n FROM queues q LEFT JOIN jobs j ON j.queue = q.name AND j.status = 'QUEUED' GROUP BY q.name`,
  );
  expect(kept).toEqual(Object.fromEntries(rows.map((row) => [row.name, row.n])));
  expect(kept).toMatchObject(expected);
}
