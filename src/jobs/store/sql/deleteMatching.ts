import { NOT_RUNNING } from '../../../db/schema';
import { matching } from './jobFilter';

/**
 * deleteJobs and the retention sweep, one batch: up to $limit finished jobs matching the filter, deleted with their
 * inputs and events (by cascade), in no order (what is deleted is gone: the next batch needs no cursor). Answers the ids.
 */
export const deleteMatching = {
  /** SQLite: NOT_RUNNING repeated, so that jobs_status_idx (partial: ../../../db/schema.ts) serves the status list. */
  sqlite: `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND (${NOT_RUNNING}) AND ${matching.sqlite}
                                         LIMIT $limit)
           RETURNING id`,
  /** Rows another transaction holds are left for a later batch. */
  postgres: `WITH picked AS MATERIALIZED (SELECT id FROM jobs WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND ${matching.postgres}
                                         LIMIT $limit FOR UPDATE SKIP LOCKED)
             DELETE FROM jobs WHERE id IN (SELECT id FROM picked) RETURNING id`,
} as const;
