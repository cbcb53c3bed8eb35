import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** SECRETARY reads everything (jobs, queues, results, accounts) and changes nothing but its own session and password. */
export const ROLES = ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'] as const;
export type Role = (typeof ROLES)[number];
/** The roles that may change anything: every one but the read-only SECRETARY. */
export const WRITER_ROLES: readonly Role[] = ['USER', 'MANAGER', 'ADMIN'];

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const users = sqliteTable('users', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  username: text('username').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  loginCount: integer('login_count').notNull().default(0),
  lastLoginAt: integer('last_login_at', { mode: 'timestamp_ms' }),
  createdAt: createdAt(),
});

/** A bearer token; only its SHA-256 is stored, so a copy of the database yields no usable token. */
export const sessions = sqliteTable(
  'sessions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: createdAt(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
    clientAddress: text('client_address'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

/** The server log of login attempts, kept durably (the source system's login log). */
export const loginEvents = sqliteTable(
  'login_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    username: text('username').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    success: integer('success', { mode: 'boolean' }).notNull(),
    reason: text('reason'),
    clientAddress: text('client_address'),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    /** Attempts this row stands for: refusals while throttled are counted into one row per window, not stored each. */
    attempts: integer('attempts').notNull().default(1),
  },
  (table) => [index('login_events_at_idx').on(table.at)],
);

export const JOB_KINDS = ['PI', 'FORECAST', 'CALC', 'ANALYTICS', 'DIAGNOSTIC'] as const;
export type JobKindName = (typeof JOB_KINDS)[number];
/** WAITING: a flow node whose parents have not all finished (claims never see it; see src/flows). */
export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'WAITING'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
/**
 * SQLite: the condition of jobs_status_idx (every status but RUNNING), as SQL. SQLite uses a partial index only for a
 * query whose WHERE proves its condition: `status = 'X'` does (one of the ORs), a status list does not, so a query
 * over a list of statuses adds this very text as a term of its own.
 */
export const NOT_RUNNING = JOB_STATUSES.filter((status) => status !== 'RUNNING')
  .map((status) => `status = '${status}'`)
  .join(' OR ');

export const queues = sqliteTable('queues', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  /** Most jobs of this queue running at once. */
  concurrency: integer('concurrency').notNull(),
  /** Most jobs waiting (QUEUED) at once; a submission beyond it is a CONFLICT. */
  maxLength: integer('max_length').notNull(),
  paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
  /** How its waiting jobs take turns: FIFO (priority, then age) or FAIR (owners in turn; see docs/queues.md). */
  order: text('claim_order', { enum: ['FIFO', 'FAIR'] }).notNull().default('FIFO'),
  /** Most jobs of one owner running at once in this queue, over every instance; null: no limit. */
  ownerConcurrency: integer('owner_concurrency'),
  /** FAIR: the owner whose turn came last; the next claim starts with the owner after it. */
  fairCursor: integer('fair_cursor').notNull().default(0),
  /** At most rateLimitJobs starts per sliding rateLimitPerSeconds, over every instance; both null: no limit. */
  rateLimitJobs: integer('rate_limit_jobs'),
  rateLimitPerSeconds: integer('rate_limit_per_seconds'),
  /** Finished jobs older than this (seconds) are deleted in the background; null keeps them (or JOB_RETENTION_SECONDS). */
  retentionSucceededSeconds: integer('retention_succeeded_seconds'),
  retentionFailedSeconds: integer('retention_failed_seconds'),
  retentionCancelledSeconds: integer('retention_cancelled_seconds'),
  createdAt: createdAt(),
});

