// The API the console (and the CLI) drive: jobs(search:), jobs(statuses:) (dead letters), loginHistory, unlockUsername — through the real endpoint,
// on either database (TEST_DATABASE_URL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

describe('console API', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: '3' });
    admin = await server.adminToken();
  });
  afterAll(() => server.stop());

  const ids = (body: any) => body.data.jobs.edges.map((e: any) => e.node.id).sort();

  test('jobs(search:) matches id, kind, status, queue, owner and input text; a USER only their own', async () => {
    await server.gql('mutation { createQueue(input: { name: "reports-eu" }) { name } }', {}, admin);
    const alice = await server.userWithRole('USER', 'search-alice');
    const bob = await server.userWithRole('USER', 'search-bob');
    const submit = async (token: string, expression: string, queue = 'default') =>
      (await server.gql<any>('mutation($e: String!, $q: String) { submitCalcJob(input: { expressions: [$e], queue: $q }) { id } }', { e: expression, q: queue }, token)).data.submitCalcJob.id as string;
    const a1 = await submit(alice.token, '1 + 41 # needle_%');
    const a2 = await submit(alice.token, '2 * 2', 'reports-eu');
    const b1 = await submit(bob.token, '3 + 3 # NEEDLE_%');
    const search = (text: string, token = admin, extra = '') =>
      server.gql<any>(`query($s: String) { jobs(search: $s, first: 50${extra}) { totalCount edges { node { id } } } }`, { s: text }, token);

    expect(ids(await search('needle_%'))).toEqual([a1, b1].sort());
    // `%` and `_` are literal, not wildcards.
    expect(ids(await search('needle%'))).toEqual([]);
    expect(ids(await search(`#${a2}`))).toEqual([a2]);
    expect(ids(await search('REPORTS'))).toEqual([a2]);
    expect(ids(await search('search-bob'))).toEqual([b1]);
    expect((await search('calc')).data.jobs.totalCount).toBe(3);
    expect(ids(await search('needle', alice.token))).toEqual([a1]);
    expect(ids(await search('search-bob', alice.token))).toEqual([]);
    expect((await search('needle', alice.token)).data.jobs.totalCount).toBe(1);
    expect(ids(await search('needle', admin, ', queue: "default"'))).toEqual([a1, b1].sort());
    const tooLong = await search('x'.repeat(201));
    expect(tooLong.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('jobs(statuses:) lists the dead letters (FAILED and CANCELLED), with search and status, counted alike; a USER only their own', async () => {
    await server.gql('mutation { createQueue(input: { name: "dead-letters" }) { name } pauseQueue(name: "dead-letters") { name } }', {}, admin);
    const carol = await server.userWithRole('USER', 'dead-carol');
    const submit = async (token: string) => (await server.gql<any>('mutation { submitPiJob(input: { simulations: 1000, queue: "dead-letters" }) { id } }', {}, token)).data.submitPiJob.id as string;
    const [queued, cancelled, carolsCancelled] = [await submit(admin), await submit(admin), await submit(carol.token)];
    await server.gql('mutation($ids: [ID!]) { cancelJobs(filter: { ids: $ids }) }', { ids: [cancelled, carolsCancelled] }, admin);
    // A FAILED job: a throwing diagnostic with one attempt, on an unpaused queue.
    const failed = (await server.gql<any>('mutation { submitDiagnosticJobs(input: { behavior: THROW, maxAttempts: 1, queue: "default" }, count: 1) { id } }', {}, admin)).data.submitDiagnosticJobs[0].id as string;
    for (let status = ''; status !== 'FAILED'; await Bun.sleep(20)) status = (await server.gql<any>('query($id: ID!) { job(id: $id) { status } }', { id: failed }, admin)).data.job.status;

    const list = (args: string, token = admin) => server.gql<any>(`{ jobs(first: 100, ${args}) { totalCount edges { node { id } } } }`, {}, token);
    const dead = await list('statuses: [FAILED, CANCELLED]');
    expect(ids(dead)).toEqual(expect.arrayContaining([cancelled, carolsCancelled, failed].sort()));
    expect(ids(dead)).not.toContain(queued);
    expect(dead.data.jobs.totalCount).toBe(dead.data.jobs.edges.length);
    expect(ids(await list('statuses: [FAILED, CANCELLED], queue: "dead-letters"'))).toEqual([cancelled, carolsCancelled].sort());
    expect(ids(await list('statuses: [FAILED, CANCELLED], status: FAILED, queue: "dead-letters"'))).toEqual([]);
    expect(ids(await list('statuses: [CANCELLED, QUEUED], search: "dead-carol"'))).toEqual([carolsCancelled]);
    expect((await list('statuses: []')).data.jobs.totalCount).toBe(0);
    const carols = await list('statuses: [FAILED, CANCELLED]', carol.token);
    expect([ids(carols), carols.data.jobs.totalCount]).toEqual([[carolsCancelled], 1]);
  });

  test('loginHistory pages through attempts with filters; unlockUsername ends a lockout', async () => {
    await server.userWithRole('USER', 'history-carol');
    const attempt = (password: string) => server.gql<any>('mutation($p: String!) { login(username: "history-carol", password: $p) { token } }', { p: password });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong-password')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await attempt('history-carol-password')).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

    const history = (args: string) =>
      server.gql<any>(`query { loginHistory(${args}) { edges { cursor node { username success reason address at } } pageInfo { hasNextPage endCursor } } }`, {}, admin);
    const failures = await history('username: "history-carol", success: false, first: 10');
    expect(failures.data.loginHistory.edges.map((e: any) => e.node.reason)).toEqual(['throttled', 'wrong password', 'wrong password', 'wrong password']);
    const firstPage = await history('username: "history-carol", first: 3');
    expect(firstPage.data.loginHistory.pageInfo.hasNextPage).toBe(true);
    const rest = await history(`username: "history-carol", first: 3, after: "${firstPage.data.loginHistory.pageInfo.endCursor}"`);
    // The oldest: userWithRole's own login.
    expect(rest.data.loginHistory.edges.map((e: any) => e.node.reason)).toEqual(['wrong password', null]);
    expect(rest.data.loginHistory.pageInfo.hasNextPage).toBe(false);
    const future = await history(`username: "history-carol", since: "${new Date(Date.now() + 60_000).toISOString()}", first: 5`);
    expect(future.data.loginHistory.edges).toEqual([]);
    expect((await history('address: "198.51.100.7", first: 5')).data.loginHistory.edges).toEqual([]);

    const user = await server.userWithRole('USER', 'history-dave');
    const refused = await server.gql<any>('{ loginHistory(first: 1) { edges { cursor } } }', {}, user.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await server.gql<any>('mutation { unlockUsername(username: "history-carol") }', {}, user.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await server.gql<any>('{ loginHistory(first: 1, after: "nope") { edges { cursor } } }', {}, admin)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    expect((await server.gql<any>('mutation { unlockUsername(username: "history-carol") }', {}, admin)).data.unlockUsername).toBe(true);
    expect((await attempt('history-carol-password')).data.login.token).toBeString();
  });
});
