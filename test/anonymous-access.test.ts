// ANONYMOUS_ACCESS: which domains callers without a token may read, over GraphQL (HTTP and WebSocket) and REST —
// each domain on in one server and off in the other — and what stays closed to them whatever it says.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../src/config';
import { FakeClock } from './helpers/clock';
import { startTestServer, subscribe, type TestServer } from './helpers/server';
import { startUpstream } from './helpers/upstream';

test('ANONYMOUS_ACCESS: empty by default, a comma list of the four domains, unknown entries named in one error', () => {
  expect([...loadConfig({}).anonymousAccess]).toEqual([]);
  expect([...loadConfig({ ANONYMOUS_ACCESS: ' Analytics, relay,,quotes ' }).anonymousAccess].sort()).toEqual(['analytics', 'quotes', 'relay']);
  expect([...loadConfig({ ANONYMOUS_ACCESS: 'analytics,relay,simulations,quotes' }).anonymousAccess]).toHaveLength(4);
  expect(() => loadConfig({ ANONYMOUS_ACCESS: 'analytics,jobs,users' })).toThrow(
    'ANONYMOUS_ACCESS must list some of analytics, relay, simulations, quotes (comma-separated), got unknown "jobs", "users"',
  );
});

const READS: Record<string, string> = {
  analytics: '{ analytics { states } }',
  simulations: '{ estimatePi(simulations: 1000) { simulationsDistribution } }',
  quotes: '{ quotes(protocol: TCP) { concurrency } }',
  relay: '{ restaurants { identifier } }',
};

/** What no ANONYMOUS_ACCESS opens: jobs, users, queues, logins, and every mutation of accounts, jobs or queues. */
const CLOSED = [
  '{ jobs { edges { node { id } } } }',
  '{ jobCounts { total } }',
  '{ queues { name } }',
  '{ users { totalCount } }',
  '{ loginStats { username } }',
  'mutation { submitPiJob(input: { simulations: 1000 }) { id } }',
  'mutation { submitAnalyticsJob(input: { query: BEST5, question: "x" }) { id } }',
  'mutation { createQueue(input: { name: "q" }) { name } }',
  'mutation { shutdown { draining } }',
];

describe.each([
  ['analytics,quotes', ['analytics', 'quotes'], ['simulations', 'relay']],
  ['relay,simulations', ['relay', 'simulations'], ['analytics', 'quotes']],
] as const)('ANONYMOUS_ACCESS=%s', (setting, open, closed) => {
  const upstream = startUpstream();
  upstream.routes.set('restaurant', () => upstream.json([{ identifier: 'r1', name: 'Chez Bun' }]));
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ANONYMOUS_ACCESS: setting, RELAY_UPSTREAM: upstream.base });
  });
  afterAll(async () => {
    await server.stop();
    upstream.server.stop(true);
  });
  const rest = (path: string, body?: unknown) =>
    fetch(server.url.replace('/graphql', path), {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const REST: Record<string, () => Promise<Response>> = {
    analytics: () => rest('/api/num_jobs'),
    simulations: () => rest('/pi', { simulations: 1000 }),
    quotes: () => rest('/quote', { protocol: 'udp' }),
    relay: () => rest('/relay/restaurant'),
  };

  test(`GraphQL: ${open.join(' and ')} answer without a token; ${closed.join(' and ')} are UNAUTHENTICATED`, async () => {
    for (const domain of open) {
      const result = await server.gql(READS[domain]!);
      expect({ domain, errors: result.errors }).toEqual({ domain, errors: undefined });
    }
    for (const domain of closed) {
      const result = await server.gql(READS[domain]!);
      expect({ domain, code: result.errors?.[0]?.extensions?.code }).toEqual({ domain, code: 'UNAUTHENTICATED' });
    }
  });

  test(`REST: ${open.join(' and ')} answer without credentials; ${closed.join(' and ')} are 401`, async () => {
    for (const domain of open) expect({ domain, status: (await REST[domain]!()).status }).toEqual({ domain, status: 200 });
    for (const domain of closed) expect({ domain, status: (await REST[domain]!()).status }).toEqual({ domain, status: 401 });
  });

  test('never jobs, users, queues, logins or mutations; a bad token is still refused, never anonymous', async () => {
    for (const query of CLOSED) {
      const result = await server.gql(query);
      expect({ query, code: result.errors?.[0]?.extensions?.code }).toEqual({ query, code: 'UNAUTHENTICATED' });
    }
    expect((await server.gql<{ me: null }>('{ me { id } }')).data).toEqual({ me: null });
    const badToken = await server.gql(READS[open[0]]!, {}, 'not-a-token');
    expect(badToken.status).toBe(401);
    expect((await rest('/api/graceful_shutdown')).status).toBe(401);
  });
});

describe('anonymous subscriptions and rate limits', () => {
  const clock = new FakeClock({ stopped: true });
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ANONYMOUS_ACCESS: 'quotes', RATE_LIMIT_PER_SECOND: '5' }, { clock });
  });
  afterAll(() => server.stop());

  test('quoteStream over WebSocket without a token when quotes are open; jobCompleted stays closed', async () => {
    const client = server.wsClient();
    const stream = subscribe(client, 'subscription { quoteStream(protocol: UDP, intervalMs: 100) { protocol raw } }');
    const [event] = await stream.waitFor(1);
    expect(event?.data?.quoteStream.protocol).toBe('UDP');
    stream.unsubscribe();
    const jobs = subscribe(client, 'subscription { jobCompleted { id } }');
    await jobs.waitFor(1);
    expect(JSON.stringify(jobs.error ?? jobs.events)).toContain('"code":"UNAUTHENTICATED"');
  });

  test('anonymous reads are rate-limited like every request', async () => {
    clock.advance(60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await server.gql(READS.quotes!)).status);
    expect(statuses).toContain(429);
    const rest = await fetch(server.url.replace('/graphql', '/quote'), { method: 'POST', body: JSON.stringify({ protocol: 'udp' }) });
    expect(rest.status).toBe(429);
  });
});
