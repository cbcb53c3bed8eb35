// Two jobgraph instances sharing one Redis (REDIS_URL): events, session invalidations, rate and login counters
// and cached answers cross from one to the other. Each instance has its own SQLite file (the PostgreSQL cluster
// test shares the database too), so what is shared here is exactly what goes through Redis.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { RedisClient } from 'bun';
import { ADMIN_PASSWORD, startTestServer, subscribe, type TestServer, until } from './helpers/server';
import { redisServerPath, startTestRedis, type TestRedis } from './helpers/redis';
import { FakeClock } from './helpers/clock';
import { ConfigError, loadConfig } from '../src/config';

if (!redisServerPath) console.warn('redis.test.ts: skipped, redis-server is not installed (apt-get install redis-server)');
const describeWithRedis = describe.skipIf(!redisServerPath);

/** Two instances on one Redis key space; `env` for both. */
async function twoInstances(redis: TestRedis, env: Record<string, string> = {}, clock?: FakeClock) {
  const shared = { REDIS_URL: redis.url, REDIS_PREFIX: `jobgraph-test:${crypto.randomUUID()}:`, ...env };
  const [a, b] = await Promise.all([startTestServer(shared, { clock }), startTestServer(shared, { clock })]);
  return { a, b, stop: () => Promise.all([a.stop(), b.stop()]) };
}

test('REDIS_URL: unset means one instance; a URL that is not redis:// is refused without echoing it', () => {
  expect(loadConfig({}).redisUrl).toBeUndefined();
  expect(loadConfig({}).redisPrefix).toBe('jobgraph:');
  expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/2', REDIS_PREFIX: 'blue:' })).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379/2', redisPrefix: 'blue:' });
  expect(() => loadConfig({ REDIS_URL: 'http://user:secret@cache:6379' })).toThrow(ConfigError);
  expect(() => loadConfig({ REDIS_URL: 'http://user:secret@cache:6379' })).toThrow('REDIS_URL must be a redis:// or rediss:// URL, got "http:"');
});

const LOGIN_EVENTS = 'subscription { loginEvents { username success reason at } }';

