// Caps on live operations per WebSocket connection, per user and per client address (WebSocket and SSE together),
// and the quote stream's bound on upstream pollers — all through the real transports.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Client } from 'graphql-ws';
import { loadConfig } from '../src/config';
import { startTestServer, subscribe, type TestServer, until } from './helpers/server';

const JOB_COMPLETED = 'subscription { jobCompleted { id } }';
const PER_CONNECTION = 3;
const PER_USER = 5;
const PER_ADDRESS = 8;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    MAX_SUBSCRIPTIONS_PER_CONNECTION: String(PER_CONNECTION),
    MAX_SUBSCRIPTIONS_PER_USER: String(PER_USER),
    MAX_SUBSCRIPTIONS_PER_ADDRESS: String(PER_ADDRESS),
  });
});
afterAll(() => server.stop());

/** `count` jobCompleted subscriptions on `client`, resolved once each listens. */
async function openSubscriptions(client: Client, count: number) {
  const listening = server.nextSubscriptions('jobCompleted', count);
  const subs = Array.from({ length: count }, () => subscribe(client, JOB_COMPLETED));
  await listening;
  return subs;
}

/** A subscription the server refused: its error, or a failure when it was accepted. */
async function refusal(client: Client, query = JOB_COMPLETED) {
  const sub = subscribe(client, query);
  await sub.waitFor(1);
  expect(sub.events).toEqual([]);
  return (sub.error as { extensions: Record<string, unknown>; message: string }[])[0]!;
}

const sse = (query: string, token?: string, signal?: AbortSignal) =>
  fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
    signal,
  });

/** An SSE jobCompleted stream that listens; `close` aborts it. */
async function openSse(token: string) {
  const controller = new AbortController();
  const listening = server.nextSubscriptions('jobCompleted');
  const response = await sse(JOB_COMPLETED, token, controller.signal);
  expect(response.status).toBe(200);
  // Yoga starts listening once the body is read.
  void response.body!.getReader().read().catch(() => {});
  await listening;
  return { close: () => controller.abort() };
}

const nothingLive = () => until(() => server.running.liveOperations().operations === 0, 'every live operation uncounted');

test('the caps default to 100 per connection, 200 per user, 500 per address; 0 turns one off; others are refused', () => {
  expect(loadConfig({})).toMatchObject({ maxSubscriptionsPerConnection: 100, maxSubscriptionsPerUser: 200, maxSubscriptionsPerAddress: 500 });
  expect(loadConfig({ MAX_SUBSCRIPTIONS_PER_USER: '0' }).maxSubscriptionsPerUser).toBe(0);
  expect(() => loadConfig({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '-1' })).toThrow('MAX_SUBSCRIPTIONS_PER_CONNECTION must be an integer from 0 to 1000000, got "-1"');
  expect(() => loadConfig({ MAX_SUBSCRIPTIONS_PER_ADDRESS: '2.5' })).toThrow('MAX_SUBSCRIPTIONS_PER_ADDRESS must be an integer');
});

