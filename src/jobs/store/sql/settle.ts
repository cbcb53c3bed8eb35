import { type Transition, tuples, withEvents } from './events';
import { RELEASE_SUCCEEDED } from './flow';

// settleJobs: the outcomes of pool runs: the successes in one statement, then each failure, for good (`fail`) or to
// run again later (`requeue`) (SQLite: all in one transaction; PostgreSQL: the successes, with the release of their
// children, in one statement alone, then the failures in a transaction). Every one is fenced by its lease token: an
// outcome whose lease is no longer its own (recovered, cancelled, claimed again) changes nothing and is left out.

/** succeedMany's PostgreSQL jobs (`done`, id order, fenced) and their `succeeded` events. */
const PG_DONE = `
    WITH done AS (
      UPDATE jobs SET status = 'SUCCEEDED', result = b.result, error = NULL, progress = 1, finished_at = $now,
        lease_token = NULL, lease_expires_at = NULL
      FROM (SELECT j.id, b.result FROM jobs j JOIN json_to_recordset($batch::text::json) AS b(id int, "leaseToken" text, result text) ON j.id = b.id
            WHERE j.status = 'RUNNING' AND j.lease_token = b."leaseToken" ORDER BY j.id FOR UPDATE OF j) AS b
      WHERE jobs.id = b.id RETURNING jobs.*),
    done_logged AS (INSERT INTO job_events (job_id, type, payload, at)
                    SELECT id, 'succeeded', json_build_object('attempt', attempts, 'durationMs', $now - coalesce(started_at, $now))::text, $now FROM done)`;

/**
 * Many pool successes in one statement. Guard: RUNNING. Fence: the lease token. Event: `succeeded` {attempt, durationMs}.
 * SQLite: `rows` successes bound in place after the time, each as (id, leaseToken, result JSON) — a JSON array read
 * back with json_each cost ~1 µs a job more; it returns only the ids that took (the store has every other value, and
 * reading results back would double their cost) and writes the events from the leases, in the settle's transaction
 * with `release`. PostgreSQL: `$batch`, a JSON array of {id, leaseToken, result}; it writes the events, and releases
 * the children of the flow nodes among them (./flow.ts `RELEASE_SUCCEEDED`), in the same statement: no transaction,
 * one round trip. Its rows are locked in id order (as heartbeat and lockOutcomes lock them): two batches over the
 * same jobs never wait on each other in a cycle. It returns every row it changed, each with `change`: `done` (the
 * jobs of the batch that took), `released` (children now QUEUED), `flow` (a flow whose counts moved, as JSON in
 * `flow`), `notified` (nothing: the NOTIFY sent). `$jobsChannel`: the NOTIFY channel.
 */
export const succeedMany = {
  sqlite: (rows: number) => `
    UPDATE jobs SET status = 'SUCCEEDED', result = b.column3, error = NULL, progress = 1, finished_at = ?, lease_token = NULL, lease_expires_at = NULL
    FROM (VALUES ${tuples(rows, '(?, ?, ?)')}) AS b
    WHERE jobs.id = b.column1 AND +jobs.status = 'RUNNING' AND +jobs.lease_token = b.column2 -- '+': look up by id, not scan by status
    RETURNING jobs.id AS id`,
  postgres: `${PG_DONE},
    ${RELEASE_SUCCEEDED}
    SELECT 'done'::text AS change, d.*, NULL::text AS flow FROM done d
    UNION ALL SELECT 'released', r.*, NULL FROM released r
    UNION ALL SELECT 'flow', (NULL::jobs).*, row_to_json(f)::text FROM counted_flows f
    UNION ALL SELECT 'notified', (NULL::jobs).*, NULL FROM notified`,
  /**
   * The same for jobs known to be outside flows (claimed with `in_flow` false: claim.ts `poolMany`): nothing to
   * release, so none of its CTEs. With them the statement took ~3.4 ms to plan (each connection plans its first five
   * runs) and ran them for every batch; the bulk bench's settles are all of this kind.
   */
  postgresOutsideFlows: `${PG_DONE}
    SELECT 'done'::text AS change, d.*, NULL::text AS flow FROM done d`,
};

/**
 * PostgreSQL, before a batch's failures are written one by one: every job of the batch locked in id order, so the
 * batch takes its locks in the order heartbeat takes them. `$ids`: a JSON array of job ids.
 */
export const lockOutcomes = {
  postgres: `SELECT id FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($ids::text::jsonb)::int) ORDER BY id FOR UPDATE`,
};

/** A failure for good. Guard: RUNNING. Fence: the lease token. Event: `failed` {attempt, error}. */
export const fail = {
  sqlite: {
    change: `UPDATE jobs SET status = 'FAILED', error = $error, finished_at = $now, lease_token = NULL, lease_expires_at = NULL
             WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken RETURNING *`,
    event: { type: 'failed', payload: (row, { error }) => ({ attempt: row.attempts, error }) },
  },
  postgres: withEvents(
    `UPDATE jobs SET status = 'FAILED', error = $error, finished_at = $now, lease_token = NULL, lease_expires_at = NULL
     WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken RETURNING *`,
    'failed',
    `json_build_object('attempt', attempts, 'error', $error::text)::text`,
  ),
} satisfies Transition<{ id: number; leaseToken: string | null; error: string; now: number }>;

/**
 * A failure with attempts left: back to its queue, due at `$runAt` (the backoff). Guard: RUNNING. Fence: the lease
 * token. Event: `retry_scheduled` {attempt, error, runAt}.
 */
export const requeue = {
  sqlite: {
    change: `UPDATE jobs SET status = 'QUEUED', error = $error, run_at = $runAt, lease_token = NULL, lease_expires_at = NULL,
               claimed_by = NULL, progress = 0
             WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken RETURNING *`,
    event: { type: 'retry_scheduled', payload: (row, { error }) => ({ attempt: row.attempts, error, runAt: row.run_at }) },
  },
  postgres: withEvents(
    `UPDATE jobs SET status = 'QUEUED', error = $error, run_at = $runAt, lease_token = NULL, lease_expires_at = NULL,
       claimed_by = NULL, progress = 0
     WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken RETURNING *`,
    'retry_scheduled',
    `json_build_object('attempt', attempts, 'error', $error::text, 'runAt', run_at)::text`,
  ),
} satisfies Transition<{ id: number; leaseToken: string | null; error: string; now: number; runAt: number }>;
