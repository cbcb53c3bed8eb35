import { type Transition, withEvents } from './events';

/**
 * cancelJob: a person stops a queued or running job (a running one's late answer is then fenced out).
 * Guard: QUEUED, RUNNING or WAITING (a flow node). Fence: none (any holder's lease ends). Event: `cancelled` {by}.
 */
export const cancel = {
  sqlite: {
    change: `UPDATE jobs SET status = 'CANCELLED', finished_at = $now, lease_token = NULL, lease_expires_at = NULL
             WHERE id = $id AND status IN ('QUEUED', 'RUNNING', 'WAITING') RETURNING *`,
    event: { type: 'cancelled', payload: (_row, { by }) => ({ by }) },
  },
  postgres: withEvents(
    `UPDATE jobs SET status = 'CANCELLED', finished_at = $now, lease_token = NULL, lease_expires_at = NULL
     WHERE id = $id AND status IN ('QUEUED', 'RUNNING', 'WAITING') RETURNING *`,
    'cancelled',
    `json_build_object('by', $by::int)::text`,
  ),
} satisfies Transition<{ id: number; now: number; by: number }>;