describe('per WebSocket connection', () => {
  test('refuses the operation over the cap with RATE_LIMITED; a completed one frees its slot at once', async () => {
    const { token } = await server.userWithRole('USER');
    const client = server.wsClient(token);
    const subs = await openSubscriptions(client, PER_CONNECTION);
    const error = await refusal(client);
    expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerConnection', max: PER_CONNECTION });
    expect(error.message).toContain('MAX_SUBSCRIPTIONS_PER_CONNECTION');
    // Queries count while they run too, so this one is refused as well.
    expect((await refusal(client, '{ __typename }')).extensions?.code).toBe('RATE_LIMITED');

    subs[0]!.unsubscribe();
    await openSubscriptions(client, 1);
    expect((await refusal(client)).extensions?.limit).toBe('subscriptionsPerConnection');
    // Another connection has its own allowance.
    const other = server.wsClient(token);
    const [otherSub] = await openSubscriptions(other, 1);
    otherSub!.unsubscribe();

    await client.dispose();
    await other.dispose();
    await nothingLive();
  });

  test('operations that end on the server (a finished query, an error) free their slots', async () => {
    const { token } = await server.userWithRole('USER');
    const client = server.wsClient(token);
    for (let i = 0; i < PER_CONNECTION * 3; i++) {
      const query = subscribe(client, '{ __typename }');
      expect((await query.waitFor(1))[0]!.data).toEqual({ __typename: 'Query' });
      const invalid = subscribe(client, '{ noSuchField }');
      await invalid.waitFor(1);
      expect((invalid.error as { extensions: { code: string } }[])[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
    await openSubscriptions(client, PER_CONNECTION);
    await client.dispose();
    await nothingLive();
  });
});

describe('per user, over WebSocket and SSE together', () => {
  test('the cap counts every connection and stream of the user, and frees up when they close', async () => {
    const { token } = await server.userWithRole('USER');
    const first = server.wsClient(token);
    const second = server.wsClient(token);
    await openSubscriptions(first, PER_CONNECTION);
    const stream = await openSse(token);
    await openSubscriptions(second, PER_USER - PER_CONNECTION - 1);

    expect((await refusal(second)).extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerUser', max: PER_USER });
    const refused = await sse(JOB_COMPLETED, token);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerUser', max: PER_USER });
    expect(body.errors[0]!.message).toContain('MAX_SUBSCRIPTIONS_PER_USER');
    // Another user is not affected.
    const other = await server.userWithRole('USER');
    (await openSse(other.token)).close();

    // Closing the socket with three operations frees three slots for this user.
    await first.dispose();
    await until(() => server.running.liveOperations().operations === PER_USER - PER_CONNECTION, 'the closed socket uncounted');
    await openSubscriptions(second, 1);
    stream.close();
    await until(() => server.running.liveOperations().operations === PER_USER - PER_CONNECTION, 'the aborted stream uncounted');
    const third = server.wsClient(token);
    await openSubscriptions(third, PER_CONNECTION);
    expect((await refusal(third)).extensions?.code).toBe('RATE_LIMITED');

    await second.dispose();
    await third.dispose();
    await nothingLive();
  });
});

describe('per client address, anonymous streams included', () => {
  test('streams and operations of every user and of none count against the address, and never leak', async () => {
    const users = await Promise.all([server.userWithRole('USER'), server.userWithRole('USER')]);
    // Two rounds: after everything closed, the whole allowance is there again.
    for (let round = 0; round < 2; round++) {
      const clients = [server.wsClient(users[0]!.token), server.wsClient(users[1]!.token)];
      await openSubscriptions(clients[0]!, PER_CONNECTION);
      await openSubscriptions(clients[1]!, PER_CONNECTION);
      const streams = [await openSse(users[0]!.token), await openSse(users[1]!.token)];
      expect(server.running.liveOperations().operations).toBe(PER_ADDRESS);

      const third = await server.userWithRole('USER');
      expect((await refusal(server.wsClient(third.token))).extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerAddress', max: PER_ADDRESS });
      // No token: an anonymous stream counts against its address as well.
      const anonymous = await sse('{ __typename }');
      expect(anonymous.status).toBe(429);
      expect(((await anonymous.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'subscriptionsPerAddress',
      });

      streams[0]!.close();
      await until(() => server.running.liveOperations().operations === PER_ADDRESS - 1, 'the aborted stream uncounted');
      const anonymousAgain = await sse('{ __typename }');
      expect(anonymousAgain.status).toBe(200);
      expect(await anonymousAgain.text()).toContain('"__typename":"Query"');

      streams[1]!.close();
      await Promise.all(clients.map((client) => client.dispose()));
      await nothingLive();
    }
  });
});

describe('quoteStream upstream pollers (the caps off: 0)', () => {
  let uncapped: TestServer;
  beforeAll(async () => {
    uncapped = await startTestServer({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '0', MAX_SUBSCRIPTIONS_PER_USER: '0', MAX_SUBSCRIPTIONS_PER_ADDRESS: '0' });
  });
  afterAll(() => uncapped.stop());

  test('intervals round up to 100 ms; past 8 per protocol a new interval joins the nearest, and still gets quotes', async () => {
    const token = await uncapped.adminToken();
    const quotes = uncapped.running.app.quotes;
    const client = uncapped.wsClient(token);
    const query = (intervalMs: number) => `subscription { quoteStream(protocol: TCP, intervalMs: ${intervalMs}) { raw } }`;
    // 101 and 199 share the 200 ms poller.
    const shared = [subscribe(client, query(101)), subscribe(client, query(199))];
    await until(() => quotes.streamStats().subscribers === 2, 'two quote subscribers');
    expect(quotes.streamStats().streams).toBe(1);
    shared.forEach((sub) => sub.unsubscribe());
    await until(() => quotes.streamStats().streams === 0, 'the shared poller to stop');

    // Eight pollers: 100 ms and seven slow ones.
    const intervals = [100, 30_000, 31_000, 32_000, 33_000, 34_000, 35_000, 36_000];
    const subs = intervals.map((ms) => subscribe(client, query(ms)));
    await until(() => quotes.streamStats().streams === intervals.length, 'eight quote pollers');
    // 250 ms is new: with no room left it joins the 100 ms poller, the nearest; its quotes come at that pace.
    const joined = subscribe(client, query(250));
    await joined.waitFor(1);
    expect(joined.events[0]!.data!.quoteStream.raw).toMatch(/^T\d{3}: /);
    expect(quotes.streamStats()).toMatchObject({ streams: intervals.length, subscribers: intervals.length + 1 });

    [...subs, joined].forEach((sub) => sub.unsubscribe());
    await until(() => quotes.streamStats().streams === 0, 'every poller to stop');
    await client.dispose();
    await until(() => uncapped.running.liveOperations().operations === 0, 'every live operation uncounted');
  });
});
