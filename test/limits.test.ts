import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { FakeClock } from './helpers/clock';
import { ADMIN_PASSWORD, logWhen, startTestServer, type TestServer } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('query limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MAX_QUERY_DEPTH: '4', MAX_QUERY_COMPLEXITY: '50', MAX_QUERY_ALIASES: '3', MAX_BODY_BYTES: '4096' });
  });
  afterAll(() => server.stop());

  test('a query within the limits runs', async () => {
    const response = await post(server.url, { query: '{ me { id } }' });
    expect(response.status).toBe(200);
  });

  test('too deep: 400 with BAD_USER_INPUT, before any resolver runs', async () => {
    const response = await post(server.url, { query: '{ users { edges { node { id } } pageInfo { hasNextPage } } }' });
    const deep = await post(server.url, { query: '{ users(first: 10) { edges { node { id } } } a: users(first: 10) { edges { cursor } } }' });
    expect(response.status).toBe(200);
    expect(deep.status).toBe(200);
    const tooDeep = await post(server.url, {
      query: '{ __schema { types { fields { type { ofType { name } } } } } }',
    });
    expect(tooDeep.status).toBe(400);
    const body = (await tooDeep.json()) as any;
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'depth' });
    expect(body.errors[0].message).toBe('query depth exceeds the limit of 4');
  });

  test('too costly: 400 with BAD_USER_INPUT', async () => {
    // Each list multiplies its selection by 10.
    const response = await post(server.url, { query: '{ loginStats { username loginCount lastLoginAt } users { edges { node { id username role } } } }' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'complexity' });
  });

  test('too many aliases: 400 with BAD_USER_INPUT', async () => {
    const response = await post(server.url, { query: '{ a: me { id } b: me { id } c: me { id } d: me { id } }' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body.errors[0]).toMatchObject({ message: 'query has more than 3 aliases', extensions: { code: 'BAD_USER_INPUT', limit: 'aliases' } });
  });

  test('an oversized body is refused with 413', async () => {
    const response = await post(server.url, { query: `{ me { id } } # ${'x'.repeat(5000)}` });
    expect(response.status).toBe(413);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toContain('exceeds the limit of 4096 bytes');
  });

  test('GET queries carrying a cookie need a CSRF header; mutations are not allowed over GET', async () => {
    const query = encodeURIComponent('{ me { id } }');
    expect((await fetch(`${server.url}?query=${query}`, { headers: { cookie: 'a=b' } })).status).toBe(403);
    const ok = await fetch(`${server.url}?query=${query}`, { headers: { 'graphql-preflight': '1', cookie: 'a=b' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { me: null } });
    const mutation = encodeURIComponent('mutation { logout }');
    expect((await fetch(`${server.url}?query=${mutation}`, { headers: { 'graphql-preflight': '1' } })).status).toBe(405);
  });

  test('malformed JSON and unknown routes get 4xx, never 500', async () => {
    expect((await post(server.url, '{"query": ')).status).toBe(400);
    const missing = await fetch(server.url.replace('/graphql', '/nope'));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  test('health and readiness', async () => {
    const base = server.url.replace('/graphql', '');
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/ready`, { headers: { authorization: `Bearer ${await server.adminToken()}` } });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as any).checks.database).toBe(true);
  });
});

describe('throttling', () => {
  // The rate bucket refills only as this clock moves (20 a second, bursts of 40): real time would refill it while the
  // requests run (a 50 ms pause on a busy machine let the last one through).
  const clock = new FakeClock({ stopped: true });
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: '3', RATE_LIMIT_PER_SECOND: '20' }, { clock });
  });
  afterAll(() => server.stop());

  const login = (u: string, p: string) =>
    server.gql('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', { u, p });

  test('failed logins are throttled per username, even for the right password', async () => {
    await server.userWithRole('USER', 'henry');
    for (let i = 0; i < 3; i++) expect((await login('henry', 'bad-password')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    for (const password of ['bad-password', 'henry-password']) {
      const refused = await login('henry', password);
      expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(refused.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
      expect(refused.errors?.[0]?.message).toMatch(/too many failed logins; try again in \d+ s/);
    }
  });

  test('requests beyond the per-address rate answer 429 with Retry-After', async () => {
    clock.advance(2100); // let the bucket refill after the logins above
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await post(server.url, { query: '{ me { id } }' })).status);
    expect(statuses.filter((s) => s === 200).length).toBe(40);
    expect(statuses.slice(40).every((s) => s === 429)).toBe(true);
    const refused = await post(server.url, { query: '{ me { id } }' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as any).errors[0].extensions.code).toBe('RATE_LIMITED');
  });
});

describe('errors and logs', () => {
  test('unexpected errors are masked for the client and logged with a request id; no secret reaches the log', async () => {
    const logFile = join(tempDir('jobgraph-log-'), 'jobgraph.log');
    const server = await startTestServer({ LOG_LEVEL: 'info', LOG_FILE: logFile });
    try {
      const token = await server.adminToken();
      await server.gql('{ me { id } }', {}, token);
      await server.gql('mutation { login(username: "admin", password: "a-wrong-password") { token } }');
      // Break the login log table under the running server: the next login fails unexpectedly.
      await server.sql('ALTER TABLE login_events RENAME TO login_events_gone');
      const broken = await server.gql('mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD });
      expect(broken.errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      const requestId = broken.errors?.[0]?.extensions?.requestId;
      expect(requestId).toBe(broken.headers.get('x-request-id'));
      expect(JSON.stringify(broken)).not.toContain('login_events');

      server.running.app.log.flush();
      const { lines, text: log } = await logWhen(logFile, (lines) => lines.some((l) => l.msg === 'unexpected error' && l.requestId === requestId));
      expect(lines.find((l) => l.msg === 'unexpected error' && l.requestId === requestId)?.err.message).toContain('login_events');
      expect(lines.find((l) => l.msg === 'login failed')).toMatchObject({ username: 'admin', address: '127.0.0.1', reason: 'wrong password' });
      expect(lines.find((l) => l.msg === 'login succeeded')).toMatchObject({ username: 'admin', address: '127.0.0.1' });
      expect(lines.find((l) => l.msg === 'operation' && l.type === 'query' && l.requestId !== 'warm-up')).toMatchObject({ userId: 1, outcome: 'ok' });
      expect(lines.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(l.time))).toBe(true);
      expect(log).not.toContain(ADMIN_PASSWORD);
      expect(log).not.toContain('a-wrong-password');
      expect(log).not.toContain(token);
    } finally {
      await server.stop();
    }
  });
});

test('a chunked body over the limit is refused with 413 too', async () => {
  const server = await startTestServer({ MAX_BODY_BYTES: '2048' });
  try {
    const payload = new TextEncoder().encode(JSON.stringify({ query: `{ me { id } } # ${'y'.repeat(3000)}` }));
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(payload.slice(0, 1000));
        controller.enqueue(payload.slice(1000));
        controller.close();
      },
    });
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  } finally {
    await server.stop();
  }
});

