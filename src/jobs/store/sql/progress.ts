/**
 * progress: a running job's progress (0..1). Guard: RUNNING. Fence: the lease token. Event: none (it changes ten
 * times a second).
 */
export const progress = {
  sqlite: `UPDATE jobs SET progress = $progress WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken`,
  postgres: `UPDATE jobs SET progress = $progress WHERE id = $id AND status = 'RUNNING' AND lease_token = $leaseToken`,
};
