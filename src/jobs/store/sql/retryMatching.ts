import { NOT_RUNNING } from '../../../db/schema';
import { matching } from './jobFilter';

/**
 * retryJobs, one batch: up to $limit dead letters (FAILED or CANCELLED) matching the filter, QUEUED again with fresh
 * attempts, a `retried` event each; one statement (and its events) on either database. A retried job's finished_at
 * is cleared: the caller bounds finished_at (finishedBefore: when the call began), so a job that fails again during
 * the call is not taken twice, and the next batch needs no cursor. Flow nodes are left out, as retryJob refuses
 * them: their flow counted their end once, and a node run again would count twice. SQLite: NOT_RUNNING repeated, so that
 * jobs_status_idx (partial: ../../../db/schema.ts) serves the status list.
 */
export const retryMatching = {
  sqlite: {
    update: `UPDATE jobs SET status = 'QUEUED', attempts = 0, error = NULL, result = NULL, progress = 0, run_at = $now,
               started_at = NULL, finished_at = NULL, claimed_by = NULL
             WHERE id IN (SELECT id FROM jobs WHERE status IN ('FAILED', 'CANCELLED') AND (${NOT_RUNNING}) AND ${matching.sqlite}
                          AND NOT EXISTS (SELECT 1 FROM flow_nodes WHERE flow_nodes.job_id = jobs.id) LIMIT $limit)
             RETURNING *`,
    events: `INSERT INTO job_events (job_id, type, payload, at)
             SELECT value, 'retried', json_object('by', $by), $now FROM json_each($changed)`,
  },
  postgres: `
    WITH picked AS MATERIALIZED (SELECT id FROM jobs WHERE status IN ('FAILED', 'CANCELLED') AND ${matching.postgres}
                      AND NOT EXISTS (SELECT 1 FROM flow_nodes WHERE flow_nodes.job_id = jobs.id)
                    ORDER BY id LIMIT $limit FOR UPDATE),
    changed AS (UPDATE jobs SET status = 'QUEUED', attempts = 0, error = NULL, result = NULL, progress = 0, run_at = $now,
                  started_at = NULL, finished_at = NULL, claimed_by = NULL
                FROM picked WHERE jobs.id = picked.id RETURNING jobs.*),
    logged AS (INSERT INTO job_events (job_id, type, payload, at)
               SELECT id, 'retried', json_build_object('by', $by::int)::text, $now FROM changed)
    SELECT * FROM changed ORDER BY id`,
} as const;
