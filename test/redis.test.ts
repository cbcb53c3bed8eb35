// Two jobgraph instances sharing one Redis (REDIS_URL): events, session invalidations, rate and login counters
// and cached answers cross from one to the other. Each instance has its own SQLite file (the PostgreSQL cluster
// test shares the database too), so what is shared here is exactly what goes through Redis.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { ADMIN_PASSWORD, startTestServer, subscribe, type TestServer, until } from './helpers/server';
import { redisServerPath, startTestRedis, type TestRedis } from './helpers/redis';

if (!redisServerPath) console.warn('redis.test.ts: skipped, redis-server is not installed (apt-get install redis-server)');
const describeWithRedis = redisServerPath ? describe : describe.skip;

/** Two instances on one Redis key space; `env` for both. */
async function twoInstances(redis: TestRedis, env: Record<string, string> = {}) {
  const shared = { REDIS_URL: redis.url, REDIS_PREFIX: `jobgraph-test:${crypto.randomUUID()}:`, ...env };
  const [a, b] = await Promise.all([startTestServer(shared), startTestServer(shared)]);
  return { a, b, stop: () => Promise.all([a.stop(), b.stop()]) };
}

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
    const [onA, onB] = [a.wsClient(await a.adminToken()), b.wsClient(await b.adminToken())];
    const listening = Promise.all([a.nextSubscriptions('loginEvents'), b.nextSubscriptions('loginEvents')]);
    const [subA, subB] = [subscribe(onA, LOGIN_EVENTS), subscribe(onB, LOGIN_EVENTS)];
    await listening;

    expect((await a.gql('mutation { login(username: "admin", password: "wrong-password") { token } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const [fromB] = await subB.waitFor(1);
    expect(fromB!.data!.loginEvents).toMatchObject({ username: 'admin', success: false, reason: 'wrong password' });
    // Dates cross as dates, not as strings or numbers.
    expect(Number.isNaN(Date.parse(fromB!.data!.loginEvents.at))).toBe(false);
    await a.login('admin', ADMIN_PASSWORD);
    await Promise.all([subA.waitFor(2), subB.waitFor(2)]);
    // By then A's Redis echo of the first login came back (it reached B): dropped, not delivered a second time.
    expect(subA.events.map((event) => event.data!.loginEvents.success)).toEqual([false, true]);
    expect(subB.events.map((event) => event.data!.loginEvents.success)).toEqual([false, true]);
  });

  test('a session change on A drops B’s cached sessions and ends B’s streams whose token no longer works', async () => {
    const token = await b.login('admin', ADMIN_PASSWORD);
    const me = async () => (await b.gql('{ me { username } }', {}, token)).data?.me?.username ?? null;
    expect(await me()).toBe('admin');
    const ws = b.wsClient(token);
    const listening = b.nextSubscriptions('loginEvents');
    const stream = subscribe(ws, LOGIN_EVENTS);
    await listening;

    // Revoked behind B's back (as another instance would on a shared PostgreSQL): B still trusts its cache.
    const sqlite = new Database(b.databasePath);
    sqlite.run('UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL', [Date.now()]);
    sqlite.close();
    expect(await me()).toBe('admin');

    // A logout on A is a session change: B hears it, forgets its cache and re-checks its open streams.
    expect((await a.gql('mutation { logout }', {}, await a.login('admin', ADMIN_PASSWORD))).data).toEqual({ logout: true });
    await until(async () => (await me()) === null, 'B to refuse the revoked token');
    await stream.waitFor(1);
    expect(stream.completed || stream.error !== undefined).toBe(true);
  });
});
