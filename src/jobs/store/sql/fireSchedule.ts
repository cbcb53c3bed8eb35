/**
 * A schedule's due tick, taken by exactly one instance: `advance` moves next_run_at from the tick it read to the
 * next one only if no one has yet (compare-and-set, paused schedules left alone); the job of the tick is inserted in
 * the same transaction, so a tick is either taken with its job or not at all. With overlap SKIP a run still QUEUED
 * or RUNNING takes the tick without a job. `ran` stamps last_run_at when a job was made.
 */
export const fireSchedule = {
  sqlite: {
    advance: `UPDATE schedules SET next_run_at = $next WHERE name = $name AND next_run_at = $due AND NOT paused RETURNING name`,
    unfinishedRun: `SELECT 1 AS one FROM jobs WHERE schedule = $name AND status IN ('QUEUED', 'RUNNING') LIMIT 1`,
    ran: `UPDATE schedules SET last_run_at = $due WHERE name = $name`,
  },
  postgres: {
    advance: `UPDATE schedules SET next_run_at = $next WHERE name = $name AND next_run_at = $due AND NOT paused RETURNING name`,
    unfinishedRun: `SELECT 1 AS one FROM jobs WHERE schedule = $name AND status IN ('QUEUED', 'RUNNING') LIMIT 1`,
    ran: `UPDATE schedules SET last_run_at = $due WHERE name = $name`,
  },
} as const;
