// A database that cannot answer right now (connection lost, PostgreSQL restarting or refusing connections, SQLite's
// file locked by another writer) is not a bug in jobgraph: the caller is told UNAVAILABLE with when to try again,
// never "Unexpected error.". Every transport classifies through here (GraphQL's masker, the REST routes, the last
// line of defence in src/http/routes.ts).
import { DomainError, unavailable } from '../errors';

/** What a caller is told to wait: a PostgreSQL restart takes seconds; SQLite's lock is held for milliseconds. */
const RETRY_AFTER_SECONDS = 2;

// Bun's SQL client's own codes for a connection that is gone or cannot be made.
const CONNECTION_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
  'ERR_POSTGRES_CONNECTION_REFUSED',
  'ERR_POSTGRES_CONNECTION_TIMEOUT',
  'ERR_POSTGRES_IDLE_TIMEOUT',
  'ERR_POSTGRES_LIFETIME_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
]);

/**
 * PostgreSQL's SQLSTATEs for the same: class 08 (connection exception), 57P01-57P03 (shutting down, crashed,
 * starting up), 53300 (too many connections).
 */
const isOutageState = (state: string) => state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03' || state === '53300';

function isOutage(error: unknown): boolean {
  // Drizzle wraps the driver's error (DrizzleQueryError.cause); a few levels are enough.
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const { code, errno } = current as { code?: unknown; errno?: unknown };
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    if (typeof errno === 'string' && isOutageState(errno)) return true;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && isOutageState(code)) return true;
  }
  return false;
}

/** UNAVAILABLE (with retryAfterSeconds) when `error` says the database cannot answer right now; null otherwise. */
export function databaseOutage(error: unknown): DomainError | null {
  if (error instanceof DomainError || !isOutage(error)) return null;
  return unavailable('the database cannot be reached right now; try again shortly', {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
}
