// The wave-3 fields (flows, event cursors, bulk actions, schedules, queue owners, console additions) by role, through
// the real endpoint: a SECRETARY changes nothing, a USER sees and acts on nothing of another user's, and every new
// list or string argument is bounded with a BAD_USER_INPUT naming the field. On SQLite or PostgreSQL (TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { gqlData, startTestServer, subscribe, type TestServer, until } from './helpers/server';

type Account = { id: string; token: string; username: string };
let server: TestServer;
let admin: string;
let secretary: Account;
let alice: Account;
let bob: Account;
let manager: Account;
/** Alice's flow of two nodes, and her plain job, both waiting in a paused queue. */
let aliceFlow: { id: string; jobIds: string[] };
let aliceJob: string;

const tiny = { pi: { simulations: 100, seed: 1 } };
const SUBMIT_FLOW = 'mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id nodes { job { id } } } }';

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
  [secretary, alice, bob, manager] = await Promise.all([
    server.userWithRole('SECRETARY'),
    server.userWithRole('USER'),
    server.userWithRole('USER'),
    server.userWithRole('MANAGER'),
  ]);
  await gqlData(server, 'mutation { createQueue(input: { name: "authz-held" }) { name } }', {}, admin);
  await gqlData(server, 'mutation { pauseQueue(name: "authz-held") { paused } }', {}, admin);
  const flow = (
    await gqlData(
      server,
      SUBMIT_FLOW,
      { input: { nodes: [{ key: 'a', job: tiny }, { key: 'b', job: tiny, dependsOn: ['a'] }], options: { queue: 'authz-held' } } },
      alice.token,
    )
  ).submitFlow;
  aliceFlow = { id: flow.id, jobIds: flow.nodes.map((n: any) => n.job.id) };
  aliceJob = (await gqlData(server, 'mutation { submitJobs(jobs: [{ pi: { simulations: 100 } }], options: { queue: "authz-held" }) { id } }', {}, alice.token)).submitJobs[0].id;
}, 60_000);
afterAll(() => server?.stop());

const codeOf = (result: { errors?: any[] }) => result.errors?.[0]?.extensions?.code;
const statusOf = async (id: string) => (await gqlData(server, 'query($id: ID!) { job(id: $id) { status } }', { id }, admin)).job.status as string;

describe('SECRETARY: no new mutation succeeds', () => {
  const mutations: [string, string, () => Record<string, unknown>][] = [
    ['submitFlow', SUBMIT_FLOW, () => ({ input: { nodes: [{ key: 'a', job: tiny }] } })],
    ['cancelFlow', 'mutation($id: ID!) { cancelFlow(id: $id) { status } }', () => ({ id: aliceFlow.id })],
    ['cancelJobs', 'mutation($ids: [ID!]) { cancelJobs(filter: { ids: $ids }) }', () => ({ ids: [aliceJob] })],
    ['retryJobs', 'mutation { retryJobs(filter: {}) }', () => ({})],
    ['deleteJobs', 'mutation { deleteJobs(filter: {}) }', () => ({})],
    ['createSchedule', 'mutation { createSchedule(input: { name: "sec", cron: "0 0 1 1 *", job: { pi: { simulations: 100 } } }) { name } }', () => ({})],
    ['pauseSchedule', 'mutation { pauseSchedule(name: "nope") { name } }', () => ({})],
    ['deleteSchedule', 'mutation { deleteSchedule(name: "nope") }', () => ({})],
    ['unlockUsername', 'mutation { unlockUsername(username: "someone") }', () => ({})],
  ];
  for (const [name, query, variables] of mutations) {
    test(`${name} is FORBIDDEN`, async () => {
      const result = await server.gql(query, variables(), secretary.token);
      expect(codeOf(result)).toBe('FORBIDDEN');
    });
  }

  test('nothing of alice’s changed', async () => {
    expect(await statusOf(aliceJob)).toBe('QUEUED');
    expect((await gqlData(server, 'query($id: ID!) { flow(id: $id) { status } }', { id: aliceFlow.id }, admin)).flow.status).toBe('RUNNING');
  });

  test('but reads flows, schedules, event pages and queue owners', async () => {
    const read = await server.gql(
      'query($id: ID!) { flow(id: $id) { id nodes { job { id } } } schedules { name } jobEvents(first: 5) { edges { node { type } } } queue(name: "authz-held") { owners { username } } }',
      { id: aliceFlow.id },
      secretary.token,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data?.flow.nodes).toHaveLength(2);
    expect(read.data?.queue.owners.map((o: any) => o.username)).toContain(alice.username);
  });
});

