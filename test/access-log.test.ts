import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { logWhen, readSseEvents, startTestServer, subscribe, type TestServer } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

describe('the access log', () => {
  const logFile = join(tempDir('jobgraph-access-'), 'jobgraph.log');
  let server: TestServer;
  let admin: string;
  let base: string;
  const logged = (ready: (lines: any[]) => boolean) => {
    server.running.app.log.flush();
    return logWhen(logFile, ready);
  };

  beforeAll(async () => {
    server = await startTestServer({ LOG_LEVEL: 'info', LOG_FILE: logFile });
    admin = await server.adminToken();
    base = server.url.replace('/graphql', '');
  });
  afterAll(() => server.stop());

  test('one line per request that is not a GraphQL operation: route, method, status, duration, address', async () => {
    const requestId = `access-${crypto.randomUUID()}`;
    await fetch(`${base}/health`, { headers: { 'x-request-id': requestId } });
    await fetch(`${base}/no-such-route?token=secret-in-query`, { headers: { 'x-request-id': `${requestId}-404` } });
    await fetch(`${base}/api/not-a-route`, { method: 'POST', headers: { 'x-request-id': `${requestId}-api` } });
    await fetch(`${base}/graphql`, { headers: { accept: 'text/html', 'x-request-id': `${requestId}-graphiql` } });
    // A GraphQL operation has its own line (`operation`), not an access line.
    await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}`, 'x-request-id': `${requestId}-op` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    const { lines } = await logged((lines) => lines.some((l) => l.requestId === `${requestId}-op` && l.msg === 'operation'));
    const access = (id: string) => lines.filter((l) => l.msg === 'http request' && l.requestId === id);
    expect(access(requestId)).toEqual([
      expect.objectContaining({ level: 'info', method: 'GET', route: '/health', status: 200, address: '127.0.0.1', durationMs: expect.any(Number) }),
    ]);
    expect(access(`${requestId}-404`)).toEqual([expect.objectContaining({ method: 'GET', route: '/no-such-route', status: 404 })]);
    expect(access(`${requestId}-api`)[0]).toMatchObject({ method: 'POST', route: '/api/not-a-route' });
    expect(access(`${requestId}-graphiql`)).toEqual([expect.objectContaining({ method: 'GET', route: '/graphql', status: 200 })]);
    expect(access(`${requestId}-op`)).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain('secret-in-query');
  });

  test('a WebSocket upgrade is one line (101); each subscription writes one line when it ends, with its events and why', async () => {
    const client = server.wsClient(admin);
    const listening = server.nextSubscriptions('loginEvents');
    const watch = subscribe(client, 'subscription WatchLogins { loginEvents { username } }');
    await listening;
    await server.login('admin', 'admin-password-for-tests');
    await server.login('admin', 'admin-password-for-tests');
    await watch.waitFor(2);
    watch.unsubscribe();
    const { lines } = await logged((lines) => lines.some((l) => l.msg === 'subscription ended' && l.operation === 'WatchLogins'));
    expect(lines.find((l) => l.msg === 'subscription ended' && l.operation === 'WatchLogins')).toMatchObject({
      transport: 'websocket',
      events: 2,
      reason: 'client completed it',
      address: '127.0.0.1',
      userId: 1,
      durationMs: expect.any(Number),
    });
    expect(lines.some((l) => l.msg === 'http request' && l.route === '/graphql' && l.status === 101)).toBe(true);

    // A subscription that ends by itself (the job reached its final state) says so; a closed socket ends the rest.
    const submitted = await server.gql<{ submitPiJob: { id: string } }>('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, admin);
    const job = subscribe(client, 'subscription FollowJob($id: ID!) { jobUpdated(id: $id) { status } }', { id: submitted.data!.submitPiJob.id });
    const listeningAgain = server.nextSubscriptions('loginEvents');
    subscribe(client, 'subscription StillWatching { loginEvents { username } }');
    await listeningAgain;
    await job.waitFor(100);
    expect(job.completed).toBe(true);
    await client.dispose();
    const ended = await logged((lines) => lines.some((l) => l.msg === 'subscription ended' && l.operation === 'StillWatching'));
    const followed = ended.lines.find((l) => l.msg === 'subscription ended' && l.operation === 'FollowJob');
    expect(followed).toMatchObject({ transport: 'websocket', reason: 'completed', events: job.events.length });
    expect(ended.lines.find((l) => l.msg === 'subscription ended' && l.operation === 'StillWatching')).toMatchObject({
      reason: expect.stringMatching(/^connection closed \(1000/),
      events: 0,
    });
  });

  test('a subscription refused as it starts says so', async () => {
    const client = server.wsClient(admin);
    const refused = subscribe(client, 'subscription MissingJob { jobUpdated(id: "999999") { status } }');
    await refused.waitFor(1);
    const { lines } = await logged((lines) => lines.some((l) => l.msg === 'subscription ended' && l.operation === 'MissingJob'));
    expect(lines.find((l) => l.msg === 'subscription ended' && l.operation === 'MissingJob')).toMatchObject({
      transport: 'websocket',
      reason: expect.stringMatching(/^refused: /),
    });
  });

  test('an SSE subscription writes its line when the client goes away', async () => {
    const listening = server.nextSubscriptions('loginEvents');
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: 'subscription SseLogins { loginEvents { username } }' }),
    });
    await listening;
    await server.login('admin', 'admin-password-for-tests');
    expect(await readSseEvents(response, 1)).toHaveLength(1);
    const { lines } = await logged((lines) => lines.some((l) => l.msg === 'subscription ended' && l.operation === 'SseLogins'));
    expect(lines.find((l) => l.msg === 'subscription ended' && l.operation === 'SseLogins')).toMatchObject({
      transport: 'sse',
      events: 1,
      reason: 'client went away',
      userId: 1,
    });
    expect(lines.some((l) => l.msg === 'http request' && l.route === '/graphql' && l.status === 200 && l.method === 'POST')).toBe(false);
  });

  test('a password sent as a number is refused to the client as GraphQL words it, but never reaches the log', async () => {
    const requestId = `numeric-password-${crypto.randomUUID()}`;
    const post = (body: unknown, suffix: string) =>
      fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `${requestId}-${suffix}` }, body: JSON.stringify(body) });
    const asVariable = await post({ query: 'mutation($p: String!) { login(username: "admin", password: $p) { token } }', variables: { p: 98765432123 } }, 'variable');
    const inline = await post({ query: 'mutation { login(username: "admin", password: 98765432124) { token } }' }, 'inline');
    // A variable's value is the one request's mistake (execution refuses it); a literal in the document is the document's.
    const codeOf = async (response: Response) => ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;
    expect(await codeOf(asVariable)).toBe('BAD_USER_INPUT');
    expect(await codeOf(inline)).toBe('GRAPHQL_VALIDATION_FAILED');
    const ours = (l: Record<string, unknown>) => String(l.requestId).startsWith(requestId) && (l.msg === 'rejected query' || l.msg === 'operation rejected input');
    const { lines } = await logged((lines) => lines.filter(ours).length === 2);
    const rejected = lines.filter(ours);
    expect(rejected.map((l) => l.errors).flat().sort()).toEqual([
      'String cannot represent a non string value: (value not logged)',
      'Variable "$p" got invalid value (value not logged)',
    ]);
    expect(JSON.stringify(rejected)).not.toContain('9876543212');
  });
});
