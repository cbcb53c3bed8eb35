// The jobgraph server: `bun run start`. Configuration comes from the environment (see docs/configuration.md).
import { ConfigError, loadConfig } from './config';
import { DatabaseInUseError, EXIT_DATABASE_IN_USE } from './db/lock';
import { DomainError } from './errors';
import { RedisUnreachableError } from './redis';
import { closeLogger, createLogger, type Logger } from './logger';
import type { RunningServer } from './server';

const USAGE = 'usage: bun run start [--help]  (no arguments: jobgraph is configured by environment variables)';
const HELP = `${USAGE}

The jobgraph server: GraphQL at /graphql (HTTP, SSE, WebSocket), /health, /ready, /metrics.
Settings come from the environment, each checked at start (a bad one stops it with exit code 2), e.g.
  PORT (4000)  HOST (0.0.0.0)  DATABASE_PATH (./data/jobgraph.db)  WORKERS (CPU count)
  LOG_LEVEL (info)  LOG_FILE  ADMIN_USERNAME (admin)  ADMIN_PASSWORD  METRICS_TOKEN
See docs/configuration.md for every variable and its default.
Exit codes: 0 stopped on request, 2 bad configuration or arguments, 3 the database is in use by another jobgraph.`;

/** An expected failure: one line, no stack trace. */
function exit(message: string, code = 2): never {
  console.error(`jobgraph: ${message}`);
  process.exit(code);
}

const args = Bun.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}
if (args.length) exit(`unexpected argument "${args[0]}" (${USAGE})`);

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) exit(error.message);
  throw error;
}

/**
 * Tests only (test/helpers/process.ts sets it for the servers it spawns): argon2id at its cheapest, so each start and
 * login of a throwaway server does not cost 64 MiB and 2 passes. Never in production: every password hashed while it
 * is set stays weak, so the start says so in the log.
 */
const CHEAP_HASH_VARIABLE = 'JOBGRAPH_TEST_CHEAP_PASSWORD_HASH';
const cheapHash = process.env[CHEAP_HASH_VARIABLE] ?? '';
if (cheapHash !== '' && cheapHash !== '1') exit(`${CHEAP_HASH_VARIABLE} must be 1 or unset (tests only), got "${cheapHash}"`);
const passwordHashCost = cheapHash === '1' ? { memoryCost: 8, timeCost: 1 } : undefined;

let log: Logger;
try {
  log = createLogger({ level: config.logLevel, file: config.logFile, format: config.logFormat });
} catch (error) {
  exit(`LOG_FILE ${config.logFile} cannot be written: ${(error as Error).message}`);
}

/** What a failed listen means for the operator, by its error code. */
const listenProblems: Record<string, (host: string, port: number) => string> = {
  EADDRINUSE: (host, port) => `port ${port} on ${host} is already in use; stop what holds it, or set PORT`,
  EADDRNOTAVAIL: (host) => `HOST ${host} is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0`,
  ENOTFOUND: (host) => `HOST ${host} does not resolve to an address`,
  EACCES: (host, port) => `not allowed to listen on port ${port} on ${host}; pick a port above 1023, or set PORT`,
};

/** Starts the server; an expected failure exits with one line and its code. */
async function start(): Promise<RunningServer> {
  try {
    // SIGTERM, SIGINT and the admin `shutdown` mutation all drain the jobs, then exit 0.
    if (passwordHashCost) log.warn({ variable: CHEAP_HASH_VARIABLE, ...passwordHashCost }, 'passwords are hashed at a test cost: never set this in production');
    // Loaded only now: a refused setting or --help exits without loading the whole server first.
    const { startServer } = await import('./server');
    return await startServer(config, { log, passwordHashCost, onShutdownComplete: () => void closeLogger(log).then(() => process.exit(0)) });
  } catch (error) {
    // A setting that the services reject (a weak ADMIN_PASSWORD, say) is the operator's to fix, not a crash.
    if (error instanceof DomainError || error instanceof ConfigError) exit(error.message);
    if (error instanceof RedisUnreachableError) exit(error.message, 1);
    if (error instanceof DatabaseInUseError) exit(error.message, EXIT_DATABASE_IN_USE);
    const { code, syscall } = (error ?? {}) as { code?: string; syscall?: string };
    const problem = syscall === 'listen' || syscall === 'getaddrinfo' ? listenProblems[code ?? ''] : undefined;
    if (problem) exit(problem(config.host, config.port));
    throw error;
  }
}

// No top-level await: the test suite runs this file bundled as CommonJS with its bytecode beside it
// (test/helpers/server-bundle.ts), which a module awaiting at its top cannot be.
void start().then((running) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log.info({ signal }, 'shutting down');
      running.app.requestShutdown();
    });
  }
});
