import { SET_LEASE } from './claim';

// claimJobs on a FAIR queue (queues.order = 'FAIR'): owners with runnable jobs take turns. One statement walks the
// owners that have QUEUED jobs in owner-id order, starting after the queue's cursor (the owner whose turn came last)
// and wrapping around, until it has found `limit` owners with room under the queue's ownerConcurrency; it then takes
// each found owner's first jobs (priority, then age) and leases them in turn order: every owner's first job, then
// every owner's second, and so on, `limit` in all. The walk is an index skip scan (jobs_fair_idx: one probe per
// owner), so a claim costs the same with 10 or 100,000 jobs waiting. Jobs whose owner was deleted (owner_id NULL)
// come after every owner's turn. Guard, fence and events: as the FIFO claim (./claim.ts): QUEUED and due, a fresh
// lease token, `started` {attempt}. The caller then moves the cursor (`moveCursor`, with `lastTurn`).
// Parameters: queue, now, limit, cursor, leasePrefix, leaseExpiresAt, claimedBy.

/** The first owner after `after` with a QUEUED job in the queue (null: none). */
const next = (after: string) => `(SELECT min(owner_id) FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND owner_id > ${after})`;

/** How many more jobs of `owner` may start: the queue's ownerConcurrency less its RUNNING jobs (no limit: `limit`). */
const room = (owner: string, limit: string) => `coalesce(
  (SELECT q.owner_concurrency FROM queues q WHERE q.name = $queue)
    - (SELECT count(*) FROM jobs r WHERE r.queue = $queue AND r.status = 'RUNNING' AND r.owner_id = ${owner}), ${limit})`;

/**
 * The walk over the owners (`turn`: their place in this round) and the jobs picked, as CTEs before the final
 * statement. `limit` is an SQL expression; `candidates` takes an owner's first jobs (SQLite has no LATERAL).
 */
function picked(limit: string, candidates: string): string {
  // Lap 0: owners after the cursor; lap 1: from the smallest owner id up to the cursor.
  const step = `coalesce(${next('w.owner_id')}, CASE WHEN w.lap = 0 THEN ${next('-1')} END)`;
  return `
  walk(owner_id, lap, turn, found) AS (
    SELECT head, lap, 1, CASE WHEN ${room('head', limit)} > 0 THEN 1 ELSE 0 END
    FROM (SELECT coalesce(${next('$cursor')}, ${next('-1')}) AS head,
                 CASE WHEN ${next('$cursor')} IS NULL THEN 1 ELSE 0 END AS lap) AS start
    WHERE head IS NOT NULL
    UNION ALL
    SELECT ${step}, CASE WHEN ${next('w.owner_id')} IS NULL THEN 1 ELSE w.lap END, w.turn + 1,
           w.found + CASE WHEN ${room(step, limit)} > 0 THEN 1 ELSE 0 END
    FROM walk w
    -- Until enough owners with room are found, or the walk is back at the cursor.
    WHERE w.found < ${limit} AND ${step} IS NOT NULL
      AND (w.lap = 0 AND ${next('w.owner_id')} IS NOT NULL OR ${step} <= $cursor)
  ),
  owners AS (SELECT w.owner_id, w.turn, ${room('w.owner_id', limit)} AS room FROM walk w),
  ranked AS (
    SELECT c.id, o.owner_id, o.turn, o.room, row_number() OVER (PARTITION BY o.owner_id ORDER BY c.priority, c.id) AS rank
    FROM owners o ${candidates}
    WHERE o.room > 0
    UNION ALL
    SELECT id, NULL, 2147483647, ${limit}, row_number() OVER (ORDER BY priority, id)
    FROM (SELECT id, priority FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND owner_id IS NULL AND run_at <= $now
          ORDER BY priority, id LIMIT ${limit}) AS orphans
  ),
  picked AS (SELECT id FROM ranked WHERE rank <= room ORDER BY rank, turn LIMIT ${limit})`;
}

