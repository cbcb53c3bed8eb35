// The schedules domain's statements, both databases side by side (see src/db/statements.ts). Firing a tick is a job
// store transition (src/jobs/store/sql/fireSchedule.ts); these keep the schedules themselves.
import type { schedules } from '../db/schema';
import { booleanOf, dateOf, dateOrNull, type Statement } from '../db/statements';

/** The same text on both databases (SQLite knows TRUE/FALSE; times are millisecond parameters). */
const both = (text: string): Statement => ({ sqlite: text, postgres: text });

/** A new schedule; no row when the name is taken. */
export const insertSchedule = both(`
  INSERT INTO schedules (name, cron, timezone, job, request, queue, overlap, next_run_at, owner_id)
  VALUES ($name, $cron, $timezone, $job, $request, $queue, $overlap, $nextRunAt, $ownerId)
  ON CONFLICT DO NOTHING RETURNING *`);

export const pauseSchedule = both(`UPDATE schedules SET paused = TRUE, next_run_at = NULL WHERE name = $name RETURNING *`);

/** Only a paused one: no row when it runs already. */
export const resumeSchedule = both(`UPDATE schedules SET paused = FALSE, next_run_at = $nextRunAt WHERE name = $name AND paused = TRUE RETURNING *`);

export const deleteSchedule = both(`DELETE FROM schedules WHERE name = $name`);

/** Every schedule that runs (not paused, with a next tick). */
export const runningSchedules = both(`SELECT * FROM schedules WHERE paused = FALSE AND next_run_at IS NOT NULL`);

/** A schedule owner's rights as they are now. */
export const ownerRole = both(`SELECT id, role FROM users WHERE id = $id`);

/** A `schedules` row as either driver gives it (times in milliseconds, JSON as text). */
export interface ScheduleSqlRow {
  name: string;
  cron: string;
  timezone: string;
  job: string;
  request: string;
  queue: string;
  paused: number | boolean;
  overlap: (typeof schedules.$inferSelect)['overlap'];
  next_run_at: number | string | null;
  last_run_at: number | string | null;
  owner_id: number | null;
  created_at: number | string;
}

export const toSchedule = (row: ScheduleSqlRow): typeof schedules.$inferSelect => ({
  name: row.name,
  cron: row.cron,
  timezone: row.timezone,
  job: JSON.parse(row.job),
  request: JSON.parse(row.request),
  queue: row.queue,
  paused: booleanOf(row.paused),
  overlap: row.overlap,
  nextRunAt: dateOrNull(row.next_run_at),
  lastRunAt: dateOrNull(row.last_run_at),
  ownerId: row.owner_id,
  createdAt: dateOf(row.created_at),
});
