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

export function toJob(row: JobSqlRow): Job {
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
    runAt: new Date(row.run_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: date(row.lease_expires_at),
    claimedBy: row.claimed_by,
    createdAt: new Date(row.created_at),
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
    idempotencyKey: row.idempotency_key,
    schedule: row.schedule,
  };
}

/** A `jobs` row as Bun's PostgreSQL client gives it: bigint times come as strings. */
export type PgJobRow = Omit<JobSqlRow, 'run_at' | 'lease_expires_at' | 'created_at' | 'started_at' | 'finished_at'> &
  Record<'run_at' | 'created_at', string | number> &
  Record<'lease_expires_at' | 'started_at' | 'finished_at', string | number | null>;

const ms = (value: string | number | null) => (value === null ? null : Number(value));

export const fromPg = (row: PgJobRow): Job =>
  toJob({
    ...row,
    run_at: Number(row.run_at),
    created_at: Number(row.created_at),
    lease_expires_at: ms(row.lease_expires_at),
    started_at: ms(row.started_at),
    finished_at: ms(row.finished_at),
  });

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
