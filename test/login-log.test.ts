// The login log stays meaningful and bounded: refusals while throttled are counted into one row per refused budget
// and window (not a row each), and rows past LOGIN_EVENTS_RETENTION_DAYS are deleted in the background. Both
// databases (the suite's PostgreSQL pass runs this file on PostgreSQL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../src/config';
import { PRUNE_BATCH } from '../src/users/login-log';
import { startTestServer, type TestServer, until } from './helpers/server';

const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }';
const REFUSED = 3000;

/** Sends `count` logins, `concurrency` at a time; returns how many were answered with each code. */
async function logins(server: TestServer, count: number, username: (i: number) => string, concurrency = 16) {
  const codes: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const result = await server.gql(LOGIN, { u: username(i), p: 'not-the-password' });
        const code = result.errors?.[0]?.extensions?.code ?? 'OK';
        codes[code] = (codes[code] ?? 0) + 1;
      }
    }),
  );
  return codes;
}

const rowCount = async (server: TestServer) => (await server.sql<{ n: number }>('SELECT CAST(count(*) AS INTEGER) AS n FROM login_events'))[0]!.n;
const throttledAttempts = async (server: TestServer) =>
  Number((await server.sql<{ n: number }>("SELECT CAST(COALESCE(sum(attempts), 0) AS INTEGER) AS n FROM login_events WHERE reason = 'throttled'"))[0]!.n);

describe('refused logins while throttled', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The counted refusals are written every 200 ms here (every 5 s by default): the waits below are for a flush.
    server = await startTestServer({ LOGIN_MAX_FAILURES: '3', LOGIN_MAX_FAILURES_PER_ADDRESS: '4' }, { loginLogFlushMs: 200 });
  });
  afterAll(() => server?.stop());

  test(`${REFUSED} refused attempts for one throttled username add one row, which counts them all`, async () => {
    const before = await rowCount(server);
    expect(await logins(server, 3, () => 'admin', 1)).toEqual({ UNAUTHENTICATED: 3 });
    expect(await logins(server, REFUSED, () => 'admin')).toEqual({ RATE_LIMITED: REFUSED });
    const added = (await rowCount(server)) - before;
    console.log(`login_events rows added by 3 failures + ${REFUSED} refusals while throttled: ${added}`);
    expect(added).toBeLessThanOrEqual(100);
    expect(added).toBe(4);
    // The count reaches the row within a flush (every few seconds; 200 ms here), not a row per refusal.
    await until(async () => (await throttledAttempts(server)) === REFUSED, `${REFUSED} attempts counted into the throttled row`, 30_000);
    const [row] = await server.sql<{ username: string; attempts: number }>("SELECT username, attempts FROM login_events WHERE reason = 'throttled'");
    expect(row).toMatchObject({ username: 'admin' });
  }, 120_000);

  test('an address whose budget ran out adds one row however many usernames it tries', async () => {
    const before = await rowCount(server);
    const counted = await throttledAttempts(server);
    // The address has 3 failures; one more on another username uses its budget up.
    expect(await logins(server, 1, () => 'bob-the-other', 1)).toEqual({ UNAUTHENTICATED: 1 });
    expect(await logins(server, 1000, (i) => `user-${i}`)).toEqual({ RATE_LIMITED: 1000 });
    expect((await rowCount(server)) - before).toBe(2);
    await until(async () => (await throttledAttempts(server)) === counted + 1000, 'the address refusals counted', 30_000);
  }, 120_000);
});

describe('LOGIN_EVENTS_RETENTION_DAYS', () => {
  test('defaults to 30; 0 keeps everything', () => {
    expect(loadConfig({}).loginEventsRetentionDays).toBe(30);
    expect(loadConfig({ LOGIN_EVENTS_RETENTION_DAYS: '0' }).loginEventsRetentionDays).toBe(0);
    expect(() => loadConfig({ LOGIN_EVENTS_RETENTION_DAYS: '-1' })).toThrow('LOGIN_EVENTS_RETENTION_DAYS');
  });

  test('rows older than the retention are deleted in batches; newer rows stay', async () => {
    const server = await startTestServer({ LOGIN_EVENTS_RETENTION_DAYS: '7' });
    try {
      // The background pruning stopped: this test calls it itself, and must be the only one deleting.
      await server.running.app.users.stop();
      const now = Date.now();
      const old = PRUNE_BATCH * 2 + 500;
      const insert = (count: number, at: number) =>
        server.sql(
          `INSERT INTO login_events (username, success, reason, client_address, at, attempts)
           WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
           SELECT 'old-user', false, 'wrong password', '10.0.0.1', ${at}, 1 FROM n`,
        );
      await insert(old, now - 8 * 86_400_000);
      await insert(10, now - 6 * 86_400_000);
      const before = await rowCount(server);
      expect(await server.running.app.users.pruneLoginEvents()).toBe(old);
      expect(await rowCount(server)).toBe(before - old);
      expect((await server.sql<{ n: number }>("SELECT CAST(count(*) AS INTEGER) AS n FROM login_events WHERE username = 'old-user'"))[0]!.n).toBe(10);
    } finally {
      await server.stop();
    }
  }, 60_000);

  test('the pruning runs by itself at start', async () => {
    const server = await startTestServer({ LOGIN_EVENTS_RETENTION_DAYS: '1' });
    try {
      await server.sql(`INSERT INTO login_events (username, success, reason, client_address, at, attempts) VALUES ('ancient', false, 'wrong password', NULL, ${Date.now() - 2 * 86_400_000}, 1)`);
      // A restart of the same service's background work (what a restart of the server does).
      await server.running.app.users.stop();
      server.running.app.users.start();
      await until(async () => (await server.sql("SELECT id FROM login_events WHERE username = 'ancient'")).length === 0, 'the start-up pruning', 30_000);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