describeWithRedis('two instances sharing one Redis', () => {
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let stop: () => Promise<unknown>;
  beforeAll(async () => {
    redis = await startTestRedis();
    ({ a, b, stop } = await twoInstances(redis));
  });
  afterAll(async () => {
    await stop?.();
    await redis?.stop();
  });

  test('an admin subscribed on B hears a login made on A; a subscriber on A hears it once', async () => {
    // A listens first; B's own admin login then reaches A through Redis (waited for), so nothing is in flight after.
    const onA = a.wsClient(await a.adminToken());
    const listeningOnA = a.nextSubscriptions('loginEvents');
    const subA = subscribe(onA, LOGIN_EVENTS);
    await listeningOnA;
    const onB = b.wsClient(await b.adminToken());
    await subA.waitFor(1);
    const listeningOnB = b.nextSubscriptions('loginEvents');
    const subB = subscribe(onB, LOGIN_EVENTS);
    await listeningOnB;

    expect((await a.gql('mutation { login(username: "admin", password: "wrong-password") { token } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const [fromB] = await subB.waitFor(1);
    expect(fromB!.data!.loginEvents).toMatchObject({ username: 'admin', success: false, reason: 'wrong password' });
    // Dates cross as dates, not as strings or numbers.
    expect(Number.isNaN(Date.parse(fromB!.data!.loginEvents.at))).toBe(false);
    await a.login('admin', ADMIN_PASSWORD);
    await Promise.all([subA.waitFor(3), subB.waitFor(2)]);
    // By then A's Redis echo of the first login came back (it reached B): dropped, not delivered a second time.
    expect(subA.events.map((event) => event.data!.loginEvents.success)).toEqual([true, false, true]);
    expect(subB.events.map((event) => event.data!.loginEvents.success)).toEqual([false, true]);
  });

  test('a subscriber on B receives jobCompleted for a job submitted to and run by A', async () => {
    const onB = b.wsClient(await b.adminToken());
    const listening = b.nextSubscriptions('jobCompleted');
    const completed = subscribe(onB, 'subscription { jobCompleted(kind: PI) { id kind status finishedAt } }');
    await listening;
    const submitted = await a.gql('mutation { submitPiJob(input: { simulations: 1000, seed: 7 }) { id } }', {}, await a.adminToken());
    const [event] = await completed.waitFor(1);
    expect(event!.data!.jobCompleted).toMatchObject({ id: submitted.data!.submitPiJob.id, kind: 'PI', status: 'SUCCEEDED' });
    expect(Number.isNaN(Date.parse(event!.data!.jobCompleted.finishedAt))).toBe(false);
  });

  test('a session change on A drops B’s cached sessions and ends B’s streams whose token no longer works', async () => {
    const token = await b.login('admin', ADMIN_PASSWORD);
    const me = async () => (await b.gql('{ me { username } }', {}, token)).data?.me?.username ?? null;
    expect(await me()).toBe('admin');
    const ws = b.wsClient(token);
    const listening = b.nextSubscriptions('loginEvents');
    const stream = subscribe(ws, LOGIN_EVENTS);
    await listening;

    // Revoked behind B's back (no instance of B's database announces it): B still trusts its cache.
    await b.sql('UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL', Date.now());
    expect(await me()).toBe('admin');

    // A logout on A is a session change: B hears it, forgets its cache and re-checks its open streams.
    expect((await a.gql('mutation { logout }', {}, await a.login('admin', ADMIN_PASSWORD))).data).toEqual({ logout: true });
    await until(async () => (await me()) === null, 'B to refuse the revoked token');
    // (It heard A's login first: login events cross too.)
    await until(() => stream.completed || stream.error !== undefined, 'B to end the stream opened with the revoked token');
  });
});

const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }';
const codeOf = (result: { errors?: { extensions?: Record<string, any> }[] }) => result.errors?.[0]?.extensions?.code ?? 'OK';

describeWithRedis('limits counted over both instances', () => {
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let stop: () => Promise<unknown>;
  // Stopped: the buckets refill only when the test says so, on both instances alike.
  const clock = new FakeClock({ stopped: true });
  beforeAll(async () => {
    redis = await startTestRedis();
    ({ a, b, stop } = await twoInstances(redis, { RATE_LIMIT_PER_SECOND: '3', LOGIN_MAX_FAILURES: '3', LOGIN_FAILURE_WINDOW_SECONDS: '60' }, clock));
  });
  afterAll(async () => {
    await stop?.();
    await redis?.stop();
  });

  test('the per-address rate limit: a burst of 6 spent on A and B together, the next request on either is refused', async () => {
    clock.advance(10_000);
    const ask = (server: TestServer) => server.gql('{ __typename }');
    const statuses: number[] = [];
    for (const server of [a, b, a, b, a, b]) statuses.push((await ask(server)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    const refused = await ask(a);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await ask(b)).status).toBe(429);
    clock.advance(1000);
    expect((await ask(b)).status).toBe(200);
  });

  test('over WebSocket, a message after the shared bucket ran dry on another instance is refused', async () => {
    clock.advance(10_000);
    // Not lazy: the socket stays open between operations (a new one would be an HTTP upgrade, refused with a 429).
    const ws = b.wsClient(undefined, { lazy: false });
    // The upgrade, connection_init and this operation: 3 of the 6 on B (its own bucket keeps 3 more).
    expect((await subscribe(ws, '{ __typename }').waitFor(1))[0]!.data).toEqual({ __typename: 'Query' });
    let allowedOnA = 0;
    while ((await a.gql('{ __typename }')).status === 200) allowedOnA++;
    expect(allowedOnA).toBe(3);
    // A message is judged at once by B's own bucket (3 left): this one passes, and charges the shared bucket on
    // the way; the verdict holds the address back from the next message on.
    expect((await subscribe(ws, '{ __typename }').waitFor(1))[0]!.data).toEqual({ __typename: 'Query' });
    // An HTTP request on B is answered after that verdict came back (one Redis connection, answers in order).
    expect((await b.gql('{ __typename }')).status).toBe(429);
    const refused = subscribe(ws, '{ __typename }');
    await refused.waitFor(1);
    // B's own bucket still has a token: only the shared verdict refuses this one.
    expect((refused.error as { extensions: { code: string } }[])[0]!.extensions.code).toBe('RATE_LIMITED');
  });

  test('the per-username login throttle: at most 3 wrong passwords are checked over A and B, however concurrent', async () => {
    clock.advance(10_000);
    const guesses = Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).gql(LOGIN, { u: 'admin', p: `wrong-guess-${i}` }));
    const codes = (await Promise.all(guesses)).map(codeOf);
    expect(codes.filter((code) => code === 'UNAUTHENTICATED')).toHaveLength(3);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(9);
    // Even the right password waits on both instances until the window moves on.
    expect(codeOf(await a.gql(LOGIN, { u: 'admin', p: ADMIN_PASSWORD }))).toBe('RATE_LIMITED');
    expect(codeOf(await b.gql(LOGIN, { u: 'admin', p: ADMIN_PASSWORD }))).toBe('RATE_LIMITED');
    clock.advance(61_000);
    expect(codeOf(await b.gql(LOGIN, { u: 'admin', p: ADMIN_PASSWORD }))).toBe('OK');
  });
});

