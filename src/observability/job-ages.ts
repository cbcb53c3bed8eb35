// For /metrics: how long the oldest runnable job of each queue has waited. A read at scrape time (./sql.ts);
// jobs delayed to a later `runAt` are not waiting yet.
import type { Database } from '../db/client';
import { numberOf } from '../db/statements';
import * as sql from './sql';

/** Each queue with a runnable QUEUED job: since when its oldest one could run. */
export async function oldestWaitingByQueue(database: Database, now: number): Promise<Map<string, number>> {
  const rows = await database.all<{ queue: string; since: number | string | null }>(sql.oldestWaitingByQueue, { now });
  return new Map(rows.flatMap(({ queue, since }) => (since === null ? [] : [[queue, numberOf(since)] as [string, number]])));
}
