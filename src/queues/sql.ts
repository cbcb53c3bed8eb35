// The queues' own statements (their settings; their jobs are the job store's), both databases side by side (see
// src/db/statements.ts), and the row as either driver gives it.
import type { queues } from '../db/schema';
import { booleanOf, dateOf, type Statement } from '../db/statements';

type Queue = typeof queues.$inferSelect;

/** The same text on both databases. */
const both = (text: string): Statement => ({ sqlite: text, postgres: text });

/** Each column a caller may set, by the property that names it. */
const COLUMNS = {
  name: 'name',
  concurrency: 'concurrency',
  maxLength: 'max_length',
  paused: 'paused',
  order: 'claim_order',
  ownerConcurrency: 'owner_concurrency',
  rateLimitJobs: 'rate_limit_jobs',
  rateLimitPerSeconds: 'rate_limit_per_seconds',
  retentionSucceededSeconds: 'retention_succeeded_seconds',
  retentionFailedSeconds: 'retention_failed_seconds',
  retentionCancelledSeconds: 'retention_cancelled_seconds',
} as const;
export type QueueColumn = keyof typeof COLUMNS;

/** A new queue with the columns given (the others take their defaults); no row when the name is taken. */
export const insertQueue = (given: QueueColumn[]) =>
  both(`INSERT INTO queues (${given.map((key) => COLUMNS[key]).join(', ')}) VALUES (${given.map((key) => `$${key}`).join(', ')}) ON CONFLICT DO NOTHING RETURNING *`);

/** Only the columns given are written: the others keep what they hold (another instance's change, say). */
export const updateQueue = (given: QueueColumn[]) => both(`UPDATE queues SET ${given.map((key) => `${COLUMNS[key]} = $${key}`).join(', ')} WHERE name = $name RETURNING *`);

export const queueByName = both(`SELECT * FROM queues WHERE name = $name`);

export const allQueues = both(`SELECT * FROM queues ORDER BY id`);

export const deleteQueue = both(`DELETE FROM queues WHERE name = $name`);

type Count = number | null;
/** A `queues` row as either driver gives it. */
export interface QueueSqlRow {
  id: number;
  name: string;
  concurrency: number;
  max_length: number;
  paused: number | boolean;
  claim_order: Queue['order'];
  owner_concurrency: Count;
  fair_cursor: number;
  rate_limit_jobs: Count;
  rate_limit_per_seconds: Count;
  retention_succeeded_seconds: Count;
  retention_failed_seconds: Count;
  retention_cancelled_seconds: Count;
  created_at: number | string;
}

export const toQueue = (row: QueueSqlRow): Queue => ({
  id: row.id,
  name: row.name,
  concurrency: row.concurrency,
  maxLength: row.max_length,
  paused: booleanOf(row.paused),
  order: row.claim_order,
  ownerConcurrency: row.owner_concurrency,
  fairCursor: row.fair_cursor,
  rateLimitJobs: row.rate_limit_jobs,
  rateLimitPerSeconds: row.rate_limit_per_seconds,
  retentionSucceededSeconds: row.retention_succeeded_seconds,
  retentionFailedSeconds: row.retention_failed_seconds,
  retentionCancelledSeconds: row.retention_cancelled_seconds,
  createdAt: dateOf(row.created_at),
});
