// Observability's statements (trace contexts, the metrics' job ages), both databases side by side (see
// src/db/statements.ts).
import type { Statement } from '../db/statements';

/** The trace context a job was submitted under (see tracing.ts). */
export const traceContextOf = {
  sqlite: `SELECT traceparent FROM job_trace_contexts WHERE job_id = $jobId`,
  postgres: `SELECT traceparent FROM job_trace_contexts WHERE job_id = $jobId`,
} satisfies Statement;

/** One trace context for each job of `$jobIds` (a JSON array); a job that has one keeps it. */
export const storeTraceContexts = {
  // `WHERE true`: SQLite reads an ON CONFLICT right after a SELECT's FROM as a join's clause without it.
  sqlite: `INSERT INTO job_trace_contexts (job_id, traceparent) SELECT value, $traceparent FROM json_each($jobIds) WHERE true ON CONFLICT DO NOTHING`,
  postgres: `INSERT INTO job_trace_contexts (job_id, traceparent) SELECT value::int, $traceparent FROM json_array_elements_text($jobIds::text::json) ON CONFLICT DO NOTHING`,
} satisfies Statement;

/** Each queue with a runnable QUEUED job: since when (ms) its oldest one could run. Delayed jobs are not waiting yet. */
export const oldestWaitingByQueue = {
  sqlite: `SELECT queue, min(run_at) AS since FROM jobs WHERE status = 'QUEUED' AND run_at <= $now GROUP BY queue`,
  postgres: `SELECT queue, min(run_at) AS since FROM jobs WHERE status = 'QUEUED' AND run_at <= $now GROUP BY queue`,
} satisfies Statement;
