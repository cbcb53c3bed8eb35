// Queues' rate limits and retention, through the real endpoint (on PostgreSQL too with TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FakeClock } from './helpers/clock';
import { startTestServer, type TestServer, until, gqlData } from './helpers/server';

const clock = new FakeClock();
let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer({ JOB_RETENTION_SECONDS: '3600', JOB_RETENTION_SWEEP_SECONDS: '1' }, { clock });
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);
const CREATE = 'mutation($input: CreateQueueInput!) { createQueue(input: $input) { name rateLimit { jobs perSeconds } retention { succeededSeconds failedSeconds cancelledSeconds } } }';
const UPDATE = 'mutation($name: String!, $input: UpdateQueueInput!) { updateQueue(name: $name, input: $input) { rateLimit { jobs perSeconds } retention { succeededSeconds failedSeconds cancelledSeconds } } }';
const submit = async (queue: string, count: number, behavior = 'SUCCEED') =>
  (await data(`mutation { submitDiagnosticJobs(input: { behavior: ${behavior}, queue: "${queue}", maxAttempts: 1 }, count: ${count}) { id } }`)).submitDiagnosticJobs.map((j: any) => j.id as string);
const job = async (id: string) => (await data(`query($id: ID!) { job(id: $id) { id status startedAt } }`, { id })).job;

describe('rate-limited queues', () => {
  test('at most `jobs` starts in any sliding window of `perSeconds`; the rest start as the window frees', async () => {
    const created = (await data(CREATE, { input: { name: 'limited', rateLimit: { jobs: 3, perSeconds: 1 } } })).createQueue;
    expect(created.rateLimit).toEqual({ jobs: 3, perSeconds: 1 });
    const ids = await submit('limited', 9);
    await until(async () => (await Promise.all(ids.map(job))).every((j) => j.status === 'SUCCEEDED'), 'all nine', 20_000);
    const starts = (await Promise.all(ids.map(job))).map((j) => Date.parse(j.startedAt)).sort((a, b) => a - b);
    for (let i = 3; i < starts.length; i++) expect(starts[i]! - starts[i - 3]!).toBeGreaterThanOrEqual(1000);
  }, 30_000);

  test('a limit is changed and removed with updateQueue; bad limits are BAD_USER_INPUT', async () => {
    expect((await data(UPDATE, { name: 'limited', input: { rateLimit: { jobs: 10, perSeconds: 60 } } })).updateQueue.rateLimit).toEqual({ jobs: 10, perSeconds: 60 });
    expect((await data(UPDATE, { name: 'limited', input: { maxLength: 100 } })).updateQueue.rateLimit).toEqual({ jobs: 10, perSeconds: 60 });
    expect((await data(UPDATE, { name: 'limited', input: { rateLimit: null } })).updateQueue.rateLimit).toBeNull();
    for (const rateLimit of [{ jobs: 0, perSeconds: 1 }, { jobs: 1, perSeconds: 0 }, { jobs: 1, perSeconds: 100_000 }]) {
      const { errors } = await server.gql(UPDATE, { name: 'limited', input: { rateLimit } }, admin);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain('rateLimit.');
    }
  });
});

describe('retention', () => {
  test("finished jobs older than their queue's retention go with their events and inputs; JOB_RETENTION_SECONDS for the rest", async () => {
    const created = (await data(CREATE, { input: { name: 'kept', retention: { succeededSeconds: 60 } } })).createQueue;
    expect(created.retention).toEqual({ succeededSeconds: 60, failedSeconds: null, cancelledSeconds: null });
    const [succeeded] = await submit('kept', 1);
    const [failed] = await submit('kept', 1, 'THROW');
    await until(async () => (await job(succeeded!)).status === 'SUCCEEDED' && (await job(failed!)).status === 'FAILED', 'both finished', 10_000);
    await data('mutation { pauseQueue(name: "kept") { paused } }');
    const [queued] = await submit('kept', 1);
    clock.advance(61_000);
    await until(async () => (await job(succeeded!)) === null, 'the succeeded job to go', 10_000);
    // The failed one falls under the default (an hour); the queued one is not finished.
    expect((await job(failed!)).status).toBe('FAILED');
    expect((await job(queued!)).status).toBe('QUEUED');
    const rows = await server.sql<{ n: number }>(`SELECT CAST(count(*) AS INTEGER) AS n FROM job_events WHERE job_id = $1`, Number(succeeded));
    expect(Number(rows[0]!.n)).toBe(0);
    clock.advance(3600_000);
    await until(async () => (await job(failed!)) === null, 'the failed job to go after JOB_RETENTION_SECONDS', 10_000);
    expect((await job(queued!)).status).toBe('QUEUED');
    const inputs = await server.sql<{ n: number }>(`SELECT CAST(count(*) AS INTEGER) AS n FROM job_inputs WHERE job_id IN ($1, $2)`, Number(succeeded), Number(failed));
    expect(Number(inputs[0]!.n)).toBe(0);
  }, 30_000);

  test('thousands of expired jobs go in batches while new jobs keep running', async () => {
    await data(CREATE, { input: { name: 'bulk-retention', retention: { cancelledSeconds: 1 } } });
    await data('mutation { pauseQueue(name: "bulk-retention") { paused } }');
    await submit('bulk-retention', 5000);
    expect(await data('mutation { cancelJobs(filter: { queue: "bulk-retention" }) }')).toEqual({ cancelJobs: 5000 });
    clock.advance(2000);
    const [fresh] = await submit('kept', 1);
    await data('mutation { resumeQueue(name: "kept") { paused } }');
    await until(async () => (await data('{ jobCounts(queue: "bulk-retention") { total } }')).jobCounts.total === 0, 'the cancelled jobs to go', 20_000);
    await until(async () => (await job(fresh!)).status === 'SUCCEEDED', 'a job to run meanwhile', 10_000);
  }, 30_000);
});
