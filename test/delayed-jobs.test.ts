// Delayed jobs (runAt, delayMs) and idempotency keys, through the real endpoint (on PostgreSQL too with TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FakeClock } from './helpers/clock';
import { startTestServer, type TestServer, until, gqlData } from './helpers/server';

const clock = new FakeClock();
let server: TestServer;
let admin: string;
let user: { id: string; token: string };
beforeAll(async () => {
  server = await startTestServer({ IDEMPOTENCY_TTL_SECONDS: '60' }, { clock });
  admin = await server.adminToken();
  user = await server.userWithRole('USER');
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);
const JOB = 'id status runAt startedAt createdAt idempotencyKey';
const SUBMIT_PI = `mutation($input: PiJobInput!) { submitPiJob(input: $input) { ${JOB} } }`;
const SUBMIT = `mutation($jobs: [JobSubmission!]!, $options: SubmitJobsOptions) { submitJobs(jobs: $jobs, options: $options) { ${JOB} } }`;
const job = async (id: string) => (await data(`query($id: ID!) { job(id: $id) { ${JOB} } }`, { id })).job;
const jobCount = async () => (await data('{ jobCounts { total } }')).jobCounts.total as number;

describe('delayed jobs', () => {
  test('a job with delayMs starts at its time, not before, with no claim pass polling for it', async () => {
    const { submitPiJob } = await data(SUBMIT_PI, { input: { simulations: 1000, delayMs: 400 } });
    expect(submitPiJob.status).toBe('QUEUED');
    const runAt = Date.parse(submitPiJob.runAt);
    // Counted from the submission's check, a moment before the insert stamps createdAt.
    expect(runAt - Date.parse(submitPiJob.createdAt)).toBeGreaterThan(300);
    expect(runAt - Date.parse(submitPiJob.createdAt)).toBeLessThanOrEqual(400);
    await until(async () => (await job(submitPiJob.id)).status === 'SUCCEEDED', 'the delayed job', 10_000);
    const done = await job(submitPiJob.id);
    expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(runAt);
  });

  test('runAt holds a job back; the claim takes the jobs due before it', async () => {
    const runAt = new Date(clock.now() + 600).toISOString();
    const { submitJobs } = await data(SUBMIT, { jobs: [{ pi: { simulations: 1000, runAt } }, { pi: { simulations: 1000 } }] });
    expect(submitJobs[0].runAt).toBe(runAt);
    await until(async () => (await job(submitJobs[1].id)).status === 'SUCCEEDED', 'the job due now', 10_000);
    const waiting = await job(submitJobs[0].id);
    // Still held back while its time has not come (it may have come by now on a slow machine: then it started after it).
    if (clock.now() < Date.parse(runAt)) expect(waiting.status).toBe('QUEUED');
    await until(async () => (await job(submitJobs[0].id)).status === 'SUCCEEDED', 'the job due later', 10_000);
    expect(Date.parse((await job(submitJobs[0].id)).startedAt)).toBeGreaterThanOrEqual(Date.parse(runAt));
  });

  test("the call's delayMs applies to every item; an item's own runAt wins", async () => {
    const own = new Date(clock.now() + 3_600_000).toISOString();
    const { submitJobs } = await data(SUBMIT, { jobs: [{ pi: { simulations: 1000 } }, { pi: { simulations: 1000, runAt: own } }], options: { delayMs: 1_800_000 } });
    expect(Date.parse(submitJobs[0].runAt) - Date.parse(submitJobs[0].createdAt)).toBeGreaterThan(1_700_000);
    expect(submitJobs[1].runAt).toBe(own);
    await data('mutation($ids: [ID!]) { cancelJobs(filter: { ids: $ids }) }', { ids: submitJobs.map((j: any) => j.id) });
  });

  test('bad timing is BAD_USER_INPUT naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ delayMs: 10, runAt: new Date().toISOString() }, 'delayMs'],
      [{ delayMs: -1 }, 'delayMs'],
      [{ runAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }, 'runAt'],
      [{ idempotencyKey: '' }, 'idempotencyKey'],
      [{ idempotencyKey: 'k'.repeat(201) }, 'idempotencyKey'],
    ];
    for (const [options, field] of cases) {
      const { errors } = await server.gql(SUBMIT_PI, { input: { simulations: 1000, ...options } }, admin);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain(field);
    }
    const { errors } = await server.gql(SUBMIT, { jobs: [{ pi: { simulations: 1000 } }, { pi: { simulations: 1000, delayMs: 1, runAt: new Date().toISOString() } }] }, admin);
    expect(errors?.[0]?.message).toMatch(/^jobs\[1\]: /);
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 1 });
  });
});

