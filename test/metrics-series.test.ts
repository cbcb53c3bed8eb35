// /metrics beyond the basics: GraphQL's phase timings, errors by code, HTTP durations by status, job retries, the
// oldest waiting job per queue, zero-valued series for the labels known in advance — and the whole exposition
// accepted by `promtool check metrics` (Debian's prometheus package; required under JOBGRAPH_REQUIRE_ALL).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { optionalTool } from './helpers/required';
import { parseExposition } from './helpers/metrics';
import { startTestServer, type TestServer, until } from './helpers/server';

const promtool = optionalTool(Bun.which('promtool'), 'promtool (apt-get install prometheus)');

describe('/metrics series', () => {
  let server: TestServer;
  let admin: string;
  const text = async () => {
    const response = await fetch(server.url.replace('/graphql', '/metrics'));
    expect(response.status).toBe(200);
    return response.text();
  };
  const scrape = async () => parseExposition(await text());

  beforeAll(async () => {
    server = await startTestServer({ JOB_RETRY_BASE_MS: '10' });
    admin = await server.adminToken();
  });
  afterAll(() => server.stop());

  test('a fresh server exports zero-valued series for every queue, kind, state, phase and error code', async () => {
    const fresh = await scrape();
    expect(fresh.get('jobgraph_jobs{state="QUEUED",queue="default",kind="PI"}')).toBe(0);
    expect(fresh.get('jobgraph_jobs{state="RUNNING",queue="default",kind="CALC"}')).toBe(0);
    expect(fresh.get('jobgraph_jobs_finished_total{state="FAILED",queue="default",kind="DIAGNOSTIC"}')).toBe(0);
    expect(fresh.get('jobgraph_job_retries_total{queue="default",kind="PI"}')).toBe(0);
    expect(fresh.get('jobgraph_queue_oldest_waiting_seconds{queue="default"}')).toBe(0);
    expect(fresh.get('jobgraph_graphql_errors_total{code="NOT_FOUND"}')).toBe(0);
    expect(fresh.get('jobgraph_graphql_phase_duration_seconds_count{phase="execute"}')).toBeNumber();
  });

  test('phases, errors by code, HTTP durations by status', async () => {
    const before = await scrape();
    await server.gql('mutation { cancelJob(id: "999999") { id } }', {}, admin);
    const invalid = await server.gql('{ nope }', {}, admin);
    await server.gql('{ me { id', {}, admin);
    await fetch(server.url.replace('/graphql', '/nowhere'));
    const after = await scrape();
    const grew = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(grew('jobgraph_graphql_errors_total{code="NOT_FOUND"}')).toBe(1);
    // Each error of the answer counts (an unknown field is reported by two rules).
    expect(grew('jobgraph_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}')).toBe(invalid.errors!.length);
    expect(grew('jobgraph_graphql_errors_total{code="GRAPHQL_PARSE_FAILED"}')).toBe(1);
    // First sights: the fast path's look and Yoga's own, when the fast path hands a document over.
    expect(grew('jobgraph_graphql_phase_duration_seconds_count{phase="parse"}')).toBeGreaterThanOrEqual(3);
    expect(grew('jobgraph_graphql_phase_duration_seconds_count{phase="validate"}')).toBeGreaterThanOrEqual(2);
    expect(grew('jobgraph_graphql_phase_duration_seconds_count{phase="execute"}')).toBe(1);
    expect(grew('jobgraph_http_request_duration_seconds_count{route="other",method="GET",status="404"}')).toBe(1);
    expect(grew('jobgraph_http_request_duration_seconds_count{route="/graphql",method="POST",status="200"}')).toBeGreaterThanOrEqual(2);
  });

  test('retries by queue and kind; the oldest waiting job’s age per queue', async () => {
    await server.gql('mutation { submitDiagnosticJobs(input: { behavior: THROW, maxAttempts: 3 }) { id } }', {}, admin);
    await until(async () => (await scrape()).get('jobgraph_job_retries_total{queue="default",kind="DIAGNOSTIC"}') === 2, 'two retries');
    await server.gql('mutation { createQueue(input: { name: "stuck" }) { name } pauseQueue(name: "stuck") { paused } }', {}, admin);
    await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "stuck" }) { id } }', {}, admin);
    await Bun.sleep(20);
    const waiting = (await scrape()).get('jobgraph_queue_oldest_waiting_seconds{queue="stuck"}')!;
    expect(waiting).toBeGreaterThan(0);
    await Bun.sleep(20);
    expect((await scrape()).get('jobgraph_queue_oldest_waiting_seconds{queue="stuck"}')!).toBeGreaterThan(waiting);
  });

  test.skipIf(!promtool)('promtool check metrics accepts the whole exposition', async () => {
    const exposition = await text();
    const child = Bun.spawn([promtool!, 'check', 'metrics'], { stdin: new TextEncoder().encode(exposition), stdout: 'pipe', stderr: 'pipe' });
    const [code, out, err] = [await child.exited, await new Response(child.stdout).text(), await new Response(child.stderr).text()];
    expect({ code, problems: `${out}${err}`.trim() }).toEqual({ code: 0, problems: '' });
  });
});
