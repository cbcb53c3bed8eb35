import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildSchema } from '../src/schema';
import { startTestServer, subscribe, type TestServer } from './helpers/server';

// SECRETARY, the source's third role: reads every job, queue and result; changes nothing but its own session.
let server: TestServer;
let admin: string;
let secretary: { id: string; token: string; username: string };
let user: { id: string; token: string; username: string };
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
  secretary = await server.userWithRole('SECRETARY');
  user = await server.userWithRole('USER');
});
afterAll(() => server.stop());

const WRITERS = ['USER', 'MANAGER', 'ADMIN'];

async function finishedPiJob(token: string) {
  const submitted = await server.gql('mutation { submitPiJob(input: { simulations: 1000, seed: 3 }) { id } }', {}, token);
  const id = submitted.data!.submitPiJob.id as string;
  for (let i = 0; i < 200; i++) {
    const { data } = await server.gql('query($id: ID!) { job(id: $id) { status } }', { id }, token);
    if (data?.job.status === 'SUCCEEDED') return id;
    await Bun.sleep(20);
  }
  throw new Error(`job ${id} did not finish`);
}

describe('SECRETARY reads everything', () => {
  test('an admin creates one, or makes an account one', async () => {
    const created = await server.gql('mutation { createUser(input: { username: "sec-made", password: "sec-made-password", role: SECRETARY }) { id role } }', {}, admin);
    expect(created.data?.createUser.role).toBe('SECRETARY');
    const other = await server.userWithRole('USER');
    const updated = await server.gql('mutation($id: ID!) { updateUser(id: $id, input: { role: SECRETARY }) { role } }', { id: other.id }, admin);
    expect(updated.data?.updateUser.role).toBe('SECRETARY');
    expect((await server.gql('{ me { role } }', {}, secretary.token)).data?.me.role).toBe('SECRETARY');
  });

  test("sees another user's job with its result and owner, every job in lists and counts, and the queues", async () => {
    const id = await finishedPiJob(user.token);
    const job = await server.gql(
      'query($id: ID!) { job(id: $id) { status owner { username } result { ... on PiEstimate { pi } } events { type } } }',
      { id },
      secretary.token,
    );
    expect(job.errors).toBeUndefined();
    expect(job.data?.job).toMatchObject({ status: 'SUCCEEDED', owner: { username: user.username } });
    expect(job.data?.job.result.pi).toBeGreaterThan(2);
    const list = await server.gql('query($owner: ID) { jobs(owner: $owner) { edges { node { id } } } }', { owner: user.id }, secretary.token);
    expect(list.data?.jobs.edges.map((edge: any) => edge.node.id)).toContain(id);
    const counts = await server.gql('{ jobCounts { succeeded } queues { name waiting counts { total } } }', {}, secretary.token);
    const adminCounts = await server.gql('{ jobCounts { succeeded } }', {}, admin);
    expect(counts.data?.jobCounts.succeeded).toBe(adminCounts.data?.jobCounts.succeeded);
    expect(counts.data?.queues.map((queue: any) => queue.name)).toContain('default');
  });

  test("receives every job's completion over WebSocket, like a manager, and follows another user's job", async () => {
    const completions = subscribe(server.wsClient(secretary.token), 'subscription { jobCompleted { id owner { username } } }');
    await server.nextSubscriptions('jobCompleted');
    const mine = await server.gql('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, user.token);
    const theirs = await server.gql('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, admin);
    const ids = [mine.data!.submitPiJob.id, theirs.data!.submitPiJob.id];
    await completions.waitFor(2);
    expect(completions.events.map((event) => event.data?.jobCompleted.id).sort()).toEqual(ids.sort());
    expect(completions.events.map((event) => event.data?.jobCompleted.owner.username).sort()).toEqual(['admin', user.username].sort());

    const id = await finishedPiJob(user.token);
    const updates = subscribe(server.wsClient(secretary.token), 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', { id });
    await updates.waitFor(1);
    expect(updates.events[0]).toEqual({ data: { jobUpdated: { status: 'SUCCEEDED' } } });
  });
});

describe('SECRETARY changes nothing', () => {
  test('every mutation but login, logout and changePassword is refused it by default (Mutation type rule)', () => {
    const skipping = Object.values(buildSchema().getMutationType()!.getFields())
      .filter((field) => (field.extensions as { pothosOptions?: { skipTypeScopes?: boolean } }).pothosOptions?.skipTypeScopes)
      .map((field) => field.name);
    expect(skipping.sort()).toEqual(['changePassword', 'login', 'logout']);
  });

  test('each kind of change is FORBIDDEN, naming the roles that may', async () => {
    const jobId = await finishedPiJob(user.token);
    const refusals: [string, string[], Record<string, unknown>?][] = [
      ['mutation { submitPiJob(input: { simulations: 1000 }) { id } }', WRITERS],
      ['mutation { submitForecastJob(input: { assets: [1] }) { id } }', WRITERS],
      ['mutation { submitCalcJob(input: { expressions: ["1 + 1"] }) { id } }', WRITERS],
      ['mutation { submitJobs(jobs: [{ pi: { simulations: 1000 } }]) { id } }', WRITERS],
      ['mutation($id: ID!) { cancelJob(id: $id) { id } }', WRITERS, { id: jobId }],
      ['mutation($id: ID!) { retryJob(id: $id) { id } }', WRITERS, { id: jobId }],
      ['mutation($id: ID!) { deleteJob(id: $id) }', WRITERS, { id: jobId }],
      ['mutation($id: ID!) { addJobNote(id: $id, note: "seen") { id } }', WRITERS, { id: jobId }],
      ['mutation { pullJob(queue: "default") { id } }', ['MANAGER', 'ADMIN']],
      ['mutation($id: ID!) { completeJob(id: $id, result: {}) { id } }', ['MANAGER', 'ADMIN'], { id: jobId }],
      ['mutation { runQueueForecasts(queue: "default") { remaining } }', ['MANAGER', 'ADMIN']],
      ['mutation { pauseQueue(name: "default") { paused } }', ['MANAGER', 'ADMIN']],
      ['mutation { createQueue(input: { name: "sec" }) { name } }', ['ADMIN']],
      ['mutation { createUser(input: { username: "nobody", password: "nobody-password", role: USER }) { id } }', ['ADMIN']],
      ['mutation { shutdown { draining } }', ['ADMIN']],
    ];
    for (const [query, roles, variables] of refusals) {
      const result = await server.gql(query, variables ?? {}, secretary.token);
      const named = roles.length === 1 ? roles[0] : `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}`;
      expect({ query, error: result.errors?.[0] }).toMatchObject({
        query,
        error: { message: `requires role ${named}`, extensions: { code: 'FORBIDDEN', requiredRoles: roles } },
      });
    }
    // Nothing changed: the job is as it was, with no note.
    const job = await server.gql('query($id: ID!) { job(id: $id) { status events { type } } }', { id: jobId }, admin);
    expect(job.data?.job.status).toBe('SUCCEEDED');
    expect(job.data?.job.events.map((event: any) => event.type)).not.toContain('note');
    expect((await server.gql('{ queue(name: "default") { paused } }', {}, admin)).data?.queue.paused).toBe(false);
  });

  test('the REST routes that submit jobs refuse it too (the jobs service checks the role)', async () => {
    const response = await fetch(new URL('/api/global_mean', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${secretary.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'Percent of adults aged 18 years and older who have obesity' }),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect((await response.json()) as object).toMatchObject({ status: 'error', reason: 'requires role USER, MANAGER or ADMIN' });
  });

  test('it changes its own password and logs out', async () => {
    const own = await server.userWithRole('SECRETARY');
    const changed = await server.gql(
      'mutation($old: String!) { changePassword(currentPassword: $old, newPassword: "a-new-secretary-password") }',
      { old: `${own.username}-password` },
      own.token,
    );
    expect(changed).toMatchObject({ data: { changePassword: true } });
    expect((await server.gql('mutation { logout }', {}, own.token)).data?.logout).toBe(true);
    expect((await server.gql('{ me { id } }', {}, own.token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('admin-only reads are refused it, naming ADMIN, over HTTP and WebSocket', async () => {
    const users = await server.gql('{ users { totalCount } }', {}, secretary.token);
    expect(users.errors?.[0]).toMatchObject({ message: 'requires role ADMIN', extensions: { code: 'FORBIDDEN', requiredRoles: ['ADMIN'] } });
    const events = subscribe(server.wsClient(secretary.token), 'subscription { loginEvents { username } }');
    await events.waitFor(1);
    const error = events.events[0]?.errors?.[0] ?? (events.error as any)?.[0];
    expect(error).toMatchObject({ message: 'requires role ADMIN', extensions: { code: 'FORBIDDEN', requiredRoles: ['ADMIN'] } });
  });
});

describe('refusals name the roles needed (issue 15)', () => {
  test('for users and managers, on queries, mutations and subscriptions; anonymous callers stay UNAUTHENTICATED', async () => {
    const manager = await server.userWithRole('MANAGER');
    const cases: [string, string, string, string[]][] = [
      [user.token, '{ loginStats { username } }', 'requires role ADMIN', ['ADMIN']],
      [user.token, 'mutation { pullJob(queue: "default") { id } }', 'requires role MANAGER or ADMIN', ['MANAGER', 'ADMIN']],
      [user.token, 'mutation { runQueueForecasts(queue: "default") { remaining } }', 'requires role MANAGER or ADMIN', ['MANAGER', 'ADMIN']],
      [manager.token, 'mutation { createQueue(input: { name: "mgr" }) { name } }', 'requires role ADMIN', ['ADMIN']],
      [manager.token, 'mutation { deleteUser(id: "1") }', 'requires role ADMIN', ['ADMIN']],
    ];
    for (const [token, query, message, requiredRoles] of cases) {
      const result = await server.gql(query, {}, token);
      expect({ query, error: result.errors?.[0] }).toMatchObject({ query, error: { message, extensions: { code: 'FORBIDDEN', requiredRoles } } });
    }
    const anonymous = await server.gql('mutation { pullJob(queue: "default") { id } }', {});
    expect(anonymous.errors?.[0]).toMatchObject({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
    expect(anonymous.errors?.[0]?.extensions?.requiredRoles).toBeUndefined();
  });
});
