// The jobgraph server: `bun run start`. Configuration comes from the environment (see README).
import { ConfigError, loadConfig } from './config';
import { DatabaseInUseError, EXIT_DATABASE_IN_USE } from './db/lock';
import { DomainError } from './errors';
import { RedisUnreachableError } from './redis';
import { createLogger } from './logger';
import { type RunningServer, startServer } from './server';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`jobgraph: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

const log = createLogger({ level: config.logLevel, file: config.logFile });
let running: RunningServer;
try {
  // SIGTERM, SIGINT and the admin `shutdown` mutation all drain the jobs, then exit 0.
  running = await startServer(config, { log, onShutdownComplete: () => process.exit(0) });
} catch (error) {
  // A setting that the services reject (a weak ADMIN_PASSWORD, say) is the operator's to fix, not a crash.
  if (error instanceof DomainError) {
    console.error(`jobgraph: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof RedisUnreachableError) {
    console.error(`jobgraph: ${error.message}`);
    process.exit(1);
  }
  if (error instanceof DatabaseInUseError) {
    console.error(`jobgraph: ${error.message}`);
    process.exit(EXIT_DATABASE_IN_USE);
  }
  if ((error as { code?: string })?.code === 'EADDRINUSE') {
    console.error(`jobgraph: port ${config.port} on ${config.host} is already in use; stop what holds it, or set PORT`);
    process.exit(2);
  }
  throw error;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log.info({ signal }, 'shutting down');
    running.app.requestShutdown();
  });
}
