import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../src/config';
import { HEAP_SPACE_GAUGES, isLoopback, metricsAllowed } from '../src/http/metrics';
import { parseExposition } from './helpers/metrics';
import { ADMIN_PASSWORD, startTestServer, subscribe, type TestServer, until } from './helpers/server';

describe('/metrics', () => {
  const upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => Response.json([{ identifier: 'r1', name: 'Chez Bun' }], { headers: { 'cache-control': 'max-age=60' } }),
  });
  let server: TestServer;
  let admin: string;
  const scrape = async (headers: Record<string, string> = {}) => {
    const response = await fetch(server.url.replace('/graphql', '/metrics'), { headers });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toStartWith('text/plain; version=0.0.4');
    return parseExposition(await response.text());
  };

  beforeAll(async () => {
    server = await startTestServer({ RELAY_UPSTREAM: `http://127.0.0.1:${upstream.port}/api/`, METRICS_TOKEN: 'a-scraper-token-of-some-length' });
    admin = await server.adminToken();
  });
  afterAll(async () => {
    await server.stop();
    upstream.stop(true);
  });

  test('jobs waiting and running now, by state, queue and kind', async () => {
    await server.gql('mutation { createQueue(input: { name: "held" }) { name } pauseQueue(name: "held") { paused } }', {}, admin);
    for (let i = 0; i < 3; i++) await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "held" }) { id } }', {}, admin);
    const held = await scrape();
    expect(held.get('jobgraph_jobs{state="QUEUED",queue="held",kind="PI"}')).toBe(3);
    expect(held.get('jobgraph_queue_depth{queue="held"}')).toBe(3);
    expect(held.get('jobgraph_queue_paused{queue="held"}')).toBe(1);
    await server.gql('mutation { resumeQueue(name: "held") { paused } }', {}, admin);
    await until(async () => (await scrape()).get('jobgraph_jobs_finished_total{state="SUCCEEDED",queue="held",kind="PI"}') === 3, 'the held jobs to finish');
    const done = await scrape();
    // Known labels stay, at 0: a dashboard shows 0 rather than "no data".
    expect(done.get('jobgraph_jobs{state="QUEUED",queue="held",kind="PI"}')).toBe(0);
    expect(done.get('jobgraph_queue_depth{queue="held"}')).toBe(0);
  });

  test('delayed jobs are counted apart: QUEUED, not yet due', async () => {
    await server.gql('mutation { createQueue(input: { name: "later" }) { name } }', {}, admin);
    for (let i = 0; i < 2; i++) await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "later", delayMs: 3600000 }) { id } }', {}, admin);
    const samples = await scrape();
    expect(samples.get('jobgraph_jobs_delayed{queue="later"}')).toBe(2);
    expect(samples.get('jobgraph_jobs{state="QUEUED",queue="later",kind="PI"}')).toBe(2);
    await server.gql('mutation { cancelJobs(filter: { queue: "later" }) }', {}, admin);
    expect((await scrape()).has('jobgraph_jobs_delayed{queue="later"}')).toBe(false);
  });

  test('process metrics and the pool are there from the start', async () => {
    const samples = await scrape();
    expect(samples.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(samples.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    // Left out: Bun walks the whole heap to answer them, on every scrape.
    expect([...samples.keys()].filter((key) => HEAP_SPACE_GAUGES.some((name) => key.startsWith(name)))).toEqual([]);
    expect(samples.get('jobgraph_pool_workers{state="busy"}')! + samples.get('jobgraph_pool_workers{state="idle"}')!).toBe(2);
    expect(samples.get('jobgraph_pool_tasks_queued')).toBe(0);
    expect(samples.get('jobgraph_queue_depth{queue="default"}')).toBe(0);
    expect(samples.get('jobgraph_queue_paused{queue="default"}')).toBe(0);
  });

  test('a finished job moves the job counts and the duration and wait histograms', async () => {
    const before = await scrape();
    const submitted = await server.gql<{ submitPiJob: { id: string } }>('mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, admin);
    const id = submitted.data!.submitPiJob.id;
    await until(async () => (await server.gql(`{ job(id: "${id}") { status } }`, {}, admin)).data?.job?.status === 'SUCCEEDED', 'the job to succeed');
    const key = 'jobgraph_jobs_finished_total{state="SUCCEEDED",queue="default",kind="PI"}';
    // On PostgreSQL another connection reads SUCCEEDED a moment before the runner hears its settle answered (beside
    // a second suite the scrape came in between): the counters follow the runner.
    let after = await scrape();
    await until(async () => (after = await scrape()).get(key) !== before.get(key), 'the counters to hear of the job');
    expect(after.get(key)).toBe((before.get(key) ?? 0) + 1);
    const durations = 'jobgraph_job_duration_seconds_count{kind="PI",state="SUCCEEDED"}';
    expect(after.get(durations)).toBe((before.get(durations) ?? 0) + 1);
    expect(after.get('jobgraph_job_wait_seconds_count{kind="PI"}')).toBe((before.get('jobgraph_job_wait_seconds_count{kind="PI"}') ?? 0) + 1);
    expect(after.get('jobgraph_job_duration_seconds_bucket{le="+Inf",kind="PI",state="SUCCEEDED"}')).toBe(after.get(durations)!);
  });

  test('GraphQL operations by type, name and outcome, with their latency', async () => {
    const ok = 'jobgraph_graphql_operation_duration_seconds_count{type="query",operation="MetricsProbe",outcome="ok"}';
    const failed = 'jobgraph_graphql_operation_duration_seconds_count{type="query",operation="MetricsProbe",outcome="error"}';
    const before = await scrape();
    await server.gql('query MetricsProbe { me { username } }', {}, admin);
    await server.gql('query MetricsProbe { me { username } }', {}, admin);
    await server.gql('query MetricsProbe($id: ID!) { job(id: $id) { id } }', { id: 'not-an-id' }, admin);
    await server.gql('query MetricsProbe { noSuchField }', {}, admin);
    const after = await scrape();
    const rejected = 'jobgraph_graphql_rejected_documents_total';
    expect(after.get(rejected)).toBe((before.get(rejected) ?? 0) + 1);
    expect(after.get(ok)).toBe((before.get(ok) ?? 0) + 2);
    expect(after.get(failed)).toBe((before.get(failed) ?? 0) + 1);
    expect(after.get('jobgraph_graphql_operation_duration_seconds_sum{type="query",operation="MetricsProbe",outcome="ok"}')).toBeGreaterThan(0);
  });

  test('failed and throttled logins', async () => {
    const user = await server.userWithRole('USER');
    const wrong = 'jobgraph_login_failures_total{reason="wrong password"}';
    const before = await scrape();
    const attempt = () =>
      server.gql('mutation($u: String!) { login(username: $u, password: "not the password") { token } }', { u: user.username });
    for (let i = 0; i < 5; i++) await attempt();
    const throttled = await attempt();
    expect(throttled.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const after = await scrape();
    expect(after.get(wrong)).toBe((before.get(wrong) ?? 0) + 5);
    expect(after.get('jobgraph_login_throttled_total')).toBe((before.get('jobgraph_login_throttled_total') ?? 0) + 1);
    expect(await server.login('admin', ADMIN_PASSWORD)).toBeString();
  });

  test('WebSocket connections and active subscriptions rise and fall', async () => {
    const client = server.wsClient(admin);
    const listening = server.nextSubscriptions('loginEvents');
    const sub = subscribe(client, 'subscription LoginWatch { loginEvents { username } }');
    await listening;
    const open = await scrape();
    expect(open.get('jobgraph_websocket_connections')).toBe(1);
    expect(open.get('jobgraph_subscriptions_active')).toBe(1);
    expect(open.get('jobgraph_graphql_subscriptions_started_total{operation="LoginWatch"}')).toBe(1);
    sub.unsubscribe();
    await client.dispose();
    await until(async () => (await scrape()).get('jobgraph_websocket_connections') === 0, 'the socket to close');
    expect((await scrape()).get('jobgraph_subscriptions_active')).toBe(0);
  });

  test('relay cache hits and misses; answers from the GraphQL response cache', async () => {
    const before = await scrape();
    const user = await server.userWithRole('USER');
    await server.gql('{ restaurants { name } }', {}, user.token);
    // The same document again comes from the response cache; another one reads the relay's cache.
    await server.gql('{ restaurants { name } }', {}, user.token);
    await server.gql('{ restaurants { identifier } }', {}, user.token);
    const after = await scrape();
    expect(after.get('jobgraph_relay_cache_misses_total')).toBe(before.get('jobgraph_relay_cache_misses_total')! + 1);
    expect(after.get('jobgraph_relay_cache_hits_total')).toBe(before.get('jobgraph_relay_cache_hits_total')! + 1);
    expect(after.get('jobgraph_graphql_response_cache_hits_total')).toBe(before.get('jobgraph_graphql_response_cache_hits_total')! + 1);
    expect(after.get('jobgraph_relay_cache_stale_total')).toBe(0);
  });

  test('a loopback scraper needs no token; a wrong token from loopback changes nothing', async () => {
    await scrape({ authorization: 'Bearer wrong' });
    await scrape({ authorization: 'Bearer a-scraper-token-of-some-length' });
  });

  test('through a reverse proxy on the same host (its forwarding headers), loopback is anyone: the token is needed', async () => {
    const metricsUrl = server.url.replace('/graphql', '/metrics');
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const refused = await fetch(metricsUrl, { headers: { [header]: header === 'forwarded' ? 'for=203.0.113.7' : '203.0.113.7' } });
      expect([header, refused.status]).toEqual([header, 403]);
      const body = (await refused.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('FORBIDDEN');
      expect(body.errors[0]!.message).toContain('METRICS_TOKEN');
    }
    await scrape({ 'x-forwarded-for': '203.0.113.7', authorization: 'Bearer a-scraper-token-of-some-length' });
  });

  test('an operation name longer than 100 characters counts as `other`: no client can make a scrape megabytes long', async () => {
    const before = await scrape();
    const long = `Long${'x'.repeat(200_000)}`;
    for (const suffix of ['A', 'B']) {
      const answer = await server.gql(`query ${long}${suffix} { me { id } }`);
      expect(answer.status).toBe(200);
      await server.gql(`subscription ${long}${suffix} { quoteStream(protocol: TCP) { text } }`);
    }
    const response = await fetch(server.url.replace('/graphql', '/metrics'));
    const text = await response.text();
    expect(text).not.toContain('x'.repeat(101));
    expect(text.length).toBeLessThan(200_000);
    const other = 'jobgraph_graphql_operation_duration_seconds_count{type="query",operation="other",outcome="ok"}';
    expect(parseExposition(text).get(other)! - (before.get(other) ?? 0)).toBe(2);
  });

  test('operation names are the client’s: past 200 per type they count as `other`', async () => {
    const before = await scrape();
    const other = 'jobgraph_graphql_operation_duration_seconds_count{type="query",operation="other",outcome="ok"}';
    for (let i = 0; i < 230; i++) await server.gql(`query Flood${i} { __typename }`);
    const after = await scrape();
    const queryNames = new Set([...after.keys()].filter((key) => key.startsWith('jobgraph_graphql_operation_duration_seconds_count{type="query"')).map((key) => /operation="([^"]*)"/.exec(key)![1]));
    // 200 names, `other`, and `anonymous` for operations without a name.
    expect(queryNames.size).toBeLessThanOrEqual(202);
    expect(queryNames.has('other')).toBe(true);
    expect(after.get(other)! - (before.get(other) ?? 0)).toBeGreaterThanOrEqual(30);
    // The same names again add no label set and keep counting where they counted.
    for (let i = 0; i < 230; i++) await server.gql(`query Flood${i} { __typename }`);
    const again = await scrape();
    expect(again.get(other)! - after.get(other)!).toBe(after.get(other)! - (before.get(other) ?? 0));
  });
});

describe('who may read /metrics', () => {
  test('loopback addresses, IPv4, IPv6 and IPv4-mapped', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address)).toBe(true);
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.127', '::2', null]) expect(isLoopback(address)).toBe(false);
  });

  test('a remote scraper only with the configured Bearer token', () => {
    const token = 'a-scraper-token-of-some-length';
    expect(metricsAllowed('10.0.0.5', null, undefined)).toBe(false);
    expect(metricsAllowed('10.0.0.5', `Bearer ${token}`, undefined)).toBe(false);
    expect(metricsAllowed('10.0.0.5', null, token)).toBe(false);
    expect(metricsAllowed('10.0.0.5', 'Bearer wrong', token)).toBe(false);
    expect(metricsAllowed('10.0.0.5', `Bearer ${token}x`, token)).toBe(false);
    expect(metricsAllowed('10.0.0.5', `Bearer ${token}`, token)).toBe(true);
    expect(metricsAllowed('10.0.0.5', `bearer  ${token}`, token)).toBe(true);
    // Loopback through a proxy is any client.
    expect(metricsAllowed('127.0.0.1', null, token, true)).toBe(false);
    expect(metricsAllowed('127.0.0.1', `Bearer ${token}`, token, true)).toBe(true);
  });

  test('METRICS_TOKEN must be long enough to resist guessing', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow('METRICS_TOKEN must be at least 16 characters, got 5');
    expect(loadConfig({ METRICS_TOKEN: 'sixteen-chars-ok' }).metricsToken).toBe('sixteen-chars-ok');
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });
});
