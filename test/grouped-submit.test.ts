// submitPiJob and submitForecastJob share one transaction with the single submissions of the same event-loop turn
// (JobsService.submitGrouped): each answer still stands for a committed job, and one job's refusal is its own.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const SUBMIT_PI = 'mutation($queue: String!) { submitPiJob(input: { simulations: 1000, queue: $queue }) { id status queue } }';

async function pausedQueue(name: string, maxLength: number) {
  const created = await server.gql('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name, maxLength } }, admin);
  expect(created.errors).toBeUndefined();
  expect((await server.gql('mutation($name: String!) { pauseQueue(name: $name) { paused } }', { name }, admin)).data?.pauseQueue?.paused).toBe(true);
}

/** The rows the database holds for a queue, read from the database itself (SQLite file or PostgreSQL). */
async function rowsIn(queue: string): Promise<number> {
  const [row] = await server.sql<{ n: number }>('SELECT COUNT(*) AS n FROM jobs WHERE queue = $1', queue);
  return Number(row!.n);
}

describe('single submissions arriving together', () => {
  test('each answer is a committed job, with its own id', async () => {
    await pausedQueue('together', 1000);
    const { token } = await server.userWithRole('USER');
    const results = await Promise.all(Array.from({ length: 40 }, () => server.gql(SUBMIT_PI, { queue: 'together' }, token)));
    const ids = results.map((result) => {
      expect(result.errors).toBeUndefined();
      expect(result.data?.submitPiJob).toMatchObject({ status: 'QUEUED', queue: 'together' });
      return result.data?.submitPiJob.id as string;
    });
    expect(new Set(ids).size).toBe(40);
    expect(await rowsIn('together')).toBe(40);
    const read = await server.gql('query($id: ID!) { job(id: $id) { id status } }', { id: ids[39] }, token);
    expect(read.data?.job).toEqual({ id: ids[39], status: 'QUEUED' });
  });

  test('a queue that fills up refuses only the jobs past its length', async () => {
    await pausedQueue('nearly-full', 5);
    const { token } = await server.userWithRole('USER');
    const results = await Promise.all(Array.from({ length: 12 }, () => server.gql(SUBMIT_PI, { queue: 'nearly-full' }, token)));
    const accepted = results.filter((result) => result.data?.submitPiJob);
    const refused = results.filter((result) => result.errors);
    expect(accepted).toHaveLength(5);
    expect(refused).toHaveLength(7);
    for (const result of refused) expect(result.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await rowsIn('nearly-full')).toBe(5);
  });

  test('a bad input is refused at once and takes no other job with it', async () => {
    await pausedQueue('mixed', 100);
    const { token } = await server.userWithRole('USER');
    const bad = 'mutation($queue: String!) { submitPiJob(input: { simulations: -1, queue: $queue }) { id } }';
    const results = await Promise.all([SUBMIT_PI, bad, SUBMIT_PI, bad, SUBMIT_PI].map((query) => server.gql(query, { queue: 'mixed' }, token)));
    expect(results.map((result) => (result.data?.submitPiJob ? 'ok' : result.errors?.[0]?.extensions?.code))).toEqual([
      'ok',
      'BAD_USER_INPUT',
      'ok',
      'BAD_USER_INPUT',
      'ok',
    ]);
    expect(await rowsIn('mixed')).toBe(3);
  });
});
