// The same tables as ./schema.ts, for PostgreSQL: same table and column names, same TypeScript names and row
// shapes, so services, relations and the GraphQL planner read either alike (see `Database` in ./client.ts).
// Two choices keep the rows identical to SQLite's and avoid driver quirks (drizzle-orm issues #5062, #5287):
// times are bigint milliseconds (as SQLite's integers), read back as Date; JSON is kept as text and parsed here.
import { sql } from 'drizzle-orm';
import { boolean, customType, doublePrecision, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { FLOW_STATUSES, JOB_KINDS, JOB_STATUSES, PARENT_FAILURE_POLICIES, ROLES } from './schema';

/** Milliseconds since the epoch in a bigint, a Date in TypeScript (SQLite's `timestamp_ms`). */
const timestampMs = customType<{ data: Date; driverData: string | number | bigint }>({
  dataType: () => 'bigint',
  toDriver: (value) => value.getTime(),
  fromDriver: (value) => new Date(Number(value)),
});

/** JSON as text (SQLite's `text({ mode: 'json' })`): stringified once here, whatever the driver does with objects. */
const jsonText = <T = unknown>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => 'text',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name);

const id = () => integer('id').primaryKey().generatedByDefaultAsIdentity();
const nowMs = sql`((extract(epoch from clock_timestamp()) * 1000)::bigint)`;
const createdAt = () => timestampMs('created_at').notNull().default(nowMs);

export const users = pgTable('users', {
  id: id(),
  username: text('username').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  disabled: boolean('disabled').notNull().default(false),
  loginCount: integer('login_count').notNull().default(0),
  lastLoginAt: timestampMs('last_login_at'),
  createdAt: createdAt(),
});

