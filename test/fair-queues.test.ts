// FAIR queues through the GraphQL endpoint (issue 28): owners take turns, ownerConcurrency, Queue.owners, and the
// settings' bad input. Start order is read from the `started` events (claim order), never from timings.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { gqlData, startTestServer, type TestServer, until } from './helpers/server';

const SUBMIT = 'mutation($jobs: [JobSubmission!]!, $queue: String!) { submitJobs(jobs: $jobs, options: { queue: $queue }) { id } }';
const CREATE = 'mutation($input: CreateQueueInput!) { createQueue(input: $input) { name order ownerConcurrency } }';
const UPDATE = 'mutation($name: String!, $input: UpdateQueueInput!) { updateQueue(name: $name, input: $input) { order ownerConcurrency } }';

let server: TestServer;
let admin: string;
let alice: { id: string; token: string; username: string };
let bob: { id: string; token: string; username: string };
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
  alice = await server.userWithRole('USER', 'fair-alice');
  bob = await server.userWithRole('USER', 'fair-bob');
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);
const pi = (n: number) => Array.from({ length: n }, () => ({ pi: { simulations: 1000 } }));
const submit = async (queue: string, n: number, token: string): Promise<number[]> =>
  (await data(SUBMIT, { jobs: pi(n), queue }, token)).submitJobs.map((job: { id: string }) => Number(job.id));

/** A paused queue with alice's backlog of `backlog` jobs, then bob's one job; resumed; the ids in the order they started. */
async function startOrder(name: string, order: 'FIFO' | 'FAIR', backlog: number): Promise<{ started: number[]; bobs: number }> {
  await data(CREATE, { input: { name, order, concurrency: 1 } });
  await data(`mutation { pauseQueue(name: "${name}") { paused } }`);
  await submit(name, backlog, alice.token);
  const [bobs] = await submit(name, 1, bob.token);
  await data(`mutation { resumeQueue(name: "${name}") { paused } }`);
  const succeeded = async () => (await data(`{ queue(name: "${name}") { counts { succeeded } } }`)).queue.counts.succeeded as number;
  await until(async () => (await succeeded()) === backlog + 1, `${name} drained`, 30_000);
  const rows = await server.sql<{ job_id: number }>(
    `SELECT e.job_id FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.type = 'started' AND j.queue = $1 ORDER BY e.id`,
    name,
  );
  return { started: rows.map((row) => Number(row.job_id)), bobs: bobs! };
}

