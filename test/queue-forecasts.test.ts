import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, subscribe, type TestServer } from './helpers/server';

// runQueueForecasts: the source's /financials/api/calc, run through the job engine and the worker pool.
let server: TestServer;
let admin: string;
let manager: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
  manager = (await server.userWithRole('MANAGER')).token;
});
afterAll(() => server.stop());

const RUN = `mutation($queue: String!) { runQueueForecasts(queue: $queue) {
  queue remaining
  jobs { id kind status events { type } result { ... on Forecast { seed meanForecast forecasts { asset value } } } }
} }`;

async function pausedQueue(name: string) {
  await server.gql('mutation($name: String!) { createQueue(input: { name: $name }) { name } }', { name }, admin);
  await server.gql('mutation($name: String!) { pauseQueue(name: $name) { paused } }', { name }, admin);
}

async function submitForecast(queue: string, assets: number[], seed: number, token = manager): Promise<string> {
  const result = await server.gql(
    'mutation($input: ForecastJobInput!) { submitForecastJob(input: $input) { id } }',
    { input: { assets, seed, queue } },
    token,
  );
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.submitForecastJob.id;
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

describe("running a queue's financial calculations", () => {
  test("runs every queued FORECAST job of a paused queue through the engine and answers with all results and each job's mean", async () => {
    await pausedQueue('finance');
    const user = await server.userWithRole('USER');
    const ids = [await submitForecast('finance', [1, 2, 3], 11), await submitForecast('finance', [42], 12, user.token), await submitForecast('finance', [7, 99], 13)];
    const pi = (await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "finance" }) { id } }', {}, manager)).data!.submitPiJob.id;
    const completed = subscribe(server.wsClient(admin), 'subscription { jobCompleted(queue: "finance") { id status } }');
    await server.nextSubscriptions('jobCompleted');

    const run = await server.gql(RUN, { queue: 'finance' }, manager);
    expect(run.errors).toBeUndefined();
    const { jobs, remaining, queue } = run.data!.runQueueForecasts;
    expect({ queue, remaining }).toEqual({ queue: 'finance', remaining: 0 });
    expect(jobs.map((job: any) => [job.id, job.kind, job.status])).toEqual(ids.map((id) => [id, 'FORECAST', 'SUCCEEDED']));
    for (const job of jobs) {
      expect(job.events.map((event: any) => event.type)).toEqual(['queued', 'started', 'succeeded']);
      expect(job.result.meanForecast).toBeCloseTo(mean(job.result.forecasts.map((forecast: any) => forecast.value)), 12);
    }
    // The same numbers as the forecast query (one kernel), and the jobs' completions reach subscribers as any job's do.
    const direct = await server.gql('{ forecast(assets: [7, 99], seed: 13) { meanForecast forecasts { value } } }', {}, manager);
    expect(jobs[2].result.meanForecast).toBe(direct.data?.forecast.meanForecast);
    await completed.waitFor(3);
    expect(completed.events.map((event) => event.data?.jobCompleted.id).sort()).toEqual([...ids].sort());

    // Other kinds stay queued, and the queue stays paused.
    const after = await server.gql('query($id: ID!) { job(id: $id) { status } queue(name: "finance") { paused waiting } }', { id: pi }, manager);
    expect(after.data).toEqual({ job: { status: 'QUEUED' }, queue: { paused: true, waiting: 1 } });
  });

  test('a queue without queued forecasts answers an empty run; an unknown queue is NOT_FOUND', async () => {
    await pausedQueue('quiet');
    await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "quiet" }) { id } }', {}, manager);
    const empty = await server.gql(RUN, { queue: 'quiet' }, admin);
    expect(empty.data?.runQueueForecasts).toEqual({ queue: 'quiet', remaining: 0, jobs: [] });
    const unknown = await server.gql(RUN, { queue: 'nowhere' }, admin);
    expect(unknown.errors?.[0]).toMatchObject({ message: 'no queue named "nowhere"', extensions: { code: 'NOT_FOUND' } });
  });

  test('one run takes at most 1,000 jobs, oldest first; the rest are counted as remaining', async () => {
    await pausedQueue('bulk');
    const jobs = Array.from({ length: 1001 }, (_, i) => ({ forecast: { assets: [1 + (i % 100)], seed: i } }));
    const submitted = await server.gql('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "bulk" }) { id } }', { jobs }, manager);
    expect(submitted.errors).toBeUndefined();
    const first = await server.gql('mutation { runQueueForecasts(queue: "bulk") { remaining jobs { id status } } }', {}, manager);
    const run = first.data!.runQueueForecasts;
    expect(run.remaining).toBe(1);
    expect(run.jobs).toHaveLength(1000);
    expect(run.jobs.every((job: any) => job.status === 'SUCCEEDED')).toBe(true);
    expect(run.jobs[0].id).toBe(submitted.data!.submitJobs[0].id);
    const second = await server.gql('mutation { runQueueForecasts(queue: "bulk") { remaining jobs { id } } }', {}, manager);
    expect(second.data?.runQueueForecasts).toEqual({ remaining: 0, jobs: [{ id: submitted.data!.submitJobs[1000].id }] });
  });
});

describe('the job-level mean forecast', () => {
  test('Forecast.meanForecast is the mean of the forecasts, on the forecast query too', async () => {
    const result = await server.gql('{ forecast(assets: [3, 14, 15], seed: 92) { meanForecast forecasts { value } } }', {}, manager);
    const { meanForecast, forecasts } = result.data!.forecast;
    expect(meanForecast).toBeCloseTo(mean(forecasts.map((forecast: any) => forecast.value)), 12);
  });
});
