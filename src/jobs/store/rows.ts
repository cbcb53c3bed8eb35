// Row mapping: a `jobs` row as each database's client gives it, turned into the Job that Drizzle's reads give too.
import type { Flow, FlowStatus, Job, JobKindName, JobStatus } from '../../db/schema';
import type { StoredEvent } from '.';

/** A `jobs` row as SQLite gives it (toJob turns it into the shape Drizzle reads). */
export interface JobSqlRow {
  id: number;
  kind: JobKindName;
  status: JobStatus;
  queue: string;
  owner_id: number | null;
  result: string | null;
  error: string | null;
  progress: number;
  attempts: number;
  max_attempts: number;
  priority: number;
  timeout_ms: number;
  run_at: number;
  lease_token: string | null;
  lease_expires_at: number | null;
  claimed_by: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  idempotency_key: string | null;
  schedule: string | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

export const toJob = (row: JobSqlRow): Job => rowToJob(row, row.run_at, row.lease_expires_at, row.created_at, row.started_at, row.finished_at);

/** The Job of a row whose times are given apart (PostgreSQL's come as strings): no copy of the row is made for them. */
function rowToJob(
  row: Omit<JobSqlRow, 'run_at' | 'lease_expires_at' | 'created_at' | 'started_at' | 'finished_at'>,
  runAt: number,
  leaseExpiresAt: number | null,
  createdAt: number,
  startedAt: number | null,
  finishedAt: number | null,
): Job {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    queue: row.queue,
    ownerId: row.owner_id,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error,
    progress: row.progress,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    timeoutMs: row.timeout_ms,
    runAt: new Date(runAt),
    leaseToken: row.lease_token,
    leaseExpiresAt: date(leaseExpiresAt),
    claimedBy: row.claimed_by,
    createdAt: new Date(createdAt),
    startedAt: date(startedAt),
    finishedAt: date(finishedAt),
    idempotencyKey: row.idempotency_key,
    schedule: row.schedule,
  };
}

/** A `jobs` row as Bun's PostgreSQL client gives it: bigint times come as strings. */
export type PgJobRow = Omit<JobSqlRow, 'run_at' | 'lease_expires_at' | 'created_at' | 'started_at' | 'finished_at'> &
  Record<'run_at' | 'created_at', string | number> &
  Record<'lease_expires_at' | 'started_at' | 'finished_at', string | number | null>;

const ms = (value: string | number | null) => (value === null ? null : Number(value));

/**
 * A Job from a PostgreSQL row; columns besides the job's (a statement's extras, e.g. claim's `parents`) are ignored.
 * Built straight from the row: spread into a copy first, each claimed and settled row was copied twice more (object
 * spreads were ~6 % of an instance's main thread in the bulk bench).
 */
export const fromPg = (row: PgJobRow): Job =>
  rowToJob(row, Number(row.run_at), ms(row.lease_expires_at), Number(row.created_at), ms(row.started_at), ms(row.finished_at));

/** A `flows` row as either client gives it (PostgreSQL's bigint times as strings). */
export interface FlowSqlRow {
  id: number;
  name: string | null;
  owner_id: number | null;
  status: FlowStatus;
  total: number;
  remaining: number;
  not_succeeded: number;
  created_at: string | number;
  finished_at: string | number | null;
}

export const toFlow = (row: FlowSqlRow): Flow => ({
  id: row.id,
  name: row.name,
  ownerId: row.owner_id,
  status: row.status,
  total: row.total,
  remaining: row.remaining,
  notSucceeded: row.not_succeeded,
  createdAt: new Date(Number(row.created_at)),
  finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
});

/** A job_events row as an event-log read gives it (./sql/event-log.ts), on either database. */
export interface EventSqlRow {
  id: number;
  tx: string;
  job_id: number;
  type: string;
  payload: string | null;
  at: number | string;
  owner_id: number | null;
  queue: string;
  kind: JobKindName;
}

export function toStoredEvent(row: EventSqlRow): StoredEvent {
  return {
    id: Number(row.id),
    tx: row.tx,
    jobId: Number(row.job_id),
    type: row.type,
    payload: row.payload === null ? null : JSON.parse(row.payload),
    at: new Date(Number(row.at)),
    ownerId: row.owner_id === null ? null : Number(row.owner_id),
    queue: row.queue,
    kind: row.kind,
  };
}
