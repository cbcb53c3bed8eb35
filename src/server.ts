// Wiring only: the app's services, the HTTP transport (src/http/) and Bun.serve; then how it all stops.
import type { Plugin } from 'graphql-yoga';
import type { Server } from 'bun';
import { type App, type AppOptions, createApp } from './app';
import type { Config } from './config';
import { GRAPHQL_PATH } from './http/graphql-handler';
import { createHttpTransport } from './http/transport';
import type { FanOut } from './http/fan-out';
import type { LiveOperationCaps } from './http/live-operations';
import type { SocketData } from './http/websocket';
import { createLogger, type Logger } from './logger';

/** How long a stopping server waits for in-flight HTTP answers before closing every connection. */
const STOP_GRACE_MS = 1000;

export interface RunningServer {
  app: App;
  server: Server<SocketData>;
  url: string;
  port: number;
  /** Live operations counted against the subscription caps now (tests check that none leak). */
  liveOperations(): ReturnType<LiveOperationCaps['stats']>;
  /** The WebSocket subscriptions that share one execution per event (tests check their groups). */
  fanOut: Pick<FanOut, 'stats' | 'onJoin'>;
  /** Drains the jobs (up to SHUTDOWN_TIMEOUT_SECONDS), closes connections, the pool and the database. */
  stop(): Promise<void>;
}

/** `clock`, `passwordHashCost` and `loginLogFlushMs` (tests only) go to the app; the clock to the rate limits and session expiry too. */
export interface ServerOptions extends Pick<AppOptions, 'clock' | 'passwordHashCost' | 'loginLogFlushMs'> {
  log?: Logger;
  /** Runs once a requested shutdown (a signal, the `shutdown` mutation, REST graceful_shutdown) has stopped everything. */
  onShutdownComplete?: () => void;
  /** Tests only: Yoga plugins that watch which hooks each execution path runs (test/execution-paths.test.ts). */
  probes?: Plugin[];
  /** Tests only: false skips preparing the known operations at start (src/http/warm-up.ts), ~40 ms of CPU a server. */
  warmUp?: boolean;
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger({ level: config.logLevel, file: config.logFile, format: config.logFormat });
  const shutdownRequested = Promise.withResolvers<void>();
  const { clock, passwordHashCost, loginLogFlushMs } = options;
  const app = await createApp(config, log, { requestShutdown: () => shutdownRequested.resolve(), clock, passwordHashCost, loginLogFlushMs });
  await closingAppOnFailure(app, async () => {
    await app.redis?.connect();
    announceGeneratedPassword(await app.users.bootstrapAdmin(config.adminUsername, config.adminPassword));
    await app.analytics.load();
  });
  await closingAppOnFailure(app, async () => {
    await app.jobs.start();
    app.schedules.start();
  });

  // Builds the schema: a kind file's type GraphQL cannot express stops the start here.
  const transport = await closingAppOnFailure(app, async () => createHttpTransport(app, { clock, probes: options.probes, warmUp: options.warmUp }));
  // A busy port throws here.
  const server = await closingAppOnFailure(app, async () => Bun.serve<SocketData>({
      port: config.port,
      hostname: config.host,
      // Bun may set SO_REUSEPORT, which lets a second jobgraph listen on a port this one holds: requests would then
      // alternate between two databases. A busy port must be the second start's EADDRINUSE (exit 2, see main.ts).
      reusePort: false,
      ...transport.serveOptions,
    }));
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${server.port}${GRAPHQL_PATH}`;
  log.info({ port: server.port, url, database: config.databaseUrl ? redactedUrl(config.databaseUrl) : config.databasePath }, 'jobgraph listening');
  if (config.anonymousAccess.size) log.warn({ domains: [...config.anonymousAccess] }, 'ANONYMOUS_ACCESS: callers without a token may read these domains');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Reads keep working while the jobs drain; new submissions get UNAVAILABLE (and no schedule ticks here).
      app.schedules.stop();
      await app.jobs.drain(config.shutdownTimeoutMs);
      app.jobs.stop();
      transport.endAll('server shutting down');
      // Let in-flight answers (the `shutdown` reply itself, say) go out; then cut what is left (SSE streams).
      await Promise.race([server.stop(), Bun.sleep(STOP_GRACE_MS)]);
      await server.stop(true);
      await app.close();
      log.info('jobgraph stopped');
      log.flush();
    })());
  void shutdownRequested.promise.then(stop).then(() => options.onShutdownComplete?.());
  return { app, server, url, port: server.port!, liveOperations: () => transport.liveOperationCaps.stats(), fanOut: transport.fanOut, stop };
}

/** Shown once on the console, never written to the log file: the operator copies it and changes it. */
function announceGeneratedPassword(admin: Awaited<ReturnType<App['users']['bootstrapAdmin']>>): void {
  if (!admin.created || !admin.generatedPassword) return;
  process.stderr.write(
    `\n  jobgraph: created the first admin "${admin.username}" with the generated password:\n\n      ${admin.generatedPassword}\n\n  It is not shown again. Log in and change it (changePassword), or set ADMIN_PASSWORD.\n\n`,
  );
}

/** Nothing may outlive a failed start: the workers, the database, a quote server child. */
async function closingAppOnFailure<T>(app: App, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** A database URL fit for the log: without its password. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
