import { matching } from './jobFilter';

/**
 * cancelJobs, one batch: up to $limit QUEUED or RUNNING jobs matching the filter, CANCELLED with a
 * `cancelled` event each. SQLite picks the rows first (their status before, for its waiting counts), then updates
 * them; PostgreSQL does both and the events in one statement, locking the rows it takes in id order (two bulk
 * actions at once then wait for each other instead of deadlocking). What is cancelled leaves the guard, so the next
 * batch needs no cursor.
 */
export const cancelMatching = {
  sqlite: {
    /**
     * In index order, not by id: a sort would read every match for each batch. The QUEUED ones through jobs_status_idx,
     * the RUNNING ones (not in it) through jobs_running_idx.
     */
    pick: `SELECT id, status, queue FROM jobs WHERE status = 'QUEUED' AND ${matching.sqlite}
           UNION ALL SELECT id, status, queue FROM jobs INDEXED BY jobs_running_idx WHERE status = 'RUNNING' AND ${matching.sqlite}
           LIMIT $limit`,
    update: `UPDATE jobs SET status = 'CANCELLED', finished_at = $now, lease_token = NULL, lease_expires_at = NULL
             WHERE id IN (SELECT value FROM json_each($picked)) AND status IN ('QUEUED', 'RUNNING') RETURNING *`,
    events: `INSERT INTO job_events (job_id, type, payload, at)
             SELECT value, 'cancelled', json_object('by', $by), $now FROM json_each($changed)`,
  },
  /** Answers the changed rows and each one's status before (`was`). */
  postgres: `
    WITH picked AS MATERIALIZED (SELECT id, status AS was FROM jobs WHERE status IN ('QUEUED', 'RUNNING') AND ${matching.postgres}
                    ORDER BY id LIMIT $limit FOR UPDATE),
    changed AS (UPDATE jobs SET status = 'CANCELLED', finished_at = $now, lease_token = NULL, lease_expires_at = NULL
                FROM picked WHERE jobs.id = picked.id RETURNING jobs.*, picked.was),
    logged AS (INSERT INTO job_events (job_id, type, payload, at)
               SELECT id, 'cancelled', json_build_object('by', $by::int)::text, $now FROM changed)
    SELECT * FROM changed ORDER BY id`,
} as const;