describe('USER: another user’s flows, jobs, events and schedules stay out of reach', () => {
  test('flow is null, flows does not list it, cancelFlow and flowUpdated are NOT_FOUND', async () => {
    const read = await server.gql('query($id: ID!) { flow(id: $id) { id } flows(first: 50) { edges { node { id } } } }', { id: aliceFlow.id }, bob.token);
    expect(read.errors).toBeUndefined();
    expect(read.data?.flow).toBeNull();
    expect(read.data?.flows.edges.map((e: any) => e.node.id)).not.toContain(aliceFlow.id);
    expect(codeOf(await server.gql('mutation($id: ID!) { cancelFlow(id: $id) { id } }', { id: aliceFlow.id }, bob.token))).toBe('NOT_FOUND');
    const followed = subscribe(server.wsClient(bob.token), 'subscription($id: ID!) { flowUpdated(id: $id) { id } }', { id: aliceFlow.id });
    await until(() => followed.error !== undefined || followed.events.length > 0, 'flowUpdated to answer');
    expect(followed.events.filter((e) => e.data)).toHaveLength(0);
  });

  test('the owner reads Job.flow and Job.parents of their own node', async () => {
    const read = await gqlData(server, 'query($id: ID!) { job(id: $id) { flow { id } parents { id } } }', { id: aliceFlow.jobIds[1] }, alice.token);
    expect(read.job).toEqual({ flow: { id: aliceFlow.id }, parents: [{ id: aliceFlow.jobIds[0] }] });
    // Bob cannot reach the node, nor through it its flow or parents.
    expect((await gqlData(server, 'query($id: ID!) { job(id: $id) { flow { id } parents { id } } }', { id: aliceFlow.jobIds[1] }, bob.token)).job).toBeNull();
  });

  test('jobEvents pages hold only the caller’s own jobs, whatever jobId is asked', async () => {
    const page = await gqlData(server, 'query($job: ID) { jobEvents(first: 100, jobId: $job) { edges { node { job { id } } } } }', { job: aliceJob }, bob.token);
    expect(page.jobEvents.edges).toHaveLength(0);
    const all = await gqlData(server, '{ jobEvents(first: 100) { edges { node { job { id owner { id } } } } } }', {}, bob.token);
    for (const edge of all.jobEvents.edges) expect(edge.node.job.owner.id).toBe(bob.id);
    const own = await gqlData(server, 'query($job: ID) { jobEvents(first: 100, jobId: $job) { edges { node { type } } } }', { job: aliceJob }, alice.token);
    expect(own.jobEvents.edges.length).toBeGreaterThan(0);
  });

  test('the jobEvents subscription delivers bob nothing of alice’s, and alice her own', async () => {
    const bobs = subscribe(server.wsClient(bob.token), 'subscription { jobEvents { job { id owner { id } } } }');
    const alices = subscribe(server.wsClient(alice.token), 'subscription { jobEvents { job { id } } }');
    const note = await gqlData(server, 'mutation { submitJobs(jobs: [{ pi: { simulations: 100 } }], options: { queue: "authz-held" }) { id } }', {}, alice.token);
    const fresh = note.submitJobs[0].id;
    const mine = (await gqlData(server, 'mutation { submitJobs(jobs: [{ pi: { simulations: 100 } }], options: { queue: "authz-held" }) { id } }', {}, bob.token)).submitJobs[0].id;
    await until(() => bobs.events.some((e) => e.data?.jobEvents.job.id === mine), 'bob to hear of his own job');
    await until(() => alices.events.some((e) => e.data?.jobEvents.job.id === fresh), 'alice to hear of hers');
    for (const event of bobs.events) expect(event.data?.jobEvents.job.owner.id).toBe(bob.id);
    bobs.unsubscribe();
    alices.unsubscribe();
  });

  test('bulk actions with alice’s ids or owner take nothing of hers', async () => {
    const byIds = await gqlData(server, 'mutation($ids: [ID!]) { cancelJobs(filter: { ids: $ids }) }', { ids: [aliceJob, ...aliceFlow.jobIds] }, bob.token);
    expect(byIds.cancelJobs).toBe(0);
    const byOwner = await gqlData(server, 'mutation($owner: ID) { cancelJobs(filter: { ownerId: $owner, queue: "authz-held" }) }', { owner: alice.id }, bob.token);
    expect(byOwner.cancelJobs).toBeGreaterThanOrEqual(0);
    expect(await statusOf(aliceJob)).toBe('QUEUED');
    const del = await gqlData(server, 'mutation($ids: [ID!]) { deleteJobs(filter: { ids: $ids }) }', { ids: [aliceJob] }, bob.token);
    expect(del.deleteJobs).toBe(0);
    expect(await statusOf(aliceJob)).toBe('QUEUED');
  });

  test('Queue.owners lists only the caller', async () => {
    const owners = (await gqlData(server, '{ queue(name: "authz-held") { owners { ownerId username } } }', {}, bob.token)).queue.owners;
    expect(owners.map((o: any) => o.ownerId).filter((id: string) => id !== bob.id)).toEqual([]);
  });

  test('schedules, loginHistory and unlockUsername are refused', async () => {
    for (const query of ['{ schedules { name } }', '{ schedule(name: "x") { name } }', '{ loginHistory(first: 5) { edges { node { username } } } }']) {
      expect(codeOf(await server.gql(query, {}, bob.token))).toBe('FORBIDDEN');
    }
    expect(codeOf(await server.gql('mutation { createSchedule(input: { name: "u", cron: "0 0 1 1 *", job: { pi: { simulations: 100 } } }) { name } }', {}, bob.token))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql('mutation { unlockUsername(username: "x") }', {}, bob.token))).toBe('FORBIDDEN');
  });

  test('a schedule’s runs, read by a manager, are every owner’s; the schedule itself is hidden from users', async () => {
    const created = await server.gql('mutation { createSchedule(input: { name: "authz-sched", cron: "0 0 1 1 *", job: { pi: { simulations: 100 } } }) { name runs(first: 5) { totalCount } } }', {}, manager.token);
    expect(created.errors).toBeUndefined();
    expect(created.data?.createSchedule.runs.totalCount).toBe(0);
  });
});