/** The starts of a rate-limited queue's jobs over its window (only those queues write here): the sliding count. */
export const queueStarts = sqliteTable(
  'queue_starts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    queue: text('queue')
      .notNull()
      .references(() => queues.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [index('queue_starts_queue_at_idx').on(table.queue, table.at)],
);

export const jobs = sqliteTable(
  'jobs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    kind: text('kind', { enum: JOB_KINDS }).notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull(),
    queue: text('queue')
      .notNull()
      .references(() => queues.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    ownerId: integer('owner_id').references(() => users.id, { onDelete: 'set null' }),
    result: text('result', { mode: 'json' }),
    error: text('error'),
    progress: real('progress').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    priority: integer('priority').notNull().default(0),
    timeoutMs: integer('timeout_ms').notNull(),
    runAt: integer('run_at', { mode: 'timestamp_ms' }).notNull(),
    leaseToken: text('lease_token'),
    leaseExpiresAt: integer('lease_expires_at', { mode: 'timestamp_ms' }),
    /** `pool` for the worker pool, `user:<id>` for a job pulled by hand. */
    claimedBy: text('claimed_by'),
    createdAt: createdAt(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    /** The key its owner submitted it with (see idempotency_keys); null when none. */
    idempotencyKey: text('idempotency_key'),
    /** The schedule that made it; null for a job submitted by hand. */
    schedule: text('schedule'),
  },
  (table) => [
    // Partial indexes: a job is in the claim and FAIR indexes while QUEUED, in the running index while RUNNING, so a
    // claim and a settle each touch two or three of them rather than moving the row in four (docs/benchmarks.md).
    // The claim: the next runnable job of a queue, by priority then age.
    index('jobs_claim_idx').on(table.queue, table.status, table.priority, table.id).where(sql`status = 'QUEUED'`),
    // The FAIR claim: each owner's waiting jobs in turn order, and the owners with any (queues.md).
    index('jobs_fair_idx').on(table.queue, table.status, table.ownerId, table.priority, table.id).where(sql`status = 'QUEUED'`),
    // The running jobs: a queue's (the room under its concurrency, each owner's under ownerConcurrency), and all of
    // them (the lease sweep, the counts and lists by status: RUNNING is not in jobs_status_idx). Status first, so that
    // `status = 'RUNNING'` alone is a search (PostgreSQL's is queue first: pg-schema.ts).
    index('jobs_running_idx').on(table.status, table.queue, table.ownerId, table.claimedBy).where(sql`status = 'RUNNING'`),
    // A queue's jobs newest first, and their count (the claim and FAIR indexes, partial now, no longer serve them), and
    // the queues foreign key's lookups (a partial index cannot).
    index('jobs_queue_idx').on(table.queue, table.id),
    index('jobs_owner_idx').on(table.ownerId, table.id),
    // A status's jobs newest first and their counts, for every status but RUNNING: a claim then only drops a job
    // from it and a settle adds it back (it moved twice at each: ~1.5-2 µs a job, docs/benchmarks.md); RUNNING jobs
    // are read through jobs_running_idx. The condition is ORs, so that a query's `status = 'X'` (bound or not) proves
    // it; a status list (IN) repeats NOT_RUNNING (above) as a term. PostgreSQL keeps its full (status, run_at) index
    // (pg-schema.ts: pg6's, measured apart).
    index('jobs_status_idx').on(table.status, table.id).where(sql.raw(NOT_RUNNING)),
    // Retention: the finished jobs older than a cutoff, oldest first, without reading the younger ones.
    index('jobs_finished_idx').on(table.status, table.finishedAt).where(sql`finished_at IS NOT NULL`),
    // A schedule's runs, newest first, and its overlap check (only jobs a schedule made are in it).
    index('jobs_schedule_idx').on(table.schedule, table.id).where(sql`schedule IS NOT NULL`),
  ],
);

/**
 * An owner's idempotency keys while they are remembered: a submission with a live key returns its job and creates
 * nothing. Apart from `jobs` so that a key outlives neither its TTL nor its job (a key whose job is gone is free).
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    ownerId: integer('owner_id').notNull(),
    key: text('key').notNull(),
    jobId: integer('job_id').notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.ownerId, table.key] }), index('idempotency_keys_expires_idx').on(table.expiresAt)],
);

/** Cron schedules: each due tick makes one job, claimed by advancing next_run_at with a compare-and-set. */
export const schedules = sqliteTable('schedules', {
  name: text('name').primaryKey(),
  cron: text('cron').notNull(),
  timezone: text('timezone').notNull(),
  /** The JobSubmission as given (what Schedule.job shows). */
  job: text('job', { mode: 'json' }).notNull(),
  /** What each run submits: its kind, checked input and options. */
  request: text('request', { mode: 'json' }).notNull(),
  queue: text('queue')
    .notNull()
    .references(() => queues.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
  paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
  overlap: text('overlap', { enum: ['ALLOW', 'SKIP'] }).notNull(),
  nextRunAt: integer('next_run_at', { mode: 'timestamp_ms' }),
  lastRunAt: integer('last_run_at', { mode: 'timestamp_ms' }),
  ownerId: integer('owner_id').references(() => users.id, { onDelete: 'set null' }),
  createdAt: createdAt(),
});

/** A job as it is stored and as Drizzle reads it: the one shape services, events and GraphQL share. */
export type Job = typeof jobs.$inferSelect;

/**
 * Each job's input, apart from the job row: a calc job's input can be megabytes, and SQLite rewrites a whole row
 * on every UPDATE, so keeping it out of `jobs` keeps claims, progress and completions cheap.
 */
export const jobInputs = sqliteTable('job_inputs', {
  jobId: integer('job_id')
    .primaryKey()
    .references(() => jobs.id, { onDelete: 'cascade' }),
  input: text('input', { mode: 'json' }).notNull(),
});

/**
 * The W3C trace context (`traceparent`) a job was submitted in, when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT):
 * whichever instance runs the job continues the submitter's trace. Apart from `jobs`, written only when tracing.
 */
export const jobTraceContexts = sqliteTable('job_trace_contexts', {
  jobId: integer('job_id')
    .primaryKey()
    .references(() => jobs.id, { onDelete: 'cascade' }),
  traceparent: text('traceparent').notNull(),
});

/** Append-only history of every job: written in the same transaction as the change it records. */
export const jobEvents = sqliteTable(
  'job_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    jobId: integer('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    payload: text('payload', { mode: 'json' }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [index('job_events_job_idx').on(table.jobId, table.id)],
);

export const FLOW_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type FlowStatus = (typeof FLOW_STATUSES)[number];
export const PARENT_FAILURE_POLICIES = ['CANCEL', 'RUN'] as const;
export type ParentFailure = (typeof PARENT_FAILURE_POLICIES)[number];

/**
 * A graph of jobs submitted together (submitFlow). `remaining` counts its nodes not yet final and `notSucceeded`
 * those that ended otherwise: both move in the transaction that finishes a node, so the flow's own end is decided
 * there too, without counting its nodes.
 */
export const flows = sqliteTable(
  'flows',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name'),
    ownerId: integer('owner_id').references(() => users.id, { onDelete: 'set null' }),
    status: text('status', { enum: FLOW_STATUSES }).notNull(),
    total: integer('total').notNull(),
    remaining: integer('remaining').notNull(),
    notSucceeded: integer('not_succeeded').notNull().default(0),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
  },
  (table) => [index('flows_owner_idx').on(table.ownerId, table.id)],
);

export type Flow = typeof flows.$inferSelect;

/** A job's place in its flow: its key, its policy, and how many of its parents have not finished yet. */
export const flowNodes = sqliteTable(
  'flow_nodes',
  {
    jobId: integer('job_id')
      .primaryKey()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    flowId: integer('flow_id')
      .notNull()
      .references(() => flows.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    onParentFailure: text('on_parent_failure', { enum: PARENT_FAILURE_POLICIES }).notNull(),
    waitingParents: integer('waiting_parents').notNull(),
  },
  (table) => [index('flow_nodes_flow_idx').on(table.flowId, table.jobId)],
);

/** Edges of a flow: `childId` runs after `parentId` has finished. */
export const jobDependencies = sqliteTable(
  'job_dependencies',
  {
    childId: integer('child_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    parentId: integer('parent_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
  },
  (table) => [primaryKey({ columns: [table.childId, table.parentId] }), index('job_dependencies_parent_idx').on(table.parentId, table.childId)],
);

/**
 * Facts about this database itself, by key. `database_id`: a random id made once (see src/jobs/store/sql/event-log.ts),
 * which every event cursor carries, so a cursor of another database is refused rather than misread.
 */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/** The analytics dataset now loaded: which file (by content hash), and what its ingest counted. */
export const analyticsDatasets = sqliteTable('analytics_datasets', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  source: text('source').notNull(),
  sha256: text('sha256').notNull(),
  rowsRead: integer('rows_read').notNull(),
  rowsKept: integer('rows_kept').notNull(),
  rowsSkipped: integer('rows_skipped').notNull(),
  ingestMs: real('ingest_ms').notNull(),
  loadedAt: createdAt(),
  /**
   * The in-memory index built from this dataset's rows, as JSON (src/compute/analytics.ts `AnalyticsIndex.toSnapshot`):
   * a later start reads it instead of every row. Null until built (a database an older version ingested).
   */
  indexSnapshot: text('index_snapshot'),
});

/** The rows of the CSV that the statistics use (those with a numeric Data_Value), in file order. */
export const analyticsRows = sqliteTable('analytics_rows', {
  id: integer('id').primaryKey(),
  question: text('question').notNull(),
  state: text('state').notNull(),
  category: text('category').notNull(),
  segment: text('segment').notNull(),
  yearStart: integer('year_start'),
  yearEnd: integer('year_end'),
  value: real('value').notNull(),
});

/** The relay's persistent response cache: one entry per upstream URL, evicted least recently used first. */
export const relayCache = sqliteTable(
  'relay_cache',
  {
    url: text('url').primaryKey(),
    status: integer('status').notNull(),
    /** The response headers the cache needs and the API shows (content-type, cache-control, etag, …). */
    headers: text('headers', { mode: 'json' }).notNull().$type<Record<string, string>>(),
    body: text('body').notNull(),
    /** http-cache-semantics' CachePolicy, serialised: freshness and revalidation rules. */
    policy: text('policy', { mode: 'json' }).notNull(),
    fetchedAt: integer('fetched_at', { mode: 'timestamp_ms' }).notNull(),
    lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (table) => [index('relay_cache_lru_idx').on(table.lastUsedAt)],
);
