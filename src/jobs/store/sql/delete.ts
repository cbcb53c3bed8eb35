/**
 * deleteJob: removes a job, its input and its events (by cascade). Guard: none. Fence: none. Event: none (its
 * history goes with it). Returns the queue and status it had, for SQLite's waiting counts.
 */
export const deleteJob = {
  sqlite: `DELETE FROM jobs WHERE id = $id RETURNING queue, status`,
  postgres: `DELETE FROM jobs WHERE id = $id`,
};