describe('bounds: a clear BAD_USER_INPUT naming the field', () => {
  const fieldOf = (result: { errors?: any[] }) => result.errors?.[0]?.extensions?.field;

  test('JobFilter.ids above 10,000', async () => {
    const ids = Array.from({ length: 10_001 }, (_, i) => String(i + 1));
    const result = await server.gql('mutation($ids: [ID!]) { cancelJobs(filter: { ids: $ids }) }', { ids }, alice.token);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(fieldOf(result)).toBe('ids');
  });

  test('JobFilter.queue longer than a queue name', async () => {
    const result = await server.gql('mutation($queue: String) { cancelJobs(filter: { queue: $queue }) }', { queue: 'q'.repeat(10_000) }, alice.token);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(fieldOf(result)).toBe('queue');
    const listed = await server.gql('query($queue: String) { jobs(first: 1, queue: $queue) { totalCount } }', { queue: 'q'.repeat(10_000) }, alice.token);
    expect(codeOf(listed)).toBe('BAD_USER_INPUT');
    expect(fieldOf(listed)).toBe('queue');
  });

  test('jobs(search:) longer than 200 characters', async () => {
    const result = await server.gql('query($s: String) { jobs(first: 5, search: $s) { edges { node { id } } } }', { s: 'x'.repeat(201) }, alice.token);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(fieldOf(result)).toBe('search');
  });

  test('a flow node’s dependsOn naming a huge unknown key is refused without echoing it whole', async () => {
    const key = 'k'.repeat(100_000);
    const result = await server.gql(SUBMIT_FLOW, { input: { nodes: [{ key: 'a', job: tiny, dependsOn: [key] }] } }, alice.token);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.errors![0]!.message.length).toBeLessThan(1000);
    expect(result.errors![0]!.message).toContain('depends on unknown key');
  });

  test('Schedule.runs pages as every other list: first above the page size is refused, not cut short', async () => {
    await gqlData(server, 'mutation { createSchedule(input: { name: "authz-pages", cron: "0 0 1 1 *", job: { pi: { simulations: 100 } } }) { name } }', {}, manager.token);
    const result = await server.gql('{ schedule(name: "authz-pages") { runs(first: 100000) { totalCount } } }', {}, manager.token);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(fieldOf(result)).toBe('first');
  });

  test('cron and timezone too long; idempotencyKey too long', async () => {
    const cron = await server.gql('mutation($c: String!) { createSchedule(input: { name: "b1", cron: $c, job: { pi: { simulations: 100 } } }) { name } }', { c: '*'.repeat(201) }, manager.token);
    expect(codeOf(cron)).toBe('BAD_USER_INPUT');
    const zone = await server.gql('mutation($z: String) { createSchedule(input: { name: "b2", cron: "0 0 1 1 *", timezone: $z, job: { pi: { simulations: 100 } } }) { name } }', { z: 'Z'.repeat(65) }, manager.token);
    expect(codeOf(zone)).toBe('BAD_USER_INPUT');
    const key = await server.gql('mutation($k: String) { submitJobs(jobs: [{ pi: { simulations: 100 } }], options: { idempotencyKey: $k }) { id } }', { k: 'k'.repeat(201) }, alice.token);
    expect(codeOf(key)).toBe('BAD_USER_INPUT');
  });
});

