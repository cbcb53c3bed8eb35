import { type Transition, withEvents } from './events';

/**
 * completeJob: a person completes the job they pulled, with their result.
 * Guard: RUNNING. Fence: the lease token (a late answer from an earlier lease changes nothing). Event: `succeeded` {by}.
 */
export const complete = {
  sqlite: {
    change: `UPDATE jobs SET status = 'SUCCEEDED', result = $result, error = NULL, progress = 1, finished_at = $now,
               lease_token = NULL, lease_expires_at = NULL
             WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken RETURNING *`,
    event: { type: 'succeeded', payload: (_row, { by }) => ({ by }) },
  },
  postgres: withEvents(
    `UPDATE jobs SET status = 'SUCCEEDED', result = $result, error = NULL, progress = 1, finished_at = $now,
       lease_token = NULL, lease_expires_at = NULL
     WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken RETURNING *`,
    'succeeded',
    `json_build_object('by', $by::int)::text`,
  ),
} satisfies Transition<{ id: number; leaseToken: string | null; result: string; now: number; by: number }>;
