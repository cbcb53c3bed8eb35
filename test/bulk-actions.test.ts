// cancelJobs, retryJobs, deleteJobs by JobFilter, through the real endpoint (on PostgreSQL too with TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer, until, gqlData } from './helpers/server';

let server: TestServer;
let admin: string;
let alice: { id: string; token: string };
let bob: { id: string; token: string };
beforeAll(async () => {
  server = await startTestServer({ JOB_RETRY_BASE_MS: '600000' });
  admin = await server.adminToken();
  alice = await server.userWithRole('USER', 'alice');
  bob = await server.userWithRole('USER', 'bob');
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);
const SUBMIT = 'mutation($jobs: [JobSubmission!]!, $options: SubmitJobsOptions) { submitJobs(jobs: $jobs, options: $options) { id status } }';
const CANCEL = 'mutation($filter: JobFilter!) { cancelJobs(filter: $filter) }';
const RETRY = 'mutation($filter: JobFilter!) { retryJobs(filter: $filter) }';
const DELETE = 'mutation($filter: JobFilter!) { deleteJobs(filter: $filter) }';
const counts = async (queue: string, token = admin) => (await data(`{ jobCounts(queue: "${queue}") { queued running succeeded failed cancelled total } }`, {}, token)).jobCounts;

async function pausedQueue(name: string) {
  await data('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name, maxLength: 1_000_000 } });
  await data(`mutation { pauseQueue(name: "${name}") { paused } }`);
}
const submit = async (token: string, queue: string, n: number) =>
  (await data(SUBMIT, { jobs: Array.from({ length: n }, () => ({ pi: { simulations: 1000 } })), options: { queue } }, token)).submitJobs.map((j: any) => j.id as string);

describe('bulk actions', () => {
  test("a USER's filter only matches their own jobs, whatever owner it names", async () => {
    await pausedQueue('bulk-own');
    await submit(alice.token, 'bulk-own', 3);
    await submit(bob.token, 'bulk-own', 2);
    expect((await data(CANCEL, { filter: { queue: 'bulk-own', ownerId: bob.id } }, alice.token)).cancelJobs).toBe(3);
    expect(await counts('bulk-own')).toMatchObject({ queued: 2, cancelled: 3 });
    expect((await data(RETRY, { filter: { queue: 'bulk-own' } }, bob.token)).retryJobs).toBe(0);
    expect((await data(DELETE, { filter: { queue: 'bulk-own' } }, bob.token)).deleteJobs).toBe(0);
    expect((await data(DELETE, { filter: { queue: 'bulk-own' } }, alice.token)).deleteJobs).toBe(3);
    expect(await counts('bulk-own')).toMatchObject({ queued: 2, cancelled: 0, total: 2 });
    // A secretary reads but changes nothing.
    const secretary = await server.userWithRole('SECRETARY');
    const { errors } = await server.gql(CANCEL, { filter: {} }, secretary.token);
    expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  test('the filter fields combine: ids, status, kind, created before/after', async () => {
    await pausedQueue('bulk-filter');
    const ids = await submit(admin, 'bulk-filter', 6);
    expect((await data(CANCEL, { filter: { ids: ids.slice(0, 2) } })).cancelJobs).toBe(2);
    expect((await data(CANCEL, { filter: { queue: 'bulk-filter', kind: 'FORECAST' } })).cancelJobs).toBe(0);
    expect((await data(CANCEL, { filter: { queue: 'bulk-filter', createdBefore: '2000-01-01T00:00:00Z' } })).cancelJobs).toBe(0);
    expect((await data(RETRY, { filter: { queue: 'bulk-filter', status: 'CANCELLED', createdAfter: '2000-01-01T00:00:00Z' } })).retryJobs).toBe(2);
    expect(await counts('bulk-filter')).toMatchObject({ queued: 6 });
    const { errors } = await server.gql(CANCEL, { filter: { ids: ['nope'] } }, admin);
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('a running job is stopped, its slot freed, and the next job starts', async () => {
    await data('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name: 'bulk-run', concurrency: 1 } });
    const sleeper = (await data('mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 60000, queue: "bulk-run" }) { id } }')).submitDiagnosticJobs[0].id;
    await until(async () => (await data(`{ job(id: "${sleeper}") { status } }`)).job.status === 'RUNNING', 'the sleeper to run', 10_000);
    const [next] = await submit(admin, 'bulk-run', 1);
    expect((await data(CANCEL, { filter: { queue: 'bulk-run', status: 'RUNNING' } })).cancelJobs).toBe(1);
    await until(async () => (await data(`{ job(id: "${next}") { status } }`)).job.status === 'SUCCEEDED', 'the next job to run in the freed slot', 10_000);
    expect((await data(`{ job(id: "${sleeper}") { status } }`)).job.status).toBe('CANCELLED');
  });

  test('many jobs at once: cancel, retry and delete 12,000 jobs in batches', async () => {
    await pausedQueue('bulk-many');
    const jobs = Array.from({ length: 6000 }, () => ({ pi: { simulations: 1000 } }));
    await data(SUBMIT, { jobs, options: { queue: 'bulk-many' } });
    await data(SUBMIT, { jobs, options: { queue: 'bulk-many' } });
    expect((await data(CANCEL, { filter: { queue: 'bulk-many' } })).cancelJobs).toBe(12_000);
    expect(await counts('bulk-many')).toMatchObject({ queued: 0, cancelled: 12_000 });
    expect((await data('{ queue(name: "bulk-many") { waiting } }')).queue.waiting).toBe(0);
    expect((await data(RETRY, { filter: { queue: 'bulk-many' } })).retryJobs).toBe(12_000);
    expect((await data('{ queue(name: "bulk-many") { waiting } }')).queue.waiting).toBe(12_000);
    // Every job's history says what happened to it.
    const [{ n }] = (await server.sql<{ n: number }>(
      `SELECT CAST(count(*) AS INTEGER) AS n FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.queue = 'bulk-many' AND e.type IN ('cancelled', 'retried')`,
    )) as [{ n: number }];
    expect(Number(n)).toBe(24_000);
    expect((await data(DELETE, { filter: { queue: 'bulk-many' } })).deleteJobs).toBe(0);
    await data(CANCEL, { filter: { queue: 'bulk-many' } });
    expect((await data(DELETE, { filter: { queue: 'bulk-many' } })).deleteJobs).toBe(12_000);
    expect(await counts('bulk-many')).toMatchObject({ total: 0 });
    const [{ left }] = (await server.sql<{ left: number }>(`SELECT CAST(count(*) AS INTEGER) AS left FROM job_inputs WHERE job_id NOT IN (SELECT id FROM jobs)`)) as [{ left: number }];
    expect(Number(left)).toBe(0);
  }, 120_000);
});