const ownersJobs = (owner: string, limit: string, columns = 'id, priority') =>
  `SELECT ${columns} FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND owner_id = ${owner} AND run_at <= $now
   ORDER BY priority, id LIMIT ${limit}`;

/** PostgreSQL: the room the queue has over every instance, as the FIFO pool claim counts it (none when paused). */
const PG_LIMIT = `(SELECT n FROM lim)`;
const pgLimit = `lim AS (SELECT greatest(0, least($limit::int, coalesce((
    SELECT q.concurrency - (SELECT count(*) FROM jobs r WHERE r.queue = $queue AND r.status = 'RUNNING' AND r.claimed_by = 'pool')
    FROM queues q WHERE q.name = $queue AND NOT q.paused), 0)))::int AS n)`;

/**
 * SQLite: each `$queue`, `$cursor`, `$now`, `$limit` read through `(SELECT $x)`. A bare parameter the planner can
 * estimate with (an indexed column's `= $queue`, a range, a LIMIT) makes SQLite (STAT4) prepare the statement again
 * each time it is bound: 2 to 3 ms a claim for this one, against 0.02 ms with them opaque. The index is used all the same.
 */
const opaqueParameters = (text: string) => text.replace(/\$(queue|cursor|now|limit)\b/g, '(SELECT $$$1)');

export const claimFair = {
  sqlite: {
    /** The only writer: the queue's concurrency and pause are the runner's to apply (it asks for `$limit`). */
    change: opaqueParameters(`WITH RECURSIVE ${picked('$limit', `JOIN jobs c ON c.id IN (${ownersJobs('o.owner_id', '$limit', 'id')})`)}
             UPDATE jobs SET ${SET_LEASE} WHERE id IN (SELECT id FROM picked) RETURNING *`),
    cursor: `SELECT fair_cursor AS cursor FROM queues WHERE name = $queue`,
    moveCursor: `UPDATE queues SET fair_cursor = $owner WHERE name = $queue`,
  },
  postgres: {
    /** Run after the queue row's lock (rateLimit.postgres.settings), in its transaction: the running counts see every claim before. */
    cursor: `SELECT fair_cursor AS cursor FROM queues WHERE name = $queue`,
    pool: `WITH RECURSIVE ${pgLimit}, ${picked(PG_LIMIT, `CROSS JOIN LATERAL (${ownersJobs('o.owner_id', PG_LIMIT)}) c`)},
      locked AS MATERIALIZED (SELECT id FROM jobs WHERE id IN (SELECT id FROM picked) FOR UPDATE SKIP LOCKED),
      claimed AS (UPDATE jobs SET ${SET_LEASE} FROM locked WHERE jobs.id = locked.id RETURNING jobs.*),
      logged AS (INSERT INTO job_events (job_id, type, payload, at)
                 SELECT id, 'started', json_build_object('attempt', attempts)::text, $now FROM claimed)
      SELECT * FROM claimed ORDER BY id`,
    moveCursor: `UPDATE queues SET fair_cursor = $owner WHERE name = $queue`,
  },
};

/**
 * The owner whose turn came last among the jobs a FAIR claim took (their owners, in any order), given the cursor
 * the claim started after: the next claim starts after it. Each owner's jobs were taken first to n-th in turn, so
 * the last one taken belongs to an owner with the most jobs taken, the latest in the round among those.
 */
export function lastTurn(cursor: number, owners: readonly (number | null)[]): number | null {
  const taken = new Map<number, number>();
  for (const owner of owners) if (owner !== null) taken.set(owner, (taken.get(owner) ?? 0) + 1);
  let last: number | null = null;
  let most = 0;
  // An owner's place in the round: those after the cursor first, then those up to it.
  const place = (owner: number) => (owner > cursor ? owner : owner + 2 ** 40);
  for (const [owner, n] of taken) {
    if (n > most || (n === most && place(owner) > place(last!))) [last, most] = [owner, n];
  }
  return last;
}
