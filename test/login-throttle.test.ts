import { afterAll, beforeAll, describe, expect, setSystemTime, test } from 'bun:test';
import type { Client } from 'graphql-ws';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { logWhen, startTestServer, subscribe, type TestServer, until } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }';
const MAX_FAILURES = 3;
const PARALLEL_GUESSES = 150;

interface LoginAnswer {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

const outcome = (answer: LoginAnswer) => (answer.data?.login ? 'OK' : (answer.errors?.[0]?.extensions?.code as string));

/** The same login mutation over a graphql-ws socket (login is a mutation; graphql-ws carries those too). */
function loginOverSocket(client: Client, username: string, password: string): Promise<LoginAnswer> {
  return new Promise((resolve, reject) => {
    let answer: LoginAnswer = {};
    client.subscribe({ query: LOGIN, variables: { u: username, p: password } }, {
      next: (value) => void (answer = value as LoginAnswer),
      error: reject,
      complete: () => resolve(answer),
    });
  });
}

/** Wrong guesses with the right password among them: first (so it usually wins a slot), or anywhere. */
function guessesWithTheRightOne(rightPassword: string, place: 'first' | 'random') {
  const passwords = Array.from({ length: PARALLEL_GUESSES }, (_, i) => `wrong-guess-${i}`);
  const rightAt = place === 'first' ? 0 : Math.floor(Math.random() * (passwords.length + 1));
  passwords.splice(rightAt, 0, rightPassword);
  return { passwords, rightAt };
}

describe('concurrent logins for one username', () => {
  let server: TestServer;
  let loginEvents: ReturnType<typeof subscribe<{ loginEvents: { username: string; success: boolean; reason: string | null } }>>;
  beforeAll(async () => {
    // All the guesses may be in flight on one socket at once (on PostgreSQL each takes a few round trips): the
    // per-connection cap on live operations is not what these tests are about.
    server = await startTestServer({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_MAX_FAILURES_PER_ADDRESS: '1000', MAX_SUBSCRIPTIONS_PER_CONNECTION: '1000', MAX_SUBSCRIPTIONS_PER_USER: '1000', MAX_SUBSCRIPTIONS_PER_ADDRESS: '1000' });
    const listening = server.nextSubscriptions('loginEvents');
    loginEvents = subscribe(server.wsClient(await server.adminToken()), 'subscription { loginEvents { username success reason } }');
    // Once it listens, the subscription sees every later attempt; a login's event arriving shows it delivers them.
    await listening;
    await server.gql(LOGIN, { u: 'probe', p: 'probe-password' });
    await loginEvents.waitFor(1);
  });
  afterAll(() => server.stop());

  /** Every login event of `username` in the order the server recorded them. */
  const eventsOf = async (username: string, count: number) => {
    const deadline = Date.now() + 5000;
    const mine = () => loginEvents.events.flatMap((e) => (e.data?.loginEvents.username === username ? [e.data.loginEvents] : []));
    while (mine().length < count && Date.now() < deadline) await loginEvents.waitFor(loginEvents.events.length + 1, deadline - Date.now());
    return mine();
  };

  /** A user created by the admin without logging in, so every login event of theirs comes from the test. */
  const createUser = async (username: string) => {
    const created = await server.gql(
      'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { username, password: `${username}-password`, role: 'USER' } },
      await server.adminToken(),
    );
    expect(created.errors).toBeUndefined();
  };

  /** Fires all attempts at once, then checks what the server verified and in which order. */
  async function expectBudgetHeld(username: string, place: 'first' | 'random', send: (password: string) => Promise<LoginAnswer>) {
    await createUser(username);
    const { passwords, rightAt } = guessesWithTheRightOne(`${username}-password`, place);
    const answers = await Promise.all(passwords.map(send));
    const outcomes = answers.map(outcome);
    const context = `right password at ${rightAt}: ${JSON.stringify(outcomes)}`;

    const wrongVerified = outcomes.filter((o) => o === 'UNAUTHENTICATED').length;
    expect(wrongVerified, context).toBeLessThanOrEqual(MAX_FAILURES);
    expect(outcomes.filter((o) => o === 'RATE_LIMITED').length, context).toBe(passwords.length - wrongVerified - (outcomes[rightAt] === 'OK' ? 1 : 0));
    // Only the right password can succeed, and it is answered, never left out.
    expect(outcomes.filter((o, i) => o === 'OK' && i !== rightAt), context).toEqual([]);
    expect(['OK', 'RATE_LIMITED'], context).toContain(outcomes[rightAt]!);
    for (const answer of answers.filter((a) => outcome(a) === 'RATE_LIMITED')) {
      expect(answer.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    }

    // The server's own record agrees, and the right password never got through after the budget was spent.
    const events = await eventsOf(username, passwords.length);
    expect(events.filter((e) => e.reason === 'wrong password').length, context).toBe(wrongVerified);
    // A success is published once its session is written, a failure as soon as it is verified: on PostgreSQL beside a
    // second suite a wrong password verified after the right one came out before it (3 failures then the success,
    // both sides of a pair). So the stream's order bounds the failures before a success by the budget itself; that
    // the right password is refused once the budget is spent is checked next, by asking.
    const successAt = events.findIndex((e) => e.success);
    const failuresBeforeSuccess = events.slice(0, successAt).filter((e) => e.reason === 'wrong password').length;
    if (successAt >= 0) expect(failuresBeforeSuccess, context).toBeLessThanOrEqual(MAX_FAILURES);

    // With the budget spent, the right password is refused too until the window moves.
    const after = outcome(await send(`${username}-password`));
    expect(after, context).toBe(wrongVerified === MAX_FAILURES ? 'RATE_LIMITED' : 'OK');
  }

  // Where the right password was is in every failure message.
  for (const place of ['first', 'random'] as const) {
    test(`${PARALLEL_GUESSES} parallel guesses over HTTP check at most ${MAX_FAILURES} wrong passwords (right one ${place})`, async () => {
      const username = `target-http-${place}`;
      await expectBudgetHeld(username, place, (password) => server.gql(LOGIN, { u: username, p: password }));
    });

    test(`${PARALLEL_GUESSES} parallel guesses over one WebSocket check at most ${MAX_FAILURES} wrong passwords (right one ${place})`, async () => {
      const username = `target-ws-${place}`;
      const socket = server.wsClient();
      await expectBudgetHeld(username, place, (password) => loginOverSocket(socket, username, password));
    });
  }

  test('an unknown username is throttled like a real one', async () => {
    const outcomes = (await Promise.all(Array.from({ length: 40 }, () => server.gql(LOGIN, { u: 'no-such-user', p: 'some-password' })))).map(outcome);
    expect(outcomes.filter((o) => o === 'UNAUTHENTICATED').length).toBeLessThanOrEqual(MAX_FAILURES);
    expect(outcomes.filter((o) => o === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(40 - MAX_FAILURES);
    const refused = await server.gql(LOGIN, { u: 'no-such-user', p: 'some-password' });
    expect(refused.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^too many failed logins; try again in \d+ s$/), extensions: { code: 'RATE_LIMITED' } });
  });

  test('typos on one username never block another user from the same address; the window moving unlocks', async () => {
    await server.userWithRole('USER', 'typist');
    const { username: colleague } = await server.userWithRole('USER', 'colleague');
    for (let i = 0; i < MAX_FAILURES; i++) expect(outcome(await server.gql(LOGIN, { u: 'typist', p: `typo-number-${i}` }))).toBe('UNAUTHENTICATED');
    const locked = await server.gql(LOGIN, { u: 'typist', p: 'typist-password' });
    expect(outcome(locked)).toBe('RATE_LIMITED');
    expect(locked.errors?.[0]?.extensions?.retryAfterSeconds).toBeWithin(1, 901);

    const token = await server.login(colleague, 'colleague-password');
    expect((await server.gql('{ me { username } }', {}, token)).data?.me.username).toBe('colleague');

    setSystemTime(new Date(Date.now() + 901_000)); // LOGIN_FAILURE_WINDOW_SECONDS defaults to 900
    try {
      expect(outcome(await server.gql(LOGIN, { u: 'typist', p: 'typist-password' }))).toBe('OK');
    } finally {
      setSystemTime();
    }
  });

  test('a username or password no account can have is a client error, not a guess', async () => {
    const long = await server.gql(LOGIN, { u: 'x'.repeat(100_000), p: 'some-password' });
    expect(long.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'username' });
    const huge = await server.gql(LOGIN, { u: 'admin', p: 'p'.repeat(100_000) });
    expect(huge.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'password' });
    // Neither spent the admin's budget.
    expect(outcome(await server.gql(LOGIN, { u: 'admin', p: 'admin-password-for-tests' }))).toBe('OK');
  });
});

