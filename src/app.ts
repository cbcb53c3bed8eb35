import type { Logger } from 'pino';
import { analyticsKindFor } from './analytics/analytics';
import { AnalyticsService } from './analytics/service';
import { calcKindFor } from './calculator/calc';
import { CalculatorService } from './calculator/service';
import { type Clock, systemClock } from './clock';
import { type Config, ConfigError } from './config';
import { type Database, openDatabase } from './db/client';
import { JOB_KINDS as BUILTIN_KINDS } from './db/schema';
import { diagnosticKind } from './diagnostics/diagnostic';
import { createEventBus, type EventBus } from './events';
import { jobKindRegistry } from './jobs/kind';
import { type JobRunObserver, JobRunner } from './jobs/runner';
import { engineKindOf, type KindFile, loadKindFiles } from './kinds/load';
import { JobsService } from './jobs/service';
import { EventLog } from './jobs/events/log';
import { relayFinalStates } from './jobs/events/relay';
import { PgJobStore } from './jobs/store/postgres';
import { SqliteJobStore } from './jobs/store/sqlite';
import { WorkerPool } from './pool/pool';
import { DEFAULT_QUEUE, QueuesService } from './queues/service';
import { parseAddress } from './quotes/client';
import { SchedulesService } from './schedules/service';
import { EmbeddedQuoteServer } from './quotes/embedded';
import { QuotesService } from './quotes/service';
import { RedisLink } from './redis';
import type { Tracing } from './observability/tracing';
import { loadTrustedDocuments, type TrustedDocuments } from './persisted-operations';
import { RelayService } from './relay/service';
import type { Services } from './services';
import { forecastKind } from './simulations/forecast';
import { piKind } from './simulations/pi';
import { type PasswordHashCost, SESSIONS_CHANNEL, UsersService } from './users/service';
import { SharedLoginThrottle } from './users/throttle';

/** Tasks each worker holds at once: enough to hide the message round trip of tiny tasks. */
const PIPELINE_DEPTH = 8;
/**
 * A pool of one worker holds more: with no other worker to balance uneven tasks with, a deeper pipeline only means
 * fewer messages and, on two cores, a worker that still has tasks while the main thread is in a claim or settle
 * (at 32 it ran dry there, and the main thread then waited for its next results: bench/jobs.ts on one core, 8 → 32 cut
 * ~8 µs of CPU a job; on two cores 32 → 256 with MIN_IN_FLIGHT 512, ~3–5 µs of the main thread a job). A task's
 * timeout counts from its start on the worker, not from when it was sent, so waiting behind others costs it nothing;
 * its result leaves the worker within a millisecond of its end (src/pool/serve.ts), not after the whole batch.
 */
const LONE_WORKER_PIPELINE_DEPTH = 256;
/**
 * Jobs the runner may hold at once, however few the workers: a claim or a settle costs about as much for 200 jobs as for
 * 20 (one transaction, its pages written once), so small pools of tiny jobs claim in larger passes (bench/jobs.ts).
 * On PostgreSQL instances share their queues, and what one holds the others cannot run: there it stays at 256 (at 512
 * two instances could take a whole queue's room, and event-cluster's third held no job to be killed with).
 */
const MIN_IN_FLIGHT = { sqlite: 512, postgres: 256 } as const;