describe('order: FAIR', () => {
  test("bob's one job starts right after the first of alice's backlog, where FIFO runs it last", async () => {
    const fair = await startOrder('fair-turns', 'FAIR', 8);
    expect(fair.started).toHaveLength(9);
    expect(fair.started.indexOf(fair.bobs)).toBe(1);
    const fifo = await startOrder('fifo-turns', 'FIFO', 8);
    expect(fifo.started.indexOf(fifo.bobs)).toBe(8);
  }, 60_000);

  test('settings: FIFO by default; order and ownerConcurrency set, read, changed and lifted', async () => {
    expect((await data(CREATE, { input: { name: 'plain' } })).createQueue).toEqual({ name: 'plain', order: 'FIFO', ownerConcurrency: null });
    expect((await data(CREATE, { input: { name: 'shared', order: 'FAIR', ownerConcurrency: 2 } })).createQueue).toEqual({
      name: 'shared',
      order: 'FAIR',
      ownerConcurrency: 2,
    });
    expect((await data(UPDATE, { name: 'shared', input: { concurrency: 4 } })).updateQueue).toEqual({ order: 'FAIR', ownerConcurrency: 2 });
    expect((await data(UPDATE, { name: 'shared', input: { ownerConcurrency: null, order: 'FIFO' } })).updateQueue).toEqual({ order: 'FIFO', ownerConcurrency: null });
    const listed = (await data('{ queues { name order ownerConcurrency } }', {}, alice.token)).queues;
    expect(listed.find((queue: { name: string }) => queue.name === 'default')).toEqual({ name: 'default', order: 'FIFO', ownerConcurrency: null });
  });

  test('bad settings are BAD_USER_INPUT with a message that says what is allowed; users may not set them', async () => {
    for (const ownerConcurrency of [0, 1025]) {
      const refused = await server.gql(CREATE, { input: { name: `bad-${ownerConcurrency}`, ownerConcurrency } }, admin);
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(refused.errors?.[0]?.message).toContain('ownerConcurrency must be an integer from 1 to 1024');
    }
    const badOrder = await server.gql(CREATE, { input: { name: 'bad-order', order: 'RANDOM' } }, admin);
    expect(badOrder.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const notAdmin = await server.gql(UPDATE, { name: 'default', input: { order: 'FAIR' } }, alice.token);
    expect(notAdmin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  test('ownerConcurrency: never more of one owner running than the limit', async () => {
    await data(CREATE, { input: { name: 'capped', order: 'FAIR', ownerConcurrency: 1, concurrency: 4 } });
    await data('mutation { pauseQueue(name: "capped") { paused } }');
    await submit('capped', 6, alice.token);
    await data('mutation { resumeQueue(name: "capped") { paused } }');
    // While alice's jobs run, sample her running count: the cap holds at every sample.
    const seen: number[] = [];
    await until(async () => {
      const [owner] = (await data('{ queue(name: "capped") { owners { running waiting } } }')).queue.owners;
      seen.push(owner ? owner.running : 0);
      return !owner;
    }, 'capped drained', 30_000);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1);
    expect((await data('{ queue(name: "capped") { counts { succeeded } } }')).queue.counts.succeeded).toBe(6);
    // And exactly: each of her jobs started only once the one before had finished. By the event log's ids, not the
    // jobs' times: a settle's `succeeded` row is written before it commits, and the next claim, which could take the
    // job only after that commit, writes its `started` row later still; the times are each statement's clock read,
    // taken before it reached the database (on PostgreSQL, one 2 ms before the other's while it ran after it).
    const events = await server.sql<{ job_id: number; type: string; id: number }>(
      `SELECT e.job_id, e.type, e.id FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.queue = 'capped' AND e.type IN ('started', 'succeeded') ORDER BY e.id`,
    );
    const runs = new Map<number, { started: number; succeeded: number }>();
    for (const { job_id, type, id } of events) runs.set(Number(job_id), { ...runs.get(Number(job_id))!, [type]: Number(id) });
    const inOrder = [...runs.values()].sort((a, b) => a.started - b.started);
    expect(inOrder).toHaveLength(6);
    for (let i = 1; i < inOrder.length; i++) expect(inOrder[i]!.started).toBeGreaterThan(inOrder[i - 1]!.succeeded);
  }, 60_000);
});

describe('Queue.owners', () => {
  test('waiting and running by owner: every owner for an admin, only their own for a user', async () => {
    await data(CREATE, { input: { name: 'counted', order: 'FAIR' } });
    await data('mutation { pauseQueue(name: "counted") { paused } }');
    await submit('counted', 3, alice.token);
    await submit('counted', 1, bob.token);
    const query = '{ queue(name: "counted") { owners { ownerId username waiting running } } }';
    expect((await data(query)).queue.owners).toEqual([
      { ownerId: alice.id, username: 'fair-alice', waiting: 3, running: 0 },
      { ownerId: bob.id, username: 'fair-bob', waiting: 1, running: 0 },
    ]);
    expect((await data(query, {}, bob.token)).queue.owners).toEqual([{ ownerId: bob.id, username: 'fair-bob', waiting: 1, running: 0 }]);
    expect((await data('{ queue(name: "counted") { owners(first: 1) { username } } }')).queue.owners).toEqual([{ username: 'fair-alice' }]);
    const refused = await server.gql('{ queue(name: "counted") { owners(first: 0) { username } } }', {}, admin);
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
