import type { Database } from 'bun:sqlite';
import type { Logger } from 'pino';
import { AnalyticsService } from './analytics/service';
import type { Config } from './config';
import { type Db, openDatabase } from './db/client';
import { createEventBus, type EventBus } from './events';
import { JobsService } from './jobs/service';
import { WorkerPool } from './pool/pool';
import { QueuesService } from './queues/service';
import { parseAddress } from './quotes/client';
import { EmbeddedQuoteServer } from './quotes/embedded';
import { QuotesService } from './quotes/service';
import { RelayService } from './relay/service';
import { UsersService } from './users/service';

/** Tasks each worker holds at once: enough to hide the message round trip of tiny tasks. */
const PIPELINE_DEPTH = 8;

/** The services of one running jobgraph, wired once and shared by every interface (GraphQL, REST, CLI). */
export interface App {
  config: Config;
  log: Logger;
  db: Db;
  sqlite: Database;
  events: EventBus;
  users: UsersService;
  queues: QueuesService;
  jobs: JobsService;
  pool: WorkerPool;
  analytics: AnalyticsService;
  quotes: QuotesService;
  relay: RelayService;
  /** The quote server jobgraph runs itself (QUOTE_SERVER unset); started by the server. */
  embeddedQuoteServer: EmbeddedQuoteServer | null;
  /** True while the database is open and the worker pool is up. */
  isReady(): boolean;
  /** Asks whoever runs this app (the server) to drain and stop: the admin `shutdown` mutation, the REST route, signals. */
  readonly requestShutdown: () => void;
  close(): Promise<void>;
}

export interface AppOptions {
  /** What a shutdown request does; without one (a benchmark, a script) nothing runs the app to stop. */
  requestShutdown?: () => void;
}

export function createApp(config: Config, log: Logger, options: AppOptions = {}): App {
  const database = openDatabase(config.databasePath);
  const events = createEventBus();
  const users = new UsersService({
    db: database.db,
    log,
    events,
    tokenTtlMs: config.tokenTtlMs,
    loginMaxFailures: config.loginMaxFailures,
    loginMaxFailuresPerAddress: config.loginMaxFailuresPerAddress,
    loginFailureWindowMs: config.loginFailureWindowMs,
  });
  const pool = new WorkerPool({
    size: config.workers,
    pipelineDepth: PIPELINE_DEPTH,
    onWorkerReplaced: (why) => log.warn({ why }, 'worker replaced'),
  });
  const analytics = new AnalyticsService(database.db, log, config.analyticsCsv);
  let jobs: JobsService | undefined;
  const queues = new QueuesService(database.db, log, { concurrency: config.workers * PIPELINE_DEPTH, maxLength: 1_000_000 }, () =>
    jobs?.wake(),
  );
  queues.ensureDefault();
  jobs = new JobsService({
    sqlite: database.sqlite,
    log,
    events,
    pool,
    queues,
    analytics,
    leaseMs: config.jobLeaseMs,
    pullLeaseMs: config.pullLeaseMs,
    retryBaseMs: config.jobRetryBaseMs,
    defaultTimeoutMs: config.jobTimeoutMs,
    maxInFlight: config.workers * PIPELINE_DEPTH * 4,
  });
  const embeddedQuoteServer = config.quoteServer ? null : new EmbeddedQuoteServer(log, config.quoteDelayMs);
  const externalQuoteServer = config.quoteServer ? parseAddress(config.quoteServer) : null;
  const quotes = new QuotesService(
    () => externalQuoteServer ?? (embeddedQuoteServer?.status === 'up' ? embeddedQuoteServer.address : null),
    { timeoutMs: config.quoteTimeoutMs, udpRetries: config.quoteUdpRetries },
    log,
  );
  const relay = new RelayService(database.db, log, {
    upstream: config.relayUpstream,
    defaultTtlSeconds: config.relayDefaultTtlSeconds,
    timeoutMs: config.relayTimeoutMs,
    cacheMaxBytes: config.relayCacheMaxBytes,
    maxResponseBytes: config.relayMaxResponseBytes,
  });
  let open = true;
  return {
    config,
    log,
    db: database.db,
    sqlite: database.sqlite,
    events,
    users,
    queues,
    jobs,
    pool,
    analytics,
    quotes,
    relay,
    embeddedQuoteServer,
    requestShutdown: options.requestShutdown ?? (() => {}),
    isReady: () => {
      if (!open || pool.size === 0) return false;
      try {
        database.sqlite.query('SELECT 1').get();
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (!open) return;
      open = false;
      jobs.stop();
      quotes.stop();
      relay.close();
      await Promise.all([pool.close(), embeddedQuoteServer?.stop()]);
      database.close();
    },
  };
}
