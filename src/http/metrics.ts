// GET /metrics: the Prometheus text format through prom-client. Counts come from what the services already keep
// (the jobs waiting or running, the pool's slots, the relay's counters) read at scrape time, and from the event bus
// (finished jobs, logins); the request path adds only a histogram observation per GraphQL operation. Finished jobs
// are counters fed by events, not a count of the table: a scrape never reads the history kept.
import { createHash, timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { App } from '../app';
import { JOB_KINDS } from '../db/schema';
import type { DocumentCaches } from '../graphql/document-caches';
import { ErrorCode } from '../errors';
import type { GraphQLPhase } from '../graphql/phase-metrics';
import { oldestWaitingByQueue } from '../observability/job-ages';
import { errorResponse } from './responses';

/** Distinct operation names kept as labels per operation type; past this, names count as `other` (clients choose them). */
const MAX_OPERATION_NAMES = 200;
/** A longer name counts as `other` too: each label is written on every line of its series at every scrape. */
const MAX_OPERATION_NAME_LENGTH = 100;

const SECONDS_BUCKETS_FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SECONDS_BUCKETS_JOBS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Job states a gauge of active jobs reports, each at 0 when none: a dashboard shows 0, not "no data". */
const ACTIVE_STATES = ['QUEUED', 'RUNNING'] as const;
const FINAL_STATES = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
/** Codes an answer's errors may carry: ours, and GraphQL's for documents that do not parse or validate. */
const ERROR_CODES = [...Object.values(ErrorCode), 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED'];
const PHASES: readonly GraphQLPhase[] = ['parse', 'validate', 'execute'];
/** The routes HTTP durations are labelled by (anything else is `other`): the label set stays bounded. */
const HTTP_ROUTES = ['/graphql', '/relay', '/api', '/pi', '/quote', '/dashboard', '/health', '/ready', '/metrics'];
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** The route label of a path: the first segment when it is one of HTTP_ROUTES (`/` is the dashboard's). */
export function httpRouteLabel(pathname: string): string {
  if (pathname === '/') return '/dashboard';
  const first = `/${pathname.replace(/^\/+/, '').split('/')[0]}`;
  return HTTP_ROUTES.includes(first) ? first : 'other';
}

/** What the transport reports at scrape time: open sockets, live operations (WebSocket and SSE). */
export interface TransportGauges {
  websocketConnections(): number;
  liveOperations(): number;
}

/** A GraphQL operation finished: its type, name (null when anonymous), outcome and duration. */
export type OperationObserver = (type: string, name: string | null, outcome: 'ok' | 'error', seconds: number) => void;

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The process's own metrics (CPU, memory, event loop lag, heap, handles): one set per process, however many apps it
 * runs (the tests run many), so one event-loop monitor, not one per app.
 */
let processRegistry: Registry | undefined;
/** prom-client's per-heap-space gauges, left out (above). */
export const HEAP_SPACE_GAUGES = ['nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_heap_space_size_available_bytes'];
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    // Gauges named like counters (`_total`), which promtool refuses; each is the sum of its by-type family beside it.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) processRegistry.removeSingleMetric(name);
    // Bun answers v8.getHeapSpaceStatistics() by walking the whole heap (~35 ms per 500,000 objects), so these three
    // stalled the event loop on every scrape; nodejs_heap_size_{total,used}_bytes (process.memoryUsage) stay.
    for (const name of HEAP_SPACE_GAUGES) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

export function createMetrics(app: App) {
  const registry = new Registry();
  const perProcess = processMetrics();
  const registers = [registry];

  new Gauge({
    name: 'jobgraph_jobs',
    help: 'Jobs waiting (QUEUED) or running (RUNNING) now, by state, queue and kind.',
    labelNames: ['state', 'queue', 'kind'],
    registers,
    async collect() {
      const counts = await app.jobs.countActiveByQueueKind();
      this.reset();
      for (const queue of app.queues.list()) for (const kind of JOB_KINDS) for (const state of ACTIVE_STATES) this.set({ state, queue: queue.name, kind }, 0);
      for (const { status, queue, kind, n } of counts) this.set({ state: status, queue, kind }, n);
    },
  });
  new Gauge({
    name: 'jobgraph_jobs_delayed',
    help: 'QUEUED jobs not yet due (a runAt or delayMs ahead, or a retry backoff), by queue: part of jobgraph_jobs{state="QUEUED"}.',
    labelNames: ['queue'],
    registers,
    async collect() {
      const counts = await app.jobs.countDelayedByQueue();
      this.reset();
      for (const { queue, n } of counts) this.set({ queue }, n);
    },
  });
  const jobsFinished = new Counter({
    name: 'jobgraph_jobs_finished_total',
    help: 'Jobs that reached a final state (SUCCEEDED, FAILED, CANCELLED) since the process started, by state, queue and kind.',
    labelNames: ['state', 'queue', 'kind'],
    registers,
    collect() {
      for (const queue of app.queues.list()) for (const kind of JOB_KINDS) for (const state of FINAL_STATES) this.inc({ state, queue: queue.name, kind }, 0);
    },
  });
  const jobRetries = new Counter({
    name: 'jobgraph_job_retries_total',
    help: 'Job attempts run here that failed and were queued again for a retry, by queue and kind.',
    labelNames: ['queue', 'kind'],
    registers,
    collect() {
      for (const queue of app.queues.list()) for (const kind of JOB_KINDS) this.inc({ queue: queue.name, kind }, 0);
    },
  });
  app.jobRunObservers.push({
    settled(job) {
      if (job.status === 'QUEUED') jobRetries.inc({ queue: job.queue, kind: job.kind });
    },
  });
  new Gauge({
    name: 'jobgraph_queue_oldest_waiting_seconds',
    help: 'How long the oldest runnable QUEUED job of each queue has waited (0 when none waits).',
    labelNames: ['queue'],
    registers,
    async collect() {
      const now = Date.now();
      const oldest = await oldestWaitingByQueue(app.database, now);
      this.reset();
      for (const queue of app.queues.list()) {
        const since = oldest.get(queue.name);
        this.set({ queue: queue.name }, since === undefined ? 0 : Math.max(0, now - since) / 1000);
      }
    },
  });
  new Gauge({
    name: 'jobgraph_queue_depth',
    help: 'QUEUED jobs waiting in each queue (the number its maxLength limits).',
    labelNames: ['queue'],
    registers,
    async collect() {
      const queues = app.queues.list();
      const depths = await Promise.all(queues.map((queue) => app.jobs.waitingCount(queue.name)));
      this.reset();
      queues.forEach((queue, i) => this.set({ queue: queue.name }, depths[i]!));
    },
  });
  new Gauge({
    name: 'jobgraph_queue_paused',
    help: '1 while a queue is paused, else 0.',
    labelNames: ['queue'],
    registers,
    collect() {
      this.reset();
      for (const queue of app.queues.list()) this.set({ queue: queue.name }, queue.paused ? 1 : 0);
    },
  });

  const jobDuration = new Histogram({
    name: 'jobgraph_job_duration_seconds',
    help: 'Run time of finished jobs (start of the last attempt to the end), by kind and final state.',
    labelNames: ['kind', 'state'],
    buckets: SECONDS_BUCKETS_JOBS,
    registers,
  });
  const jobWait = new Histogram({
    name: 'jobgraph_job_wait_seconds',
    help: 'Time finished jobs waited runnable in their queue before their last attempt started, by kind.',
    labelNames: ['kind'],
    buckets: SECONDS_BUCKETS_JOBS,
    registers,
  });
  app.events.on('jobCompleted', (job) => {
    jobsFinished.inc({ state: job.status, queue: job.queue, kind: job.kind });
    if (!job.startedAt) return;
    const started = job.startedAt.getTime();
    if (job.finishedAt) jobDuration.observe({ kind: job.kind, state: job.status }, Math.max(0, job.finishedAt.getTime() - started) / 1000);
    const runnableSince = Math.max(job.createdAt.getTime(), job.runAt.getTime());
    jobWait.observe({ kind: job.kind }, Math.max(0, started - runnableSince) / 1000);
  });

  new Gauge({
    name: 'jobgraph_pool_workers',
    help: 'Worker pool threads running a task (busy) or not (idle).',
    labelNames: ['state'],
    registers,
    collect() {
      const { busy, idle } = app.pool.stats();
      this.set({ state: 'busy' }, busy);
      this.set({ state: 'idle' }, idle);
    },
  });
  new Gauge({
    name: 'jobgraph_pool_tasks_queued',
    help: 'Pool tasks waiting for a free worker.',
    registers,
    collect() {
      this.set(app.pool.stats().tasksQueued);
    },
  });

  const relayCounter = (name: string, help: string, read: (stats: App['relay']['stats']) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(app.relay.stats));
      },
    });
  relayCounter('jobgraph_relay_cache_hits_total', 'Relay requests answered from a fresh cache entry, without the upstream.', (s) => s.hits);
  relayCounter('jobgraph_relay_cache_misses_total', 'Relay requests that went to the upstream (no entry, or one to revalidate).', (s) => s.requests);
  relayCounter('jobgraph_relay_cache_revalidations_total', 'Upstream requests answered 304: the stale entry was fresh again.', (s) => s.revalidations);
  relayCounter('jobgraph_relay_cache_stale_total', 'Stale entries served because the upstream failed.', (s) => s.stale);

  new Counter({
    name: 'jobgraph_redis_events_dropped_total',
    help: 'Messages (or events in them) from the Redis events channel dropped: unsigned, malformed, stale (a replay) or invalid_event (a payload its topic refuses).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(app.events.droppedRemote)) this.inc({ reason }, count);
    },
  });

  const loginFailures = new Counter({
    name: 'jobgraph_login_failures_total',
    help: 'Failed logins by reason (unknown user, wrong password, account disabled, throttled).',
    labelNames: ['reason'],
    registers,
  });
  const loginThrottled = new Counter({
    name: 'jobgraph_login_throttled_total',
    help: 'Logins refused by the failed-login throttle (per username or per address).',
    registers,
  });
  app.events.on('loginEvents', (event) => {
    if (event.success) return;
    loginFailures.inc({ reason: event.reason ?? 'unknown' });
    if (event.reason === 'throttled') loginThrottled.inc();
  });

  const operationSeconds = new Histogram({
    name: 'jobgraph_graphql_operation_duration_seconds',
    help: 'GraphQL queries and mutations (HTTP and WebSocket) by type, operation name and outcome; _count is the number of operations.',
    labelNames: ['type', 'operation', 'outcome'],
    buckets: SECONDS_BUCKETS_FAST,
    registers,
  });
  const subscriptionsStarted = new Counter({
    name: 'jobgraph_graphql_subscriptions_started_total',
    help: 'GraphQL subscriptions started, by operation name.',
    labelNames: ['operation'],
    registers,
  });
  const rejectedDocuments = new Counter({
    name: 'jobgraph_graphql_rejected_documents_total',
    help: 'GraphQL documents refused by validation (unknown fields, depth, cost, aliases), never executed.',
    registers,
  });
  const phaseSeconds = new Histogram({
    name: 'jobgraph_graphql_phase_duration_seconds',
    help: 'Time GraphQL spends in each phase: parse and validate (a document not seen before), execute.',
    labelNames: ['phase'],
    buckets: SECONDS_BUCKETS_FAST,
    registers,
  });
  for (const phase of PHASES) phaseSeconds.zero({ phase });
  const errorsByCode = new Counter({
    name: 'jobgraph_graphql_errors_total',
    help: 'Errors in GraphQL answers (HTTP and WebSocket), by extensions.code.',
    labelNames: ['code'],
    registers,
  });
  for (const code of ERROR_CODES) errorsByCode.inc({ code }, 0);
  const httpSeconds = new Histogram({
    name: 'jobgraph_http_request_duration_seconds',
    help: 'HTTP requests from arrival to the answer’s headers (a stream’s length not included), by route, method and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: SECONDS_BUCKETS_FAST,
    registers,
  });
  const cachedAnswers = new Counter({
    name: 'jobgraph_graphql_response_cache_hits_total',
    help: 'GraphQL requests answered from the response cache without executing.',
    registers,
  });
  // One child per label set, found by a string key: an operation costs a lookup and an observation.
  const operationChildren = new Map<string, { observe(seconds: number): void }>();
  const namesByType = new Map<string, Set<string>>();
  const operationLabel = (type: string, name: string | null) => {
    if (name === null) return 'anonymous';
    let names = namesByType.get(type);
    if (!names) namesByType.set(type, (names = new Set()));
    if (names.has(name)) return name;
    if (names.size >= MAX_OPERATION_NAMES || name.length > MAX_OPERATION_NAME_LENGTH) return 'other';
    names.add(name);
    return name;
  };
  const observeOperation: OperationObserver = (type, name, outcome, seconds) => {
    // Keyed by the label, not the client's name: names past the cap share `other`'s one entry, not one each.
    const operation = operationLabel(type, name);
    const key = `${type}\n${operation}\n${outcome}`;
    let child = operationChildren.get(key);
    if (!child) {
      child = operationSeconds.labels({ type, operation, outcome });
      operationChildren.set(key, child);
    }
    child.observe(seconds);
  };

  let transport: TransportGauges | undefined;
  new Gauge({
    name: 'jobgraph_websocket_connections',
    help: 'Open GraphQL WebSocket connections.',
    registers,
    collect() {
      this.set(transport?.websocketConnections() ?? 0);
    },
  });
  new Gauge({
    name: 'jobgraph_subscriptions_active',
    help: 'Live subscriptions now: WebSocket operations and SSE/multipart streams.',
    registers,
    collect() {
      this.set(transport?.liveOperations() ?? 0);
    },
  });
  let documentCaches: DocumentCaches | undefined;
  new Gauge({
    name: 'jobgraph_document_cache_bytes',
    help: 'Document text held by each cache keyed by it (parse, parse errors, fast path, never cached); each at most DOCUMENT_CACHE_BYTES.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.reset();
      for (const { name, bytes } of documentCaches?.sizes() ?? []) this.set({ cache: name }, bytes);
    },
  });
  new Gauge({
    name: 'jobgraph_document_cache_entries',
    help: 'Documents held by each cache keyed by their text.',
    labelNames: ['cache'],
    registers,
    collect() {
      this.reset();
      for (const { name, entries } of documentCaches?.sizes() ?? []) this.set({ cache: name }, entries);
    },
  });

  return {
    observeOperation,
    observePhase: (phase: GraphQLPhase, seconds: number) => phaseSeconds.observe({ phase }, seconds),
    countError: (code: string) => errorsByCode.inc({ code: ERROR_CODES.includes(code) ? code : 'OTHER' }),
    observeHttp(pathname: string, method: string, status: number, seconds: number) {
      httpSeconds.observe({ route: httpRouteLabel(pathname), method: HTTP_METHODS.has(method) ? method : 'OTHER', status: String(status) }, seconds);
    },
    subscriptionStarted: (name: string | null) => subscriptionsStarted.inc({ operation: operationLabel('subscription', name) }),
    cachedAnswer: () => cachedAnswers.inc(),
    rejected: () => rejectedDocuments.inc(),
    /** The transport's gauges, once it is built (it is built after Yoga, which needs the observer above). */
    watchTransport(gauges: TransportGauges) {
      transport = gauges;
    },
    /** The caches keyed by document text: their bytes (within DOCUMENT_CACHE_BYTES each) and entries. */
    watchDocumentCaches(caches: DocumentCaches) {
      documentCaches = caches;
    },
    /** GET /metrics: loopback clients, or anyone with `Authorization: Bearer <METRICS_TOKEN>`. */
    async respond(request: Request, clientAddress: string | null): Promise<Response> {
      if (!metricsAllowed(clientAddress, request.headers.get('authorization'), app.config.metricsToken, isProxied(request))) {
        const how = app.config.metricsToken ? 'send Authorization: Bearer <METRICS_TOKEN>' : 'set METRICS_TOKEN for remote scrapers';
        return errorResponse(403, ErrorCode.FORBIDDEN, `/metrics is open to loopback clients only (not through a proxy); ${how}`);
      }
      const text = `${await perProcess.metrics()}\n${await registry.metrics()}`;
      return new Response(text, { headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } });
    },
  };
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(address: string | null): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** Headers a reverse proxy adds: behind one on the same host every client's address is loopback. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];
const isProxied = (request: Request) => PROXY_HEADERS.some((name) => request.headers.has(name));

/**
 * Loopback always, unless the request came through a proxy (then it is anyone's); elsewhere only with the configured
 * token, compared in constant time (as digests: equal lengths).
 */
export function metricsAllowed(clientAddress: string | null, authorization: string | null, token: string | undefined, proxied = false): boolean {
  if (isLoopback(clientAddress) && !proxied) return true;
  if (!token || !authorization) return false;
  const presented = /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1] ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(token));
}
