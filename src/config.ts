import { cpus } from 'node:os';
import { resolve } from 'node:path';

/** The CDC dataset shipped with jobgraph (public domain), found from this file, not the working directory. */
export const BUNDLED_ANALYTICS_CSV = new URL('../data/brfss-nutrition-activity-obesity-2011-2021.csv.gz', import.meta.url).pathname;

/** The domains ANONYMOUS_ACCESS may open to callers without a token (their reads only). */
export const ANONYMOUS_DOMAINS = ['analytics', 'relay', 'simulations', 'quotes'] as const;
export type AnonymousDomain = (typeof ANONYMOUS_DOMAINS)[number];

/** Every setting jobgraph reads from the environment, parsed once at start-up. */
export interface Config {
  port: number;
  host: string;
  databasePath: string;
  /** PostgreSQL (postgres://…) shared by any number of instances; unset: the SQLite file at databasePath. */
  databaseUrl: string | undefined;
  adminUsername: string;
  adminPassword: string | undefined;
  workers: number;
  /** Where the kind files are (JOB_KINDS_DIR, default ./kinds); `explicit`: set, so it must exist. See docs/kinds.md. */
  jobKindsDir: { path: string; explicit: boolean };
  logLevel: string;
  logFile: string | undefined;
  /** LOG_FORMAT: `json` (one object a line, the default) or `pretty` (pino-pretty, for a terminal). */
  logFormat: 'json' | 'pretty';
  /** OTEL_EXPORTER_OTLP_ENDPOINT: where traces go (OTLP over HTTP, `<endpoint>/v1/traces`); unset, no tracing is loaded. */
  otelEndpoint: string | undefined;
  /** OTEL_SERVICE_NAME: the traces' `service.name`; default `jobgraph`. */
  otelServiceName: string;
  quoteServer: string | undefined;
  quoteTimeoutMs: number;
  quoteUdpRetries: number;
  quoteDelayMs: number;
  relayUpstream: string | undefined;
  relayDefaultTtlSeconds: number;
  relayTimeoutMs: number;
  relayCacheMaxBytes: number;
  relayMaxResponseBytes: number;
  analyticsCsv: string;
  tokenTtlMs: number;
  loginMaxFailures: number;
  loginMaxFailuresPerAddress: number;
  loginFailureWindowMs: number;
  rateLimitPerSecond: number;
  maxSubscriptionsPerConnection: number;
  maxSubscriptionsPerUser: number;
  maxSubscriptionsPerAddress: number;
  maxBodyBytes: number;
  maxUploadBytes: number;
  /** DOCUMENT_CACHE_BYTES and MAX_CACHED_DOCUMENT_BYTES: see src/graphql/document-caches.ts. */
  documentCacheBytes: number;
  maxCachedDocumentBytes: number;
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
  shutdownTimeoutMs: number;
  jobLeaseMs: number;
  pullLeaseMs: number;
  jobRetryBaseMs: number;
  jobTimeoutMs: number;
  /** How long an idempotency key is remembered (IDEMPOTENCY_TTL_SECONDS, default a day). */
  idempotencyTtlMs: number;
  /** Finished jobs older than this are deleted (JOB_RETENTION_SECONDS); null keeps them. A queue's retention wins. */
  jobRetentionMs: number | null;
  /** How often the retention sweep runs (JOB_RETENTION_SWEEP_SECONDS, default 60). */
  retentionSweepMs: number;
  jobProgressIntervalMs: number;
  /** EVENTS_POLL_MS: how often each instance reads the job event log unasked (the safety net under NOTIFY). */
  eventsPollMs: number;
  calcChunkChars: number;
  /** Unset: one instance, everything in process. Set: events, invalidations, counters and cached answers shared. */
  redisUrl: string | undefined;
  redisPrefix: string;
  /**
   * REDIS_EVENTS_SECRET: signs every event message between instances (HMAC-SHA256); a message without a valid
   * signature is dropped, so a client of the Redis server without it cannot inject events. Unset: unsigned (a warning).
   */
  redisEventsSecret: string | undefined;
  /** Login events older than this are deleted in the background (LOGIN_EVENTS_RETENTION_DAYS; 0 keeps them). */
  loginEventsRetentionDays: number;
  /** Most unfinished (QUEUED or RUNNING) jobs one USER may hold (MAX_QUEUED_JOBS_PER_USER); 0: no bound. */
  maxQueuedJobsPerUser: number;
  /** What callers without a token may read (ANONYMOUS_ACCESS); empty by default. */
  anonymousAccess: ReadonlySet<AnonymousDomain>;
  /** PERSISTED_ONLY=1: callers other than admins may run only the trusted documents (persisted-operations.json). */
  persistedOnly: boolean;
  /** Lets a scraper that is not on loopback read /metrics (as a Bearer token); unset, only loopback may. */
  metricsToken: string | undefined;
}

export class ConfigError extends Error {}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function text(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function postgresUrl(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError(`${name} must be a postgres:// or postgresql:// URL`);
  return raw;
}

/** A shared secret: unset, or at least `minLength` characters (a short one is guessed). */
function secret(env: Record<string, string | undefined>, name: string, minLength: number): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && raw.length < minLength) throw new ConfigError(`${name} must be at least ${minLength} characters, got ${raw.length}`);
  return raw;
}

