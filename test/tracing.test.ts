// OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, one trace runs from the HTTP request through GraphQL's parse,
// validate and execute to the job it submitted — its queue wait, each attempt, its completion — exported over
// OTLP/HTTP to a receiver in this test (Bun.serve on 127.0.0.1), and continuing a caller's `traceparent`.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  status?: { code?: number };
}

/** An OTLP/HTTP (JSON) trace receiver: every span it was sent. */
function startReceiver() {
  const spans: ReceivedSpan[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      if (new URL(request.url).pathname !== '/v1/traces') return new Response('no', { status: 404 });
      const body = (await request.json()) as any;
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            const attributes = Object.fromEntries((span.attributes ?? []).map((a: any) => [a.key, Object.values(a.value ?? {})[0]]));
            spans.push({ ...span, attributes, parentSpanId: span.parentSpanId || undefined });
          }
        }
      }
      return Response.json({});
    },
  });
  return { server, spans, endpoint: `http://127.0.0.1:${server.port}` };
}

describe('tracing to OTLP', () => {
  const receiver = startReceiver();
  let server: TestServer;
  let spans: ReceivedSpan[];
  let stored: { job_id: number; traceparent: string }[];
  const callerTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpanId = '00f067aa0ba902b7';

  beforeAll(async () => {
    server = await startTestServer({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: 'jobgraph-test', JOB_RETRY_BASE_MS: '10' });
    const token = await server.adminToken();
    const submit = async (query: string, headers: Record<string, string> = {}) => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: JSON.stringify({ query }),
      });
      return ((await response.json()) as any).data;
    };
    const pi = await submit('mutation Submit { submitPiJob(input: { simulations: 1000, seed: 1 }) { id } }', {
      traceparent: `00-${callerTraceId}-${callerSpanId}-01`,
    });
    const failing = await submit('mutation Fails { submitDiagnosticJobs(input: { behavior: THROW, maxAttempts: 2 }) { id } }');
    const ids = [pi.submitPiJob.id, failing.submitDiagnosticJobs[0].id];
    for (const id of ids) {
      const client = server.wsClient(token);
      for await (const _ of client.iterate({ query: 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', variables: { id } })) {
        // until its final state
      }
    }
    stored = await server.sql<{ job_id: number; traceparent: string }>('SELECT job_id, traceparent FROM job_trace_contexts ORDER BY job_id');
    // Stopping flushes what is buffered to the receiver.
    await server.stop();
    spans = receiver.spans;
  }, 60_000);
  afterAll(() => receiver.server.stop(true));

  const named = (name: string, traceId: string) => spans.filter((span) => span.name === name && span.traceId === traceId);

  test('the request’s span continues the caller’s traceparent; parse, validate and execute are its children', () => {
    const [http] = spans.filter((span) => span.traceId === callerTraceId && span.name === 'POST /graphql');
    expect(http).toBeDefined();
    expect(http!.parentSpanId).toBe(callerSpanId);
    expect(http!.attributes['http.response.status_code']).toBe(200);
    const [parse] = named('graphql.parse', callerTraceId);
    const [validate] = named('graphql.validate', callerTraceId);
    const [execute] = named('mutation.Submit', callerTraceId);
    for (const child of [parse, validate, execute]) expect(child?.parentSpanId).toBe(http!.spanId);
  });

  test('the job it submitted: queue wait, attempt and completion, in the same trace under execute', () => {
    const [execute] = named('mutation.Submit', callerTraceId);
    const [wait] = named('job.queue_wait', callerTraceId);
    const [attempt] = named('job.attempt PI', callerTraceId);
    const [complete] = named('job.complete', callerTraceId);
    for (const span of [wait, attempt, complete]) expect(span?.parentSpanId).toBe(execute!.spanId);
    expect(attempt!.attributes['jobgraph.job.attempt']).toBe(1);
    expect(complete!.attributes['jobgraph.job.status']).toBe('SUCCEEDED');
  });

  test('a job that retries: one span per attempt, both errors, and a FAILED completion', () => {
    const execute = spans.find((span) => span.name === 'mutation.Fails')!;
    expect(execute.traceId).not.toBe(callerTraceId);
    const attempts = named('job.attempt DIAGNOSTIC', execute.traceId);
    expect(attempts.map((span) => span.attributes['jobgraph.job.attempt']).sort()).toEqual([1, 2]);
    for (const span of attempts) expect(span.status?.code).toBe(2);
    expect(named('job.queue_wait', execute.traceId)).toHaveLength(2);
    const [complete] = named('job.complete', execute.traceId);
    expect(complete!.attributes['jobgraph.job.status']).toBe('FAILED');
    expect(complete!.attributes['jobgraph.job.attempts']).toBe(2);
  });

  test('the trace context is stored with the job (job_trace_contexts), for whichever instance runs it', () => {
    expect(stored).toHaveLength(2);
    const execute = spans.find((span) => span.name === 'mutation.Submit')!;
    // The submitter's span: the execute span of the request that submitted it.
    expect(stored[0]!.traceparent).toBe(`00-${callerTraceId}-${execute.spanId}-01`);
  });
});

test('without OTEL_EXPORTER_OTLP_ENDPOINT no OpenTelemetry module is loaded', async () => {
  const script = `
    import { mkdtempSync, rmSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { loadConfig } from './src/config';
    import { createApp } from './src/app';
    import { createLogger } from './src/logger';
    const dir = mkdtempSync(tmpdir() + '/jobgraph-otel-');
    const env = { DATABASE_PATH: dir + '/db', ADMIN_PASSWORD: 'a-long-enough-password', LOG_LEVEL: 'silent', WORKERS: '1', ANALYTICS_CSV: 'test/fixtures/analytics.csv' };
    if (process.env.ENDPOINT) env.OTEL_EXPORTER_OTLP_ENDPOINT = process.env.ENDPOINT;
    const app = await createApp(loadConfig(env), createLogger({ level: 'silent' }));
    console.log(Object.keys(require.cache).filter((path) => path.includes('/@opentelemetry/') || path.includes('/@envelop/opentelemetry/')).length);
    await app.close();
    rmSync(dir, { recursive: true, force: true });`;
  const loaded = async (endpoint = '') => {
    const child = Bun.spawn(['bun', '-e', script], { cwd: `${import.meta.dir}/..`, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, ENDPOINT: endpoint } });
    const [out, code] = [await new Response(child.stdout).text(), await child.exited];
    expect(code).toBe(0);
    return Number(out.trim());
  };
  expect(await loaded()).toBe(0);
  // The same count sees them when tracing is on (so the zero above is not a blind check).
  expect(await loaded('http://127.0.0.1:9')).toBeGreaterThan(0);
}, 60_000);
