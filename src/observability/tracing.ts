// OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set: the SDK and the OTLP/HTTP exporter are
// imported then, never otherwise (start-up memory). One trace follows a request: the HTTP span, GraphQL's parse,
// validate and execute (see src/graphql/tracing.ts), and for a job submitted by it, its queue wait, each attempt and
// its completion. The submitter's `traceparent` is stored with the job (job_trace_contexts), so whichever instance
// runs the job continues the same trace, and the attempt runs inside its span.
import { type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Database } from '../db/client';
import type { Job } from '../db/schema';
import type { JobRunObserver } from '../jobs/runner';
import * as sql from './sql';

export interface TracingOptions {
  endpoint: string | undefined;
  serviceName: string;
}

export interface Tracing {
  tracer: Tracer;
  /** Runs `handle` inside a SERVER span for the request (continuing the caller's `traceparent`, if sent). */
  inRequestSpan<T extends Response | undefined>(request: Request, pathname: string, handle: () => Promise<T>): Promise<T>;
  /** Yoga's plugins: a span for parse and for validate (when they run: repeated documents skip both), and execute's. */
  graphqlPlugins: { tracedPhases: Plugin; tracedExecution: Plugin };
  /** Stores the submitter's trace context with each job; spans for each attempt and the completion. */
  jobObserver: JobRunObserver;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Trace contexts of jobs kept in memory for the attempts run here (the table has them all). */
const REMEMBERED_CONTEXTS = 10_000;

type Propagator = { inject(ctx: Context, carrier: unknown, setter: unknown): void; extract(ctx: Context, carrier: unknown, getter: unknown): Context };
const recordSetter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };
const recordGetter = {
  get: (carrier: Record<string, string>, key: string) => carrier[key],
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
};
const headersGetter = {
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
  keys: (headers: Headers) => [...headers.keys()],
};