/** pino's levels, most to least verbose, and `silent`. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function oneOf<T extends string>(env: Record<string, string | undefined>, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function httpUrl(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password || url.search || url.hash) {
    // The refused value is echoed, but never a password it carries.
    if (url.password) url.password = '***';
    throw new ConfigError(`${name} must be an http(s) URL without credentials, query or fragment, got "${url.password ? url.href : raw}"`);
  }
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

/** A name for traces: 1 to 100 letters, digits and `_ . - / : @` (no spaces: it ends up in label values and queries). */
function serviceName(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !/^[\w.\-/:@]{1,100}$/.test(raw)) throw new ConfigError(`${name} must be 1 to 100 letters, digits or _ . - / : @, got "${raw}"`);
  return raw;
}

function redisUrl(env: Record<string, string | undefined>): string | undefined {
  const raw = text(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let protocol = '';
  try {
    protocol = new URL(raw).protocol;
  } catch {}
  if (!['redis:', 'rediss:', 'redis+unix:', 'redis+tls:'].includes(protocol)) throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got "${protocol || 'not a URL'}"`);
  return raw;
}

function hostAndPort(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = text(env, name);
  const port = Number(/:(\d+)$/.exec(raw ?? '')?.[1]);
  if (raw !== undefined && !(/^.+:\d+$/.test(raw) && port >= 1 && port <= 65535)) throw new ConfigError(`${name} must be host:port, got "${raw}"`);
  return raw;
}

/**
 * Failed logins per client address, over all usernames: a separate budget, larger than the per-username one, so
 * one person's typos never lock out others behind the same address. The default, ten per-username budgets, lets
 * ten people behind one NAT each use theirs, while one address can still test only that many passwords per
 * window (password spraying). 0 turns the rule off (behind a reverse proxy every client has the proxy's address).
 */
function loginMaxFailuresPerAddress(env: Record<string, string | undefined>, perUsername: number): number {
  const value = integer(env, 'LOGIN_MAX_FAILURES_PER_ADDRESS', 10 * perUsername, 0, 1_000_000);
  if (value !== 0 && value <= perUsername) {
    throw new ConfigError(`LOGIN_MAX_FAILURES_PER_ADDRESS must be 0 or more than LOGIN_MAX_FAILURES (${perUsername}), got "${value}"`);
  }
  return value;
}

/** ANONYMOUS_ACCESS: a comma-separated list of domains; every unknown entry is named in one error. */
/** Keys and channels start with it: printable, no spaces (Redis takes anything, but a typo should not pass silently). */
function redisPrefix(env: Record<string, string | undefined>): string {
  const raw = env.REDIS_PREFIX;
  if (raw === undefined || raw === '') return 'jobgraph:';
  if (!/^[\x21-\x7e]{1,64}$/.test(raw)) throw new ConfigError(`REDIS_PREFIX must be 1 to 64 printable characters without spaces, got "${raw.slice(0, 80)}"`);
  return raw;
}

function anonymousAccess(env: Record<string, string | undefined>): ReadonlySet<AnonymousDomain> {
  const entries = (env.ANONYMOUS_ACCESS ?? '').split(',').map((entry) => entry.trim().toLowerCase()).filter(Boolean);
  const unknown = entries.filter((entry) => !(ANONYMOUS_DOMAINS as readonly string[]).includes(entry));
  if (unknown.length) {
    throw new ConfigError(`ANONYMOUS_ACCESS must list some of ${ANONYMOUS_DOMAINS.join(', ')} (comma-separated), got unknown ${unknown.map((entry) => `"${entry}"`).join(', ')}`);
  }
  return new Set(entries as AnonymousDomain[]);
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const loginMaxFailures = integer(env, 'LOGIN_MAX_FAILURES', 5, 1, 1000);
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: text(env, 'HOST') ?? '0.0.0.0',
    databasePath: text(env, 'DATABASE_PATH') ?? './data/jobgraph.db',
    databaseUrl: postgresUrl(env, 'DATABASE_URL'),
    adminUsername: text(env, 'ADMIN_USERNAME') ?? 'admin',
    adminPassword: env.ADMIN_PASSWORD || undefined,
    workers: integer(env, 'WORKERS', cpus().length || 1, 1, 256),
    jobKindsDir: { path: resolve(text(env, 'JOB_KINDS_DIR') ?? 'kinds'), explicit: text(env, 'JOB_KINDS_DIR') !== undefined },
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logFile: text(env, 'LOG_FILE'),
    logFormat: oneOf(env, 'LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    otelEndpoint: httpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
    otelServiceName: serviceName(env, 'OTEL_SERVICE_NAME') ?? 'jobgraph',
    quoteServer: hostAndPort(env, 'QUOTE_SERVER'),
    quoteTimeoutMs: integer(env, 'QUOTE_TIMEOUT_MS', 2000, 10, 60_000),
    quoteUdpRetries: integer(env, 'QUOTE_UDP_RETRIES', 2, 0, 10),
    // Passed to the quote server jobgraph starts itself (the source's simulated latency).
    quoteDelayMs: integer(env, 'QUOTE_DELAY_MS', 500, 0, 60_000),
    relayUpstream: httpUrl(env, 'RELAY_UPSTREAM'),
    relayDefaultTtlSeconds: integer(env, 'RELAY_DEFAULT_TTL_SECONDS', 60, 0, 365 * 86_400),
    relayTimeoutMs: integer(env, 'RELAY_TIMEOUT_MS', 5000, 10, 120_000),
    relayCacheMaxBytes: integer(env, 'RELAY_CACHE_MAX_BYTES', 64 * 1024 * 1024, 8192, 16 * 1024 * 1024 * 1024),
    relayMaxResponseBytes: integer(env, 'RELAY_MAX_RESPONSE_BYTES', 5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    analyticsCsv: text(env, 'ANALYTICS_CSV') ?? BUNDLED_ANALYTICS_CSV,
    tokenTtlMs: integer(env, 'TOKEN_TTL_SECONDS', 7 * 24 * 3600, 1, 365 * 24 * 3600) * 1000,
    loginMaxFailures,
    loginMaxFailuresPerAddress: loginMaxFailuresPerAddress(env, loginMaxFailures),
    loginFailureWindowMs: integer(env, 'LOGIN_FAILURE_WINDOW_SECONDS', 900, 1, 86400) * 1000,
    rateLimitPerSecond: integer(env, 'RATE_LIMIT_PER_SECOND', 200, 0, 1_000_000),
    // Live operations (WebSocket operations, SSE streams) open at once; 0 turns a cap off.
    maxSubscriptionsPerConnection: integer(env, 'MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 0, 1_000_000),
    maxSubscriptionsPerUser: integer(env, 'MAX_SUBSCRIPTIONS_PER_USER', 200, 0, 1_000_000),
    maxSubscriptionsPerAddress: integer(env, 'MAX_SUBSCRIPTIONS_PER_ADDRESS', 500, 0, 1_000_000),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    documentCacheBytes: integer(env, 'DOCUMENT_CACHE_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxCachedDocumentBytes: integer(env, 'MAX_CACHED_DOCUMENT_BYTES', 64 * 1024, 0, 1024 * 1024 * 1024),
    // Multipart uploads (a calc job's file) may be larger than a JSON body.
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    // GraphiQL's own introspection query is 15 levels deep.
    maxDepth: integer(env, 'MAX_QUERY_DEPTH', 16, 2, 100),
    maxComplexity: integer(env, 'MAX_QUERY_COMPLEXITY', 5000, 10, 1_000_000),
    maxAliases: integer(env, 'MAX_QUERY_ALIASES', 30, 0, 1000),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_SECONDS', 30, 0, 3600) * 1000,
    jobLeaseMs: integer(env, 'JOB_LEASE_SECONDS', 30, 1, 3600) * 1000,
    pullLeaseMs: integer(env, 'PULL_LEASE_SECONDS', 3600, 1, 7 * 24 * 3600) * 1000,
    jobRetryBaseMs: integer(env, 'JOB_RETRY_BASE_MS', 1000, 1, 600_000),
    jobTimeoutMs: integer(env, 'JOB_TIMEOUT_SECONDS', 300, 1, 3600) * 1000,
    idempotencyTtlMs: integer(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 1, 31_536_000) * 1000,
    jobRetentionMs: env.JOB_RETENTION_SECONDS?.trim() ? integer(env, 'JOB_RETENTION_SECONDS', 0, 1, 315_360_000) * 1000 : null,
    retentionSweepMs: integer(env, 'JOB_RETENTION_SWEEP_SECONDS', 60, 1, 86_400) * 1000,
    // At most this often a running job's progress is written and published (10 a second).
    jobProgressIntervalMs: integer(env, 'JOB_PROGRESS_INTERVAL_MS', 100, 0, 60_000),
    eventsPollMs: integer(env, 'EVENTS_POLL_MS', 1_000, 50, 60_000),
    // A calc job's chunk (one pool task): ~20 ms of work at 512 KB, so its progress moves as chunks finish.
    calcChunkChars: integer(env, 'CALC_CHUNK_CHARS', 512 * 1024, 16, 64 * 1024 * 1024),
    redisUrl: redisUrl(env),
    // The instances of one deployment share it; two deployments on one Redis each take their own.
    redisPrefix: redisPrefix(env),
    redisEventsSecret: secret(env, 'REDIS_EVENTS_SECRET', 32),
    loginEventsRetentionDays: integer(env, 'LOGIN_EVENTS_RETENTION_DAYS', 30, 0, 36_500),
    maxQueuedJobsPerUser: integer(env, 'MAX_QUEUED_JOBS_PER_USER', 100_000, 0, 1_000_000_000),
    anonymousAccess: anonymousAccess(env),
    metricsToken: secret(env, 'METRICS_TOKEN', 16),
    persistedOnly: oneOf(env, 'PERSISTED_ONLY', ['0', '1'], '0') === '1',
  };
}