describe('idempotency keys', () => {
  const paused = async (name: string) => {
    await data('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name } });
    await data(`mutation { pauseQueue(name: "${name}") { paused } }`);
  };

  test('the same key returns the first job and creates nothing; another owner has keys of their own', async () => {
    await paused('idem');
    const input = { simulations: 1000, queue: 'idem', idempotencyKey: 'order-1' };
    const first = (await data(SUBMIT_PI, { input }, user.token)).submitPiJob;
    const before = await jobCount();
    const again = (await data(SUBMIT_PI, { input: { ...input, simulations: 2000 } }, user.token)).submitPiJob;
    expect(again.id).toBe(first.id);
    expect(again.idempotencyKey).toBe('order-1');
    expect(await jobCount()).toBe(before);
    const theirs = (await data(SUBMIT_PI, { input })).submitPiJob;
    expect(theirs.id).not.toBe(first.id);
  });

  test('a retried 10,000-item bulk call returns the same ids in the same order and adds no job', async () => {
    await paused('idem-bulk');
    const ids = 'mutation($jobs: [JobSubmission!]!, $options: SubmitJobsOptions) { submitJobs(jobs: $jobs, options: $options) { id } }';
    const jobs = Array.from({ length: 10_000 }, (_, i) => ({ pi: { simulations: 1000, idempotencyKey: `bulk-${i}` } }));
    const first = (await data(ids, { jobs, options: { queue: 'idem-bulk' } })).submitJobs.map((j: any) => j.id);
    const before = await jobCount();
    const again = (await data(ids, { jobs, options: { queue: 'idem-bulk' } })).submitJobs.map((j: any) => j.id);
    expect(again).toEqual(first);
    expect(await jobCount()).toBe(before);
    // Old keys and new ones: the old ones keep their jobs, the new ones make jobs.
    const mixed = jobs.slice(9000).concat(Array.from({ length: 10 }, (_, i) => ({ pi: { simulations: 1000, idempotencyKey: `new-${i}` } })));
    const third = (await data(ids, { jobs: mixed, options: { queue: 'idem-bulk' } })).submitJobs.map((j: any) => j.id);
    expect(third.slice(0, 1000)).toEqual(first.slice(9000));
    expect(await jobCount()).toBe(before + 10);
  }, 60_000);

  test('a key repeated within one call names one job', async () => {
    await paused('idem-dup');
    const jobs = [{ pi: { simulations: 1000, idempotencyKey: 'twice' } }, { pi: { simulations: 1000 } }, { pi: { simulations: 1000, idempotencyKey: 'twice' } }];
    const ids = (await data(SUBMIT, { jobs, options: { queue: 'idem-dup' } })).submitJobs.map((j: any) => j.id);
    expect(ids[2]).toBe(ids[0]);
    expect(ids[1]).not.toBe(ids[0]);
    expect((await data('{ queue(name: "idem-dup") { waiting } }')).queue.waiting).toBe(2);
  });

  test('50 parallel submissions of one key make one job', async () => {
    await paused('idem-race');
    const input = { simulations: 1000, queue: 'idem-race', idempotencyKey: 'race' };
    const answers = await Promise.all(Array.from({ length: 50 }, () => data(SUBMIT_PI, { input })));
    expect(new Set(answers.map((answer) => answer.submitPiJob.id)).size).toBe(1);
    expect((await data('{ queue(name: "idem-race") { waiting } }')).queue.waiting).toBe(1);
  });

  test('a key is forgotten after IDEMPOTENCY_TTL_SECONDS, and when its job is deleted', async () => {
    await paused('idem-ttl');
    const input = { simulations: 1000, queue: 'idem-ttl', idempotencyKey: 'ttl' };
    const first = (await data(SUBMIT_PI, { input })).submitPiJob;
    clock.advance(61_000);
    const second = (await data(SUBMIT_PI, { input })).submitPiJob;
    expect(second.id).not.toBe(first.id);
    await data(`mutation { deleteJob(id: "${second.id}") }`);
    const third = (await data(SUBMIT_PI, { input })).submitPiJob;
    expect(third.id).not.toBe(second.id);
    expect((await data(SUBMIT_PI, { input })).submitPiJob.id).toBe(third.id);
  });
});
