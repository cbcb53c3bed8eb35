import { type Transition, withEvents } from './events';

/**
 * retryJob: a person queues a failed or cancelled job again, with fresh attempts, to run at once.
 * Guard: FAILED or CANCELLED. Fence: none (no lease is held). Event: `retried` {by}.
 */
export const retry = {
  sqlite: {
    change: `UPDATE jobs SET status = 'QUEUED', attempts = 0, error = NULL, result = NULL, progress = 0, run_at = $now,
               started_at = NULL, finished_at = NULL, claimed_by = NULL
             WHERE id = $id AND status IN ('FAILED', 'CANCELLED') RETURNING *`,
    event: { type: 'retried', payload: (_row, { by }) => ({ by }) },
  },
  postgres: withEvents(
    `UPDATE jobs SET status = 'QUEUED', attempts = 0, error = NULL, result = NULL, progress = 0, run_at = $now,
       started_at = NULL, finished_at = NULL, claimed_by = NULL
     WHERE id = $id AND status IN ('FAILED', 'CANCELLED') RETURNING *`,
    'retried',
    `json_build_object('by', $by::int)::text`,
  ),
} satisfies Transition<{ id: number; now: number; by: number }>;