export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: createdAt(),
    expiresAt: timestampMs('expires_at').notNull(),
    revokedAt: timestampMs('revoked_at'),
    clientAddress: text('client_address'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

export const loginEvents = pgTable(
  'login_events',
  {
    id: id(),
    username: text('username').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    success: boolean('success').notNull(),
    reason: text('reason'),
    clientAddress: text('client_address'),
    at: timestampMs('at').notNull(),
    /** Attempts this row stands for: refusals while throttled are counted into one row per window, not stored each. */
    attempts: integer('attempts').notNull().default(1),
  },
  (table) => [index('login_events_at_idx').on(table.at)],
);

export const queues = pgTable('queues', {
  id: id(),
  name: text('name').notNull().unique(),
  concurrency: integer('concurrency').notNull(),
  maxLength: integer('max_length').notNull(),
  paused: boolean('paused').notNull().default(false),
  /** How its waiting jobs take turns: FIFO (priority, then age) or FAIR (owners in turn; see docs/queues.md). */
  order: text('claim_order', { enum: ['FIFO', 'FAIR'] }).notNull().default('FIFO'),
  /** Most jobs of one owner running at once in this queue, over every instance; null: no limit. */
  ownerConcurrency: integer('owner_concurrency'),
  /** FAIR: the owner whose turn came last; the next claim starts with the owner after it. */
  fairCursor: integer('fair_cursor').notNull().default(0),
  rateLimitJobs: integer('rate_limit_jobs'),
  rateLimitPerSeconds: integer('rate_limit_per_seconds'),
  retentionSucceededSeconds: integer('retention_succeeded_seconds'),
  retentionFailedSeconds: integer('retention_failed_seconds'),
  retentionCancelledSeconds: integer('retention_cancelled_seconds'),
  createdAt: createdAt(),
});

export const queueStarts = pgTable(
  'queue_starts',
  {
    id: id(),
    queue: text('queue')
      .notNull()
      .references(() => queues.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
    at: timestampMs('at').notNull(),
  },
  (table) => [index('queue_starts_queue_at_idx').on(table.queue, table.at)],
);

export const jobs = pgTable(
  'jobs',
  {
    id: id(),
    kind: text('kind', { enum: JOB_KINDS }).notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull(),
    // Neither its queue nor its owner is a foreign key here (SQLite keeps both): PostgreSQL checked each inserted row
    // with a query of its own. Inserts key-share-lock the queues and owners they name and refuse a missing one;
    // triggers (migration `jobs_references_triggers`) do what ON DELETE CASCADE / SET NULL and ON UPDATE CASCADE did.
    queue: text('queue').notNull(),
    ownerId: integer('owner_id'),
    result: jsonText('result'),
    error: text('error'),
    progress: doublePrecision('progress').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    priority: integer('priority').notNull().default(0),
    timeoutMs: integer('timeout_ms').notNull(),
    runAt: timestampMs('run_at').notNull(),
    leaseToken: text('lease_token'),
    leaseExpiresAt: timestampMs('lease_expires_at'),
    claimedBy: text('claimed_by'),
    createdAt: createdAt(),
    startedAt: timestampMs('started_at'),
    finishedAt: timestampMs('finished_at'),
    idempotencyKey: text('idempotency_key'),
    schedule: text('schedule'),
  },
  (table) => [
    // Partial, as in ./schema.ts: a claim and a settle each touch two or three indexes rather than moving the row in four.
    index('jobs_claim_idx').on(table.queue, table.status, table.priority, table.id).where(sql`status = 'QUEUED'`),
    // The FAIR claim: each owner's waiting jobs in turn order, and the owners with any (queues.md).
    index('jobs_fair_idx').on(table.queue, table.status, table.ownerId, table.priority, table.id).where(sql`status = 'QUEUED'`),
    index('jobs_running_idx').on(table.queue, table.status, table.ownerId, table.claimedBy).where(sql`status = 'RUNNING'`),
    index('jobs_queue_idx').on(table.queue, table.id),
    index('jobs_owner_idx').on(table.ownerId, table.id),
    index('jobs_status_idx').on(table.status, table.runAt),
    index('jobs_finished_idx').on(table.status, table.finishedAt).where(sql`finished_at IS NOT NULL`),
    index('jobs_schedule_idx').on(table.schedule, table.id).where(sql`schedule IS NOT NULL`),
  ],
);

export const flows = pgTable(
  'flows',
  {
    id: id(),
    name: text('name'),
    ownerId: integer('owner_id').references(() => users.id, { onDelete: 'set null' }),
    status: text('status', { enum: FLOW_STATUSES }).notNull(),
    total: integer('total').notNull(),
    remaining: integer('remaining').notNull(),
    notSucceeded: integer('not_succeeded').notNull().default(0),
    createdAt: timestampMs('created_at').notNull(),
    finishedAt: timestampMs('finished_at'),
  },
  (table) => [index('flows_owner_idx').on(table.ownerId, table.id)],
);

export const flowNodes = pgTable(
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

export const jobDependencies = pgTable(
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

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    ownerId: integer('owner_id').notNull(),
    key: text('key').notNull(),
    jobId: integer('job_id').notNull(),
    expiresAt: timestampMs('expires_at').notNull(),
  },
  (table) => [primaryKey({ columns: [table.ownerId, table.key] }), index('idempotency_keys_expires_idx').on(table.expiresAt)],
);

export const schedules = pgTable('schedules', {
  name: text('name').primaryKey(),
  cron: text('cron').notNull(),
  timezone: text('timezone').notNull(),
  job: jsonText('job').notNull(),
  request: jsonText('request').notNull(),
  queue: text('queue')
    .notNull()
    .references(() => queues.name, { onDelete: 'cascade', onUpdate: 'cascade' }),
  paused: boolean('paused').notNull().default(false),
  overlap: text('overlap', { enum: ['ALLOW', 'SKIP'] }).notNull(),
  nextRunAt: timestampMs('next_run_at'),
  lastRunAt: timestampMs('last_run_at'),
  ownerId: integer('owner_id').references(() => users.id, { onDelete: 'set null' }),
  createdAt: createdAt(),
});

/**
 * job_inputs and job_events name their job without a foreign key here (SQLite keeps its own): PostgreSQL checks one
 * per row, a query of its own each (a third of an insert's CPU, docs/benchmarks.md). Only the job store writes them,
 * for jobs it inserts or locks in the same statement; a statement trigger on `jobs` (migration `jobs_dependents`)
 * deletes them with their jobs, as ON DELETE CASCADE did.
 */
export const jobInputs = pgTable('job_inputs', {
  jobId: integer('job_id').primaryKey(),
  input: jsonText('input').notNull(),
});

/**
 * The W3C trace context (`traceparent`) a job was submitted in, when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT):
 * whichever instance runs the job continues the submitter's trace. Apart from `jobs`, written only when tracing.
 */
export const jobTraceContexts = pgTable('job_trace_contexts', {
  jobId: integer('job_id')
    .primaryKey()
    .references(() => jobs.id, { onDelete: 'cascade' }),
  traceparent: text('traceparent').notNull(),
});

export const jobEvents = pgTable(
  'job_events',
  {
    id: id(),
    /** A job's id, without a foreign key (see jobInputs). */
    jobId: integer('job_id').notNull(),
    type: text('type').notNull(),
    payload: jsonText('payload'),
    at: timestampMs('at').notNull(),
  },
  (table) => [index('job_events_job_idx').on(table.jobId, table.id)],
);

/**
 * Facts about this database itself, by key (see ./schema.ts). job_events also has a column and a trigger that
 * Drizzle does not model, made by the custom migration `event_cursors` (read only by src/jobs/store/sql/event-log.ts):
 * `tx xid8`, the writing transaction (what orders events in commit order across instances), and a statement trigger
 * that NOTIFYs `jobgraph_events` in the committing transaction.
 */
export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const analyticsDatasets = pgTable('analytics_datasets', {
  id: id(),
  source: text('source').notNull(),
  sha256: text('sha256').notNull(),
  rowsRead: integer('rows_read').notNull(),
  rowsKept: integer('rows_kept').notNull(),
  rowsSkipped: integer('rows_skipped').notNull(),
  ingestMs: doublePrecision('ingest_ms').notNull(),
  loadedAt: createdAt(),
  /** As SQLite's (src/db/schema.ts). */
  indexSnapshot: text('index_snapshot'),
});

export const analyticsRows = pgTable('analytics_rows', {
  id: integer('id').primaryKey(),
  question: text('question').notNull(),
  state: text('state').notNull(),
  category: text('category').notNull(),
  segment: text('segment').notNull(),
  yearStart: integer('year_start'),
  yearEnd: integer('year_end'),
  value: doublePrecision('value').notNull(),
});

export const relayCache = pgTable(
  'relay_cache',
  {
    url: text('url').primaryKey(),
    status: integer('status').notNull(),
    headers: jsonText<Record<string, string>>('headers').notNull(),
    body: text('body').notNull(),
    policy: jsonText('policy').notNull(),
    fetchedAt: timestampMs('fetched_at').notNull(),
    lastUsedAt: timestampMs('last_used_at').notNull(),
  },
  (table) => [index('relay_cache_lru_idx').on(table.lastUsedAt)],
);
