// Flows through the real endpoint (HTTP, WebSocket, SSE), on SQLite or PostgreSQL (TEST_DATABASE_URL): a graph of
// jobs submitted in one mutation, each node released by the transaction that finishes its last parent.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { gqlData, readSseEvents, startTestServer, subscribe, type TestServer, until } from './helpers/server';

let server: TestServer;
let admin: string;
/** The long chain (below), run from the start on a server of its own while the other tests go on. */
let longChain: Promise<{ flow: any; started: number }>;
beforeAll(async () => {
  longChain = runLongChain();
  // Awaited by its test; a failure meanwhile is that test's, not an unhandled rejection.
  longChain.catch(() => {});
  server = await startTestServer({ JOB_LEASE_SECONDS: '5' });
  admin = await server.adminToken();
}, 60_000);
afterAll(() => server?.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);

const SUBMIT = 'mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id name status progress } }';
const FLOW = `query($id: ID!) { flow(id: $id) { id status progress finishedAt nodes { key dependsOn job { id status startedAt finishedAt } } } }`;
/** The smallest job there is: a π estimate of 100 samples. */
const tiny = (seed = 1) => ({ pi: { simulations: 100, seed } });
const node = (key: string, dependsOn: string[] = [], extra: Record<string, unknown> = {}) => ({ key, job: tiny(), dependsOn, ...extra });

async function submit(nodes: unknown[], extra: Record<string, unknown> = {}, token = admin) {
  return (await data(SUBMIT, { input: { nodes, ...extra } }, token)).submitFlow as { id: string; status: string };
}

async function finished(id: string, timeoutMs = 60_000, token = admin) {
  let flow: any;
  await until(async () => (flow = (await data(FLOW, { id }, token)).flow).status !== 'RUNNING', `flow ${id} to finish`, timeoutMs);
  return flow;
}

/** Every node started after each of its parents finished (the store's times: one clock). */
function expectParentsFirst(flow: any) {
  const byKey = new Map<string, any>(flow.nodes.map((n: any) => [n.key, n]));
  for (const n of flow.nodes) {
    for (const parent of n.dependsOn) expect(Date.parse(n.job.startedAt)).toBeGreaterThanOrEqual(Date.parse(byKey.get(parent).job.finishedAt));
  }
}

/**
 * A chain of 1,000 nodes on a server of its own: one node at a time, each waiting on its parent's commit, so it takes
 * long (~15 s on PostgreSQL) with little to do; run beside the other tests instead of after them.
 */
async function runLongChain() {
  const own = await startTestServer({ JOB_LEASE_SECONDS: '5' });
  try {
    const token = await own.adminToken();
    const chain = Array.from({ length: 1000 }, (_, i) => node(`n${i}`, i ? [`n${i - 1}`] : []));
    const { id } = (await gqlData(own, SUBMIT, { input: { nodes: chain } }, token)).submitFlow as { id: string };
    let flow: any;
    await until(async () => (flow = (await gqlData(own, FLOW, { id }, token)).flow).status !== 'RUNNING', `flow ${id} to finish`, 240_000);
    const started = await own.sql<{ n: number }>(
      `SELECT CAST(count(*) AS INTEGER) AS n FROM job_events e JOIN flow_nodes f ON f.job_id = e.job_id WHERE f.flow_id = $1 AND e.type = 'started'`,
      Number(id),
    );
    return { flow, started: started[0]!.n };
  } finally {
    await own.stop();
  }
}

async function pausedQueue(name: string) {
  await data('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name } });
  await data(`mutation { pauseQueue(name: "${name}") { paused } }`);
}

const jobTotal = async () => (await data('{ jobCounts { total } }')).jobCounts.total as number;

describe('submitFlow checks the graph, all or nothing', () => {
  for (const [what, nodes, key] of [
    ['a duplicate key', [node('a'), node('a')], 'a'],
    ['an unknown key', [node('a'), node('b', ['nope'])], 'b'],
    ['a cycle', [node('a'), node('b', ['a', 'd']), node('c', ['b']), node('d', ['c'])], null],
    ['a node depending on itself', [node('a', ['a'])], 'a'],
  ] as const) {
    test(`${what} is BAD_USER_INPUT naming the key; nothing is stored`, async () => {
      const before = await jobTotal();
      const result = await server.gql(SUBMIT, { input: { nodes } }, admin);
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      if (key) expect(result.errors![0]!.message).toContain(`"${key}"`);
      else expect(result.errors![0]!.message).toMatch(/"[bcd]" is on a cycle/);
      expect(await jobTotal()).toBe(before);
    });
  }

  test('a bad job input fails the whole flow, naming the node', async () => {
    const before = await jobTotal();
    const result = await server.gql(SUBMIT, { input: { nodes: [node('a'), { key: 'b', job: { pi: { simulations: 1 } }, dependsOn: ['a'] }] } }, admin);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 1 });
    expect(await jobTotal()).toBe(before);
  });
});

