// The store's reads, on both databases side by side (the reads a caller selects are Drizzle's: ../selects.ts).
import { NOT_RUNNING } from '../../../db/schema';
// PostgreSQL counts are cast to int (count(*) is a bigint, which its client gives as a string).

const both = (text: string) => ({ sqlite: text, postgres: text });

export const byId = both(`SELECT * FROM jobs WHERE id = $id`);

export const inputsOf = {
  sqlite: {
    one: `SELECT input FROM job_inputs WHERE job_id = $id`,
    /** `$ids` is a JSON array. */
    many: `SELECT job_id AS id, input FROM job_inputs WHERE job_id IN (SELECT value FROM json_each($ids))`,
  },
  postgres: `SELECT job_id AS id, input FROM job_inputs WHERE job_id IN (SELECT jsonb_array_elements_text($ids::text::jsonb)::int)`,
};

/** Ids and statuses of one kind's jobs, oldest first; `$ownerId` null for all owners. */
export const statusesOfKind = {
  sqlite: `SELECT id, status FROM jobs WHERE kind = $kind AND ($ownerId IS NULL OR owner_id = $ownerId) ORDER BY id`,
  postgres: `SELECT id, status FROM jobs WHERE kind = $kind AND ($ownerId::int IS NULL OR owner_id = $ownerId::int) ORDER BY id`,
};

/** Jobs by status; `$ownerId` and `$queue` null for all. SQLite: RUNNING apart (jobs_status_idx holds the others). */
const statusFilter = '($ownerId IS NULL OR owner_id = $ownerId) AND ($queue IS NULL OR queue = $queue)';
export const countByStatus = {
  sqlite: `SELECT status, count(*) AS n FROM jobs WHERE (${NOT_RUNNING}) AND ${statusFilter} GROUP BY status
           UNION ALL SELECT status, count(*) FROM jobs WHERE status = 'RUNNING' AND ${statusFilter} GROUP BY status`,
  postgres: `SELECT status, count(*)::int AS n FROM jobs WHERE ($ownerId::int IS NULL OR owner_id = $ownerId::int) AND ($queue::text IS NULL OR queue = $queue::text) GROUP BY status`,
};

/**
 * One queue's waiting and running jobs by owner, the most waiting first: the QUEUED ones through jobs_fair_idx, the
 * RUNNING ones through jobs_running_idx (each partial, so each status is read apart).
 */
const ownerRows = (ownerFilter: string) => `
  SELECT owner_id, 1 AS waiting, 0 AS running FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND ${ownerFilter}
  UNION ALL
  SELECT owner_id, 0, 1 FROM jobs WHERE queue = $queue AND status = 'RUNNING' AND ${ownerFilter}`;
export const countByOwner = {
  sqlite: `SELECT owner_id AS ownerId, sum(waiting) AS waiting, sum(running) AS running
           FROM (${ownerRows('($ownerId IS NULL OR owner_id = $ownerId)')})
           GROUP BY owner_id ORDER BY waiting DESC, running DESC, owner_id LIMIT $limit`,
  postgres: `SELECT owner_id AS "ownerId", sum(waiting)::int AS waiting, sum(running)::int AS running
             FROM (${ownerRows('($ownerId::int IS NULL OR owner_id = $ownerId::int)')}) AS o
             GROUP BY owner_id ORDER BY waiting DESC, running DESC, owner_id LIMIT $limit`,
};

export const countActiveByQueueKind = {
  /**
   * Through indexes named (statistics from ANALYZE can make the planner scan another): the cost follows the jobs
   * waiting or running — 4 ms for 2,000 of 1,000,000 rows — not the history kept (1.5 s). RUNNING jobs are not in
   * jobs_status_idx (../../../db/schema.ts): they are counted through jobs_running_idx.
   */
  sqlite: `SELECT status, queue, kind, count(*) AS n FROM jobs INDEXED BY jobs_status_idx WHERE status = 'QUEUED' GROUP BY queue, kind
           UNION ALL
           SELECT status, queue, kind, count(*) FROM jobs INDEXED BY jobs_running_idx WHERE status = 'RUNNING' GROUP BY queue, kind`,
  postgres: `SELECT status, queue, kind, count(*)::int AS n FROM jobs WHERE status IN ('QUEUED', 'RUNNING') GROUP BY status, queue, kind`,
};

/** The earliest time a queued job waits for (retry backoff). */
export const nextRunAt = both(`SELECT min(run_at) AS at FROM jobs WHERE status = 'QUEUED' AND run_at > $now`);

/** QUEUED jobs not yet due, by queue (the metrics' gauge): through jobs_status_idx's QUEUED rows (SQLite: each read for its run_at). */
export const delayedByQueue = {
  sqlite: `SELECT queue, count(*) AS n FROM jobs WHERE status = 'QUEUED' AND run_at > $now GROUP BY queue`,
  postgres: `SELECT queue, count(*)::int AS n FROM jobs WHERE status = 'QUEUED' AND run_at > $now GROUP BY queue`,
};

/** Jobs queued in unpaused queues or running on the pool: what a drain waits for. SQLite: each status through its index. */
export const pendingCount = {
  sqlite: `SELECT (SELECT count(*) FROM jobs j JOIN queues q ON q.name = j.queue WHERE j.status = 'QUEUED' AND q.paused = 0)
                + (SELECT count(*) FROM jobs WHERE status = 'RUNNING' AND claimed_by = 'pool') AS n`,
  postgres: `SELECT count(*)::int AS n FROM jobs j JOIN queues q ON q.name = j.queue
             WHERE (j.status = 'QUEUED' AND NOT q.paused) OR (j.status = 'RUNNING' AND j.claimed_by = 'pool')`,
};

export const queuedOfKind = {
  sqlite: `SELECT count(*) AS n FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND kind = $kind`,
  postgres: `SELECT count(*)::int AS n FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND kind = $kind`,
};

/**
 * QUEUED jobs per queue: SQLite reads them once at start and keeps the counts from then on (it is the only writer);
 * PostgreSQL counts one queue when asked (other instances change it unseen).
 */
export const waiting = {
  sqlite: `SELECT queue, count(*) AS n FROM jobs WHERE status = 'QUEUED' GROUP BY queue`,
  postgres: `SELECT count(*)::int AS n FROM jobs WHERE queue = $queue AND status = 'QUEUED'`,
};

/** Whether a job exists, and its status (SQLite's cancel reads it first: RETURNING gives the row after the update). */
export const statusOf = both(`SELECT status FROM jobs WHERE id = $id`);