test('a document whose cost does not read its variables is validated once for all of them, its limit still applied', async () => {
  const server = await startTestServer({ MAX_QUERY_COMPLEXITY: '30' });
  try {
    const token = await server.adminToken();
    const questions = ['Percent of adults aged 18 years and older who have obesity', 'Percent of adults who engage in muscle-strengthening activities on 2 or more days a week'];
    // 1 + (1 + 4 fields × 10 per list item): 42, over 30 whatever the question.
    const costly = 'query($q: String!) { analytics { meanByCategory(question: $q) { state category segment value } } }';
    const cheap = 'query($q: String!, $from: Int) { analytics { globalMean(question: $q, yearFrom: $from) } }';
    for (const [i, q] of questions.entries()) {
      const refused = await post(server.url, { query: costly, variables: { q } }, { authorization: `Bearer ${token}` });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as any).errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', limit: 'complexity' } });
      const answered = await post(server.url, { query: cheap, variables: { q, from: 2011 + i } }, { authorization: `Bearer ${token}` });
      expect(answered.status).toBe(200);
      expect(((await answered.json()) as any).data.analytics.globalMean).toBeNumber();
    }
  } finally {
    await server.stop();
  }
});

test('the cost limit follows the variables even though validation results are cached per document', async () => {
  const server = await startTestServer({ MAX_QUERY_COMPLEXITY: '60' });
  try {
    const token = await server.adminToken();
    // A connection costs its page size times its selection: 2 edges fit under 60, 50 do not.
    const query = 'query($n: Int) { jobs(first: $n) { edges { node { id kind status } } } }';
    const ask = (all: boolean) => post(server.url, { query, variables: { n: all ? 50 : 2 } }, { authorization: `Bearer ${token}` });
    for (const all of [false, true, false, true]) {
      const response = await ask(all);
      const body = (await response.json()) as any;
      if (all) {
        expect(response.status).toBe(400);
        expect(body.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', limit: 'complexity' } });
      } else {
        expect(response.status).toBe(200);
        expect(body.errors).toBeUndefined();
      }
    }
  } finally {
    await server.stop();
  }
});