describe('running a flow', () => {
  test('a diamond runs each node after its parents; the flow SUCCEEDS; Job.flow and Job.parents', async () => {
    const flow = await submit([node('a'), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c'])], { name: 'diamond' });
    expect(flow).toMatchObject({ name: 'diamond', status: 'RUNNING' });
    const done = await finished(flow.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', progress: 1 });
    expect(done.finishedAt).not.toBeNull();
    expect(done.nodes.map((n: any) => [n.key, n.dependsOn, n.job.status])).toEqual([
      ['a', [], 'SUCCEEDED'],
      ['b', ['a'], 'SUCCEEDED'],
      ['c', ['a'], 'SUCCEEDED'],
      ['d', ['b', 'c'], 'SUCCEEDED'],
    ]);
    expectParentsFirst(done);
    const d = done.nodes[3].job.id;
    const job = (await data('query($id: ID!) { job(id: $id) { flow { id } parents { id } events { type } } }', { id: d })).job;
    expect(job.flow.id).toBe(flow.id);
    expect(job.parents.map((p: any) => p.id)).toEqual([done.nodes[1].job.id, done.nodes[2].job.id]);
    expect(job.events.map((e: any) => e.type)).toEqual(['queued', 'released', 'started', 'succeeded']);
    const lone = (await data('mutation { submitPiJob(input: { simulations: 100 }) { id flow { id } parents { id } } }')).submitPiJob;
    expect(lone).toMatchObject({ flow: null, parents: [] });
  });

  test('wide fan-in: one child of 1,000 parents runs once, after all of them', async () => {
    const parents = Array.from({ length: 1000 }, (_, i) => node(`p${i}`));
    const flow = await submit([...parents, node('child', parents.map((p) => p.key))]);
    const done = await finished(flow.id, 120_000);
    expect(done.status).toBe('SUCCEEDED');
    expectParentsFirst(done);
    const child = done.nodes.at(-1).job.id;
    const events = (await data('query($id: ID!) { job(id: $id) { events { type } } }', { id: child })).job.events;
    expect(events.filter((e: any) => e.type === 'started')).toHaveLength(1);
  }, 180_000);

  test('a long chain of 1,000 runs in order, each node once', async () => {
    const { flow, started } = await longChain;
    expect(flow.status).toBe('SUCCEEDED');
    expectParentsFirst(flow);
    expect(started).toBe(1000);
  }, 300_000);

  test('a parent that fails or is cancelled: CANCEL children are cancelled, RUN children run with null for it; the flow FAILS', async () => {
    await pausedQueue('flow-policies');
    const flow = await submit(
      [node('a'), node('cancelled', ['a']), node('runs', ['a'], { onParentFailure: 'RUN' }), node('after-cancelled', ['cancelled'], { onParentFailure: 'RUN' })],
      { options: { queue: 'flow-policies' } },
    );
    const nodes = (await data(FLOW, { id: flow.id })).flow.nodes;
    expect(nodes.map((n: any) => n.job.status)).toEqual(['QUEUED', 'WAITING', 'WAITING', 'WAITING']);
    await data('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id: nodes[0].job.id });
    const after = (await data(FLOW, { id: flow.id })).flow.nodes.map((n: any) => [n.key, n.job.status]);
    // `after-cancelled` has policy RUN: its parent's cancellation releases it.
    expect(after).toEqual([
      ['a', 'CANCELLED'],
      ['cancelled', 'CANCELLED'],
      ['runs', 'QUEUED'],
      ['after-cancelled', 'QUEUED'],
    ]);
    await data('mutation { resumeQueue(name: "flow-policies") { paused } }');
    const done = await finished(flow.id);
    expect(done.status).toBe('FAILED');
    expect(done.nodes.map((n: any) => n.job.status)).toEqual(['CANCELLED', 'CANCELLED', 'SUCCEEDED', 'SUCCEEDED']);
  });

  test('cancelFlow stops what has not finished, the running node included; a finished flow is a CONFLICT', async () => {
    const flow = await submit([{ key: 'slow', job: { pi: { simulations: 100_000_000, concurrency: 1 } } }, node('next', ['slow'])]);
    await until(async () => (await data(FLOW, { id: flow.id })).flow.nodes[0].job.status === 'RUNNING', 'the slow node to run', 30_000);
    const cancelled = (await data('mutation($id: ID!) { cancelFlow(id: $id) { status finishedAt nodes { job { status } } } }', { id: flow.id })).cancelFlow;
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.finishedAt).not.toBeNull();
    expect(cancelled.nodes.map((n: any) => n.job.status)).toEqual(['CANCELLED', 'CANCELLED']);
    const again = await server.gql('mutation($id: ID!) { cancelFlow(id: $id) { status } }', { id: flow.id }, admin);
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    // A node of a flow is not retried alone (the flow's end was counted once).
    const retried = await server.gql('mutation($id: ID!) { retryJob(id: $id) { id } }', { id: cancelled.nodes ? (await data(FLOW, { id: flow.id })).flow.nodes[0].job.id : '' }, admin);
    expect(retried.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  }, 60_000);
});

describe('who sees a flow', () => {
  test('a USER sees, lists, follows and cancels only their own flows', async () => {
    const alice = await server.userWithRole('USER');
    const bob = await server.userWithRole('USER');
    await pausedQueue('flow-users');
    const mine = await submit([node('a'), node('b', ['a'])], { options: { queue: 'flow-users' } }, alice.token);
    expect((await data('query($id: ID!) { flow(id: $id) { id } }', { id: mine.id }, alice.token)).flow.id).toBe(mine.id);
    expect((await data('query($id: ID!) { flow(id: $id) { id } }', { id: mine.id }, bob.token)).flow).toBeNull();
    const list = (token: string) => data('{ flows(first: 50) { edges { node { id } } } }', {}, token);
    expect((await list(alice.token)).flows.edges.map((e: any) => e.node.id)).toEqual([mine.id]);
    expect((await list(bob.token)).flows.edges).toEqual([]);
    expect((await list(admin)).flows.edges.map((e: any) => e.node.id)).toContain(mine.id);
    const refused = await server.gql('mutation($id: ID!) { cancelFlow(id: $id) { id } }', { id: mine.id }, bob.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const watching = subscribe(server.wsClient(bob.token), 'subscription($id: ID!) { flowUpdated(id: $id) { id } }', { id: mine.id });
    await watching.waitFor(1);
    expect(watching.events[0]?.errors?.[0]?.extensions?.code ?? (watching.error as any)?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await data('mutation($id: ID!) { cancelFlow(id: $id) { status } }', { id: mine.id }, alice.token)).cancelFlow.status).toBe('CANCELLED');
  });
});

describe('flowUpdated', () => {
  const FOLLOW = 'subscription($id: ID!) { flowUpdated(id: $id) { status progress } }';

  test('over WebSocket: the flow now, a frame per node change, and the end', async () => {
    await pausedQueue('flow-live-ws');
    // A chain of nodes that take a while: each frame reads the flow as it is then, so a flow that ended before its
    // reader caught up (tiny nodes on a fast store; or two last nodes settled in one batch) ends the stream early,
    // with fewer frames. In a chain only the last node's success ends it.
    const slow = (key: string, dependsOn: string[] = []) => ({ key, job: { diagnostic: { behavior: 'SLEEP', durationMs: 150 } }, dependsOn });
    const flow = await submit([slow('a'), slow('b', ['a']), slow('c', ['b'])], { options: { queue: 'flow-live-ws' } });
    const listening = server.nextSubscriptions('jobUpdated', 3);
    const live = subscribe(server.wsClient(admin), FOLLOW, { id: flow.id });
    await live.waitFor(1);
    await listening;
    await data('mutation { resumeQueue(name: "flow-live-ws") { paused } }');
    await until(() => live.completed, 'the subscription to complete', 30_000);
    const frames = live.events.map((event) => event.data!.flowUpdated);
    expect(frames[0]).toEqual({ status: 'RUNNING', progress: 0 });
    expect(frames.at(-1)).toEqual({ status: 'SUCCEEDED', progress: 1 });
    // Each node at least starts and succeeds (b and c are released too): one frame each, after the first.
    expect(frames.length).toBeGreaterThanOrEqual(1 + 3 * 2);
  }, 60_000);

  test('over SSE, ending when the flow finishes', async () => {
    await pausedQueue('flow-live-sse');
    const flow = await submit([node('a'), node('b', ['a'])], { options: { queue: 'flow-live-sse' } });
    const listening = server.nextSubscriptions('jobUpdated', 2);
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: FOLLOW, variables: { id: flow.id } }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const first = readSseEvents(response, 1);
    expect((await first)[0].data.flowUpdated.status).toBe('RUNNING');
    await listening;
    await data('mutation { resumeQueue(name: "flow-live-sse") { paused } }');
    await finished(flow.id);
  }, 60_000);
});