describe('bulk retry keeps to what the single retry allows', () => {
  test('retryJobs does not queue again a node of a cancelled flow (retryJob refuses it: its flow counted it once)', async () => {
    const flow = (await gqlData(server, SUBMIT_FLOW, { input: { nodes: [{ key: 'a', job: tiny }], options: { queue: 'authz-held' } } }, alice.token)).submitFlow;
    const nodeJob = flow.nodes[0].job.id as string;
    await gqlData(server, 'mutation($id: ID!) { cancelFlow(id: $id) { status } }', { id: flow.id }, alice.token);
    expect(await statusOf(nodeJob)).toBe('CANCELLED');
    expect(codeOf(await server.gql('mutation($id: ID!) { retryJob(id: $id) { id } }', { id: nodeJob }, alice.token))).toBe('CONFLICT');
    const retried = await gqlData(server, 'mutation($ids: [ID!]) { retryJobs(filter: { ids: $ids }) }', { ids: [nodeJob] }, alice.token);
    expect(retried.retryJobs).toBe(0);
    expect(await statusOf(nodeJob)).toBe('CANCELLED');
  });
});

describe('a schedule runs with its owner’s current rights', () => {
  test('once its manager is made SECRETARY, its ticks pass over and make no job in their name', async () => {
    const owner = await server.userWithRole('MANAGER');
    const RUNS = '{ schedule(name: "authz-demoted") { nextRunAt runs(first: 1) { totalCount } } }';
    await gqlData(server, 'mutation { createSchedule(input: { name: "authz-demoted", cron: "* * * * * *", job: { pi: { simulations: 100 } } }) { name } }', {}, owner.token);
    await until(async () => (await gqlData(server, RUNS, {}, admin)).schedule.runs.totalCount >= 1, 'a first run');
    await gqlData(server, 'mutation($id: ID!) { updateUser(id: $id, input: { role: SECRETARY }) { role } }', { id: owner.id }, admin);
    const demotedAt = Date.now();
    // A tick under way as the role changed may still make its job.
    const before = (await gqlData(server, RUNS, {}, admin)).schedule.runs.totalCount as number;
    // Ticks go on being taken (the schedule moves on) ...
    await until(async () => Date.parse((await gqlData(server, RUNS, {}, admin)).schedule.nextRunAt) > demotedAt + 3000, 'three more ticks taken');
    // ... but none made a job.
    expect((await gqlData(server, RUNS, {}, admin)).schedule.runs.totalCount).toBeLessThanOrEqual(before + 1);
    await gqlData(server, 'mutation { deleteSchedule(name: "authz-demoted") }', {}, admin);
  });
});