/** One running jobgraph: its services, wired once and shared by every interface, and what the server runs them on. */
export interface App extends Services {
  config: Config;
  log: Logger;
  /** SQLite or PostgreSQL (DATABASE_URL), with what differs between them. */
  database: Database;
  events: EventBus;
  /** The link to the other instances (REDIS_URL); null for a single instance. Connected by the server at start. */
  redis: RedisLink | null;
  pool: WorkerPool;
  /** The kind files of JOB_KINDS_DIR (kinds/), checked at start; the schema gains their types (docs/kinds.md). */
  kindFiles: readonly KindFile[];
  /** The quote server jobgraph runs itself (QUOTE_SERVER unset); started by the first quote asked for. */
  embeddedQuoteServer: EmbeddedQuoteServer | null;
  /** OpenTelemetry, when OTEL_EXPORTER_OTLP_ENDPOINT is set; null otherwise (nothing of it loaded). */
  tracing: Tracing | null;
  /** PERSISTED_ONLY's manifest (persisted-operations.json); null: any document runs (src/graphql/trusted-documents.ts). */
  trustedDocuments: TrustedDocuments | null;
  /** What watches the jobs submitted and run here (tracing, metrics): add to it before jobs run. */
  jobRunObservers: JobRunObserver[];
  /** True while the database answers and the worker pool is up. */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

export interface AppOptions {
  /** What a shutdown request does; without one (a benchmark, a script) nothing runs the app to stop. */
  requestShutdown?: () => void;
  /** Where the job engine, session expiry and login throttles read the time; tests pass one they can move. */
  clock?: Clock;
  /** Tests only: a cheaper argon2id for their throwaway users. Left out, Bun's strong defaults apply. */
  passwordHashCost?: PasswordHashCost;
  /** Tests only: how often the login log writes the refusals it counted (5 s left out), so a test waits less. */
  loginLogFlushMs?: number;
}

/**
 * The database (DATABASE_URL, else the SQLite file); a SQLite file that cannot be opened (a directory, no permission,
 * not a database) is the operator's to fix.
 */
async function openDatabaseOf(config: Config): Promise<Database> {
  try {
    return await openDatabase(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (!config.databaseUrl && typeof code === 'string' && /^(E[A-Z]+|SQLITE_(CANTOPEN|NOTADB|READONLY|PERM|IOERR\w*))$/.test(code)) {
      throw new ConfigError(`DATABASE_PATH ${config.databasePath} cannot be opened: ${(error as Error).message}`);
    }
    throw error;
  }
}

/** The composition root: every service built once, the job kinds of every domain registered with the engine. */
export async function createApp(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const builtinKinds = [piKind, forecastKind, diagnosticKind];
  // Loaded before anything is opened that a bad file would leave behind; a bad file stops the start (exit 2).
  const kindFiles = await loadKindFiles(config.jobKindsDir.path, BUILTIN_KINDS, config.jobKindsDir.explicit);
  const database = await openDatabaseOf(config);
  // Imported only when asked for: OpenTelemetry's modules are not loaded at all otherwise.
  const tracing = config.otelEndpoint
    ? await (await import('./observability/tracing')).startTracing({ endpoint: config.otelEndpoint, serviceName: config.otelServiceName }, database, log)
    : null;
  const jobRunObservers: JobRunObserver[] = tracing ? [tracing.jobObserver] : [];
  const redis = config.redisUrl ? new RedisLink(config.redisUrl, config.redisPrefix, log) : null;
  if (redis && !config.redisEventsSecret) {
    log.warn('REDIS_EVENTS_SECRET is unset: any client of the Redis server can publish events to this deployment (they are still checked against their schemas); set it to the same secret on every instance');
  }
  const events = createEventBus(redis ?? undefined, { secret: config.redisEventsSecret, log });
  const users = new UsersService({
    database,
    log,
    events,
    tokenTtlMs: config.tokenTtlMs,
    loginMaxFailures: config.loginMaxFailures,
    loginMaxFailuresPerAddress: config.loginMaxFailuresPerAddress,
    loginFailureWindowMs: config.loginFailureWindowMs,
    loginEventsRetentionDays: config.loginEventsRetentionDays,
    sharedLoginThrottle: redis
      ? new SharedLoginThrottle(
          redis,
          { maxFailures: config.loginMaxFailures, maxFailuresPerAddress: config.loginMaxFailuresPerAddress, windowMs: config.loginFailureWindowMs },
          () => clock.now(),
        )
      : undefined,
    passwordHashCost: options.passwordHashCost,
    clock,
    loginLogFlushMs: options.loginLogFlushMs,
  });
  users.start();
  // A session changed on another instance (PostgreSQL): this one forgets what it remembered of them too.
  const unlistenSessions = await database.listen(SESSIONS_CHANNEL, (change) => users.sessionsChangedElsewhere(change || undefined));
  const pool = new WorkerPool({
    size: config.workers,
    // Kind files run in the workers: their entry point can import them (the kernels' own is lighter).
    workerUrl: kindFiles.length ? new URL('./kinds/worker.ts', import.meta.url) : undefined,
    pipelineDepth: config.workers === 1 ? LONE_WORKER_PIPELINE_DEPTH : PIPELINE_DEPTH,
    // One warm worker at idle; the rest start with the first work that finds it busy.
    startWith: 1,
    onWorkerReplaced: (why) => log.warn({ why }, 'worker replaced'),
  });
  const analytics = new AnalyticsService(database, log, config.analyticsCsv);
  let runner: JobRunner | undefined;
  const queues = new QueuesService(database, log, { concurrency: config.workers * PIPELINE_DEPTH, maxLength: 1_000_000 }, () =>
    runner?.wake(),
  );

  // The analytics kind answers from the in-memory index: it gets the service here, not through the engine.
  const kinds = jobKindRegistry([
    ...builtinKinds,
    calcKindFor(config.calcChunkChars),
    analyticsKindFor(analytics),
    ...kindFiles.map(engineKindOf),
  ]);
  const store = database.dialect === 'postgres' ? await PgJobStore.open({ sql: database.sql, db: database.pg, tables: database.pgTables }, clock, log) : new SqliteJobStore({ sqlite: database.sqlite, db: database.sqliteDb, idle: database.idle, walWritten: database.walWritten }, clock);
  // A queue changed on another instance: read the list again.
  queues.announce = () => store.announceQueues();
  store.onWork((what) => {
    if (what === 'queues') queues.reload().catch((error) => log.error({ err: error }, 'reading the queues failed'));
  });
  await queues.load();
  runner = new JobRunner({
    store,
    kinds,
    queues,
    pool,
    events,
    log,
    clock,
    leaseMs: config.jobLeaseMs,
    retryBaseMs: config.jobRetryBaseMs,
    maxInFlight: Math.max(MIN_IN_FLIGHT[database.dialect], config.workers * PIPELINE_DEPTH * 4),
    progressIntervalMs: config.jobProgressIntervalMs,
    observers: jobRunObservers,
  });
  const eventLog = new EventLog(store, { pollMs: config.eventsPollMs, log });
  // Completions committed by an instance that died before publishing them still reach this one's subscribers.
  const stopRelay = store.shared ? await relayFinalStates(eventLog, store, events, log) : () => {};
  const jobs = new JobsService({
    store,
    eventLog,
    runner,
    kinds,
    queues,
    defaultQueue: DEFAULT_QUEUE,
    pool,
    events,
    log,
    pullLeaseMs: config.pullLeaseMs,
    defaultTimeoutMs: config.jobTimeoutMs,
    clock,
    idempotencyTtlMs: config.idempotencyTtlMs,
    retention: { defaultMs: config.jobRetentionMs, sweepMs: config.retentionSweepMs },
    maxUnfinishedJobsPerUser: config.maxQueuedJobsPerUser,
  });
  const schedules = new SchedulesService({ database, jobs, log, clock });
  const calculator = new CalculatorService(pool, config.jobTimeoutMs);
  const embeddedQuoteServer = config.quoteServer ? null : new EmbeddedQuoteServer(log, config.quoteDelayMs);
  const externalQuoteServer = config.quoteServer ? parseAddress(config.quoteServer) : null;
  const quotes = new QuotesService(
    () => externalQuoteServer ?? (embeddedQuoteServer?.status === 'up' ? embeddedQuoteServer.address : null),
    { timeoutMs: config.quoteTimeoutMs, udpRetries: config.quoteUdpRetries },
    log,
    embeddedQuoteServer ? () => embeddedQuoteServer.ensureStarted() : undefined,
  );
  const relay = await RelayService.open(database, log, {
    upstream: config.relayUpstream,
    defaultTtlSeconds: config.relayDefaultTtlSeconds,
    timeoutMs: config.relayTimeoutMs,
    cacheMaxBytes: config.relayCacheMaxBytes,
    maxResponseBytes: config.relayMaxResponseBytes,
    clock,
  });
  let open = true;
  return {
    config,
    log,
    database,
    events,
    redis,
    users,
    queues,
    jobs,
    schedules,
    pool,
    kindFiles,
    analytics,
    calculator,
    quotes,
    relay,
    embeddedQuoteServer,
    tracing,
    trustedDocuments: config.persistedOnly ? await loadTrustedDocuments() : null,
    jobRunObservers,
    requestShutdown: options.requestShutdown ?? (() => {}),
    isReady: async () => open && pool.size > 0 && (await database.ping()),
    async close() {
      if (!open) return;
      open = false;
      schedules.stop();
      jobs.stop();
      stopRelay();
      quotes.stop();
      await relay.close();
      await users.stop();
      await unlistenSessions();
      await Promise.all([pool.close(), embeddedQuoteServer?.stop(), store.close()]);
      redis?.close();
      await tracing?.shutdown();
      await database.close();
    },
  };
}
