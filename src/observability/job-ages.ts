// For /metrics: how long the oldest runnable job of each queue has waited. A read at scrape time, the same SQL on
// both databases (Drizzle over the dialect's tables); jobs delayed to a later `runAt` are not waiting yet.
import { and, eq, lte, min } from 'drizzle-orm';
import type { Database } from '../db/client';

/** Each queue with a runnable QUEUED job: since when its oldest one could run. */
export async function oldestWaitingByQueue(database: Database, now: number): Promise<Map<string, number>> {
  const { jobs } = database.tables;
  const rows = await database.db
    .select({ queue: jobs.queue, since: min(jobs.runAt) })
    .from(jobs)
    .where(and(eq(jobs.status, 'QUEUED'), lte(jobs.runAt, new Date(now))))
    .groupBy(jobs.queue);
  return new Map(rows.flatMap(({ queue, since }) => (since === null ? [] : [[queue, new Date(since).getTime()] as [string, number]])));
}