export async function startTracing(options: TracingOptions, database: Database, log: Logger): Promise<Tracing | null> {
  if (!options.endpoint) return null;
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { resourceFromAttributes }, { useOpenTelemetry }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
      import('@envelop/opentelemetry'),
    ]);
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  // The active span follows async calls (AsyncLocalStorage); set once per process (a second app finds it set).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = new W3CTraceContextPropagator() as unknown as Propagator;
  const tracer = provider.getTracer('jobgraph');
  const remembered = new Map<number, string>();

  const traceparentOf = (ctx: Context): string | undefined => {
    const carrier: Record<string, string> = {};
    propagator.inject(ctx, carrier, recordSetter);
    return carrier.traceparent;
  };
  const contextOf = (traceparent: string): Context => propagator.extract(ROOT_CONTEXT, { traceparent }, recordGetter);

  async function storedContext(jobId: number): Promise<Context | undefined> {
    let traceparent = remembered.get(jobId);
    if (traceparent === undefined) {
      traceparent = (await database.first<{ traceparent: string }>(sql.traceContextOf, { jobId }))?.traceparent;
    }
    return traceparent ? contextOf(traceparent) : undefined;
  }

  function remember(jobId: number, traceparent: string): void {
    if (remembered.size >= REMEMBERED_CONTEXTS) remembered.delete(remembered.keys().next().value!);
    remembered.set(jobId, traceparent);
  }

  /** A span already over: its times are the job's own (they happened before anyone could start a span for them). */
  function pastSpan(name: string, parent: Context, start: Date, end: Date, attributes: Record<string, string | number>): void {
    tracer.startSpan(name, { startTime: start, attributes }, parent).end(end);
  }

  const jobAttributes = (job: Job) => ({ 'jobgraph.job.id': job.id, 'jobgraph.job.kind': job.kind, 'jobgraph.job.queue': job.queue });
  /** The attempt spans open on this instance, by job id. */
  const attempts = new Map<number, Span>();

  const jobObserver: JobRunObserver = {
    submitted(jobIds) {
      const traceparent = trace.getSpan(context.active()) ? traceparentOf(context.active()) : undefined;
      if (!traceparent) return;
      for (const jobId of jobIds) remember(jobId, traceparent);
      // Behind the answer: a lost row costs the job its link to this trace, never the job.
      database
        .exec(sql.storeTraceContexts, { jobIds: JSON.stringify(jobIds), traceparent })
        .catch((error: unknown) => log.warn({ err: error }, 'storing the jobs’ trace context failed'));
    },
    async attempt(job, run) {
      const parent = await storedContext(job.id).catch(() => undefined);
      if (!parent) return run();
      const started = job.startedAt ?? new Date();
      // Waiting: from when it could first run (or its retry time) to this attempt's claim.
      const waitedFrom = new Date(Math.min(started.getTime(), Math.max(job.createdAt.getTime(), job.runAt.getTime())));
      pastSpan('job.queue_wait', parent, waitedFrom, started, { ...jobAttributes(job), 'jobgraph.job.attempt': job.attempts });
      const span = tracer.startSpan(`job.attempt ${job.kind}`, { startTime: started, attributes: { ...jobAttributes(job), 'jobgraph.job.attempt': job.attempts } }, parent);
      attempts.set(job.id, span);
      // The kind's run (and anything it traces) is inside the attempt.
      return context.with(trace.setSpan(parent, span), run);
    },
    settled(job) {
      const span = attempts.get(job.id);
      if (!span) return;
      attempts.delete(job.id);
      const ended = job.finishedAt ?? new Date();
      span.setAttribute('jobgraph.job.status', job.status);
      if (job.status !== 'SUCCEEDED') span.setStatus({ code: SpanStatusCode.ERROR, message: job.error ?? job.status });
      span.end(ended);
      if (job.status === 'QUEUED') return;
      const parent = remembered.has(job.id) ? contextOf(remembered.get(job.id)!) : trace.setSpan(ROOT_CONTEXT, span);
      const completion = tracer.startSpan('job.complete', { startTime: ended, attributes: { ...jobAttributes(job), 'jobgraph.job.status': job.status, 'jobgraph.job.attempts': job.attempts } }, parent);
      if (job.status !== 'SUCCEEDED') completion.setStatus({ code: SpanStatusCode.ERROR, message: job.error ?? job.status });
      completion.end(ended);
      remembered.delete(job.id);
    },
  };

  /** A span around one phase (parse, validate), ended by the hook's done callback; an error marks it. */
  const phase = (name: string) => {
    const span = tracer.startSpan(name, {}, context.active());
    return (failed: boolean) => {
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
  };
  const graphqlPlugins = {
    tracedPhases: {
      onParse() {
        const end = phase('graphql.parse');
        return ({ result }) => end(result instanceof Error);
      },
      onValidate() {
        const end = phase('graphql.validate');
        return ({ valid }) => end(!valid);
      },
    } satisfies Plugin,
    // Execute's span, named `<type>.<operationName>`: no document, variables or result recorded (they may hold secrets).
    tracedExecution: useOpenTelemetry({ resolvers: false, variables: false, result: false, document: false }, { getTracer: () => tracer } as never, SpanKind.INTERNAL) as Plugin,
  };

  log.info({ endpoint: options.endpoint, serviceName: options.serviceName }, 'tracing to OTLP');
  return {
    tracer,
    graphqlPlugins,
    jobObserver,
    async inRequestSpan(request, pathname, handle) {
      const parent = propagator.extract(ROOT_CONTEXT, request.headers, headersGetter);
      const span = tracer.startSpan(`${request.method} ${pathname}`, {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'url.path': pathname },
      }, parent);
      try {
        const response = await context.with(trace.setSpan(parent, span), handle);
        const status = response?.status ?? 101;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        return response;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
    async shutdown() {
      for (const span of attempts.values()) span.end();
      attempts.clear();
      await provider.shutdown().catch((error: unknown) => log.warn({ err: error }, 'flushing traces failed'));
    },
  };
}