describe('the per-address limit', () => {
  test('failures spread over many usernames throttle the address, even for a right password; lockouts are logged once', async () => {
    const logFile = join(tempDir('jobgraph-log-'), 'jobgraph.log');
    // The login log writes what it counted every 200 ms here (5 s by default): the last wait is for that flush.
    const server = await startTestServer({ LOGIN_MAX_FAILURES: '3', LOGIN_MAX_FAILURES_PER_ADDRESS: '5', LOG_LEVEL: 'info', LOG_FILE: logFile }, { loginLogFlushMs: 200 });
    try {
      const adminToken = await server.adminToken();
      await server.userWithRole('USER', 'dora');
      // One person's typos lock their username and use 3 of the address's 5.
      for (let i = 0; i < 4; i++) await server.gql(LOGIN, { u: 'eve', p: `typo-number-${i}` });
      // Each sprayed username stays under its own budget; together they use the address's last 2, in parallel.
      const sprayed = await Promise.all(Array.from({ length: 60 }, (_, i) => server.gql(LOGIN, { u: `sprayed${i % 30}`, p: 'summer-2024' })));
      const outcomes = sprayed.map(outcome);
      expect(outcomes.filter((o) => o === 'UNAUTHENTICATED').length).toBe(2);
      expect(outcomes.filter((o) => o === 'RATE_LIMITED').length).toBe(58);

      const dora = await server.gql(LOGIN, { u: 'dora', p: 'dora-password' });
      expect(outcome(dora)).toBe('RATE_LIMITED');
      expect(dora.errors?.[0]?.extensions?.retryAfterSeconds).toBeWithin(1, 901);
      // Sessions that exist keep working: only new logins from the address wait.
      expect((await server.gql('{ me { username } }', {}, adminToken)).data?.me.username).toBe('admin');

      server.running.app.log.flush();
      // Refusals while throttled are a line (and a login_events row) once per refusing budget and window, then
      // counted into that row: eve's username, then the address (58 sprayed and dora's).
      // The log is written asynchronously, in the order of the calls: the sprayed refusal comes before the address's
      // lockout (logged once the 2 admitted guesses' hashes were checked), so the wait is for every line checked.
      const { lines } = await logWhen(
        logFile,
        (lines) =>
          lines.filter((l) => l.msg === 'login failed' && l.reason === 'throttled').length >= 2 &&
          ['login locked for this username', 'login locked for this address'].every((msg) => lines.some((l) => l.msg === msg)),
      );
      expect(lines.filter((l) => l.msg === 'login locked for this username')).toEqual([expect.objectContaining({ username: 'eve', level: 'warn' })]);
      expect(lines.filter((l) => l.msg === 'login locked for this address')).toEqual([expect.objectContaining({ address: '127.0.0.1', level: 'warn' })]);
      expect(lines.filter((l) => l.msg === 'login failed' && l.reason === 'throttled').map((l) => l.username)).toEqual(['eve', expect.stringMatching(/^sprayed/)]);
      const throttledRows = () => server.sql<{ username: string; attempts: number }>("SELECT username, attempts FROM login_events WHERE reason = 'throttled' ORDER BY id");
      await until(async () => (await throttledRows()).reduce((sum, row) => sum + Number(row.attempts), 0) === 1 + 58 + 1, 'the refusals counted', 30_000);
      expect((await throttledRows()).map((row) => Number(row.attempts))).toEqual([1, 59]);
    } finally {
      await server.stop();
    }
  }, 60_000);

  test('0 turns the per-address rule off; the per-username rule still holds', async () => {
    // With LOGIN_MAX_FAILURES=1 the default per-address limit would be 10: 12 failures show the rule is off.
    const server = await startTestServer({ LOGIN_MAX_FAILURES: '1', LOGIN_MAX_FAILURES_PER_ADDRESS: '0' });
    try {
      const sprayed = await Promise.all(Array.from({ length: 12 }, (_, i) => server.gql(LOGIN, { u: `sprayed${i}`, p: 'summer-2024' })));
      expect(sprayed.map(outcome)).toEqual(Array(12).fill('UNAUTHENTICATED'));
      expect(outcome(await server.gql(LOGIN, { u: 'sprayed0', p: 'winter-2024' }))).toBe('RATE_LIMITED');
    } finally {
      await server.stop();
    }
  });

  test('defaults to ten per-username budgets; must be 0 (off) or more than LOGIN_MAX_FAILURES', () => {
    expect(loadConfig({}).loginMaxFailuresPerAddress).toBe(50);
    expect(loadConfig({ LOGIN_MAX_FAILURES: '8' }).loginMaxFailuresPerAddress).toBe(80);
    expect(loadConfig({ LOGIN_MAX_FAILURES_PER_ADDRESS: '0' }).loginMaxFailuresPerAddress).toBe(0);
    expect(() => loadConfig({ LOGIN_MAX_FAILURES: '10', LOGIN_MAX_FAILURES_PER_ADDRESS: '10' })).toThrow(
      'LOGIN_MAX_FAILURES_PER_ADDRESS must be 0 or more than LOGIN_MAX_FAILURES (10), got "10"',
    );
  });
});