describeWithRedis('cached answers shared through Redis', () => {
  test('an analytics answer computed on A is served on B without computing it again', async () => {
    const redis = await startTestRedis();
    const { a, b, stop } = await twoInstances(redis);
    try {
      // Each instance's first session has id 1 (separate SQLite files; with a shared database the ids are unique).
      const [tokenA, tokenB] = [await a.adminToken(), await b.adminToken()];
      let computed = 0;
      for (const server of [a, b]) {
        const analytics = server.running.app.analytics;
        const original = analytics.globalMean.bind(analytics);
        analytics.globalMean = (...args) => (computed++, original(...args));
      }
      const query = 'query($q: String!) { analytics { globalMean(question: $q) } }';
      const question = 'Percent of adults aged 18 years and older who have obesity';
      const onA = await a.gql(query, { q: question }, tokenA);
      expect(computed).toBe(1);
      // A writes the entry to Redis without waiting for it: wait until it is there.
      const peek = new RedisClient(redis.url);
      const prefix = a.running.app.config.redisPrefix;
      await until(async () => (await peek.keys(`${prefix}response:*`)).length === 1, 'the entry in Redis');
      peek.close();
      const onB = await b.gql(query, { q: question }, tokenB);
      expect(onB.data).toEqual(onA.data!);
      expect(computed).toBe(1);
      // A token that is not live on B gets nothing from the shared entry.
      expect((await b.gql(query, { q: question }, tokenA)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await stop();
      await redis.stop();
    }
  });
});

describeWithRedis('when Redis goes away', () => {
  test('not ready, logins refused (fail closed), requests still served; all back once Redis is', async () => {
    const redis = await startTestRedis();
    const { a, b, stop } = await twoInstances(redis, { RATE_LIMIT_PER_SECOND: '1000' });
    try {
      const token = await a.adminToken();
      const ready = async () => {
        const response = await fetch(a.url.replace('/graphql', '/ready'), { headers: { authorization: `Bearer ${token}` } });
        return { status: response.status, body: (await response.json()) as { checks: { redis: { status: string } } } };
      };
      expect(await ready()).toMatchObject({ status: 200, body: { checks: { redis: { status: 'up' } } } });

      await redis.stop();
      await until(async () => (await ready()).status === 503, 'A to report Redis down');
      expect((await ready()).body.checks.redis.status).toBe('down');
      const refused = await a.gql(LOGIN, { u: 'admin', p: ADMIN_PASSWORD });
      expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'UNAVAILABLE' } });
      expect(refused.errors?.[0]?.message).toContain('shared login throttle');
      // The rate limit fails open to this instance's own bucket; sessions are read from the database each time.
      expect((await a.gql('{ me { username } }', {}, token)).data).toEqual({ me: { username: 'admin' } });

      await redis.start();
      await until(async () => (await ready()).status === 200, 'A to reconnect', 10_000);
      await until(async () => b.running.app.redis!.up, 'B to reconnect', 10_000);
      expect(codeOf(await a.gql(LOGIN, { u: 'admin', p: ADMIN_PASSWORD }))).toBe('OK');
      // Subscriptions to the other instances' events were made again: a login on A reaches B.
      const listening = b.nextSubscriptions('loginEvents');
      const onB = subscribe(b.wsClient(await b.adminToken()), LOGIN_EVENTS);
      await listening;
      await a.login('admin', ADMIN_PASSWORD);
      await until(() => onB.events.some((event) => event.data?.loginEvents.success === true), 'B to hear A’s login');
    } finally {
      await stop();
      await redis.stop();
    }
  });
});
