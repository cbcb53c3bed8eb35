import { withEvents } from './events';
import { IN_FLOW, PARENTS } from './flow';
import type { JobSqlRow } from '../rows';

// claimJobs and pullJob: lease the runnable jobs of a queue (QUEUED and due), lowest priority number then oldest
// first, in one statement. Guard: QUEUED, run_at <= $now. Fence: a fresh lease token per claim ($leasePrefix || id),
// which every later change of the job must show. Events: `started` {attempt} for the pool's claims, `pulled`
// {by, attempt} for a person's. Parameters: queue, now, limit, leasePrefix, leaseExpiresAt, claimedBy (and by).

export const SET_LEASE = `status = 'RUNNING', attempts = jobs.attempts + 1, lease_token = $leasePrefix || jobs.id,
  lease_expires_at = $leaseExpiresAt, claimed_by = $claimedBy, started_at = $now, progress = 0`;

/**
 * PostgreSQL: rows another instance is claiming right now are skipped (SKIP LOCKED), not waited for. The pick is a
 * MATERIALIZED CTE, run once: as a subquery a plan may rescan it, and each rescan skips the rows this statement
 * already updated and locks the next ones — a queue of concurrency 2 handed out 5 (on a loaded machine, once the
 * planner's statistics changed). Every LIMIT … FOR UPDATE pick in ./ is written so.
 */
const pgClaim = (limit: string) => `
  WITH picked AS MATERIALIZED (SELECT id FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND run_at <= $now
                               ORDER BY priority, id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
  UPDATE jobs SET ${SET_LEASE} FROM picked WHERE jobs.id = picked.id RETURNING jobs.*`;

/** poolMany's parameters, in its function's order (the function's body names them `$1`…). */
const POOL_MANY_PARAMS = ['names', 'claims', 'budget', 'now', 'leasePrefix', 'leaseExpiresAt', 'claimedBy'];

/** poolMany's claim, inside its function: its rows into `claimed`, one JSON array in id order. */
const POOL_MANY = withEvents(
  `WITH wanted AS MATERIALIZED (
     SELECT c.queue, c.ord, greatest(0, least(c."limit", q.concurrency
              - (SELECT count(*) FROM jobs r WHERE r.queue = c.queue AND r.status = 'RUNNING' AND r.claimed_by = 'pool')))::int AS room
     FROM jsonb_to_recordset($claims::jsonb) AS c(queue text, "limit" int, ord int)
     JOIN queues q ON q.name = c.queue AND NOT q.paused),
   picked AS MATERIALIZED (
     SELECT j.id FROM wanted w CROSS JOIN LATERAL (
       SELECT id, priority FROM jobs WHERE queue = w.queue AND status = 'QUEUED' AND run_at <= $now
       ORDER BY priority, id LIMIT w.room FOR UPDATE SKIP LOCKED) AS j
     ORDER BY w.ord, j.priority, j.id LIMIT $budget)
   UPDATE jobs SET ${SET_LEASE} WHERE jobs.id = ANY (ARRAY(SELECT id FROM picked)) RETURNING jobs.*`,
  'started',
  `json_build_object('attempt', attempts)::text`,
  '$now',
  PARENTS + IN_FLOW,
  'claimed',
);

export const claim = {
  sqlite: {
    /**
     * The only writer: the queue's concurrency and pause are the runner's to apply (it asks for `$limit`). Parameters
     * go through `(SELECT $x)`: bare, SQLite's STAT4 planner prepared the statement again at every new `$now` (a claim
     * of 64 cost 7.3–8.3 µs a job, 6.6–6.9 so; same plan, jobs_claim_idx), as with the FAIR claim.
     */
    change: `UPDATE jobs SET ${SET_LEASE}
             WHERE id IN (SELECT id FROM jobs WHERE queue = (SELECT $queue) AND status = 'QUEUED' AND run_at <= (SELECT $now)
                          ORDER BY priority, id LIMIT (SELECT $limit))
             RETURNING *`,
    started: (row: JobSqlRow) => ({ attempt: row.attempts }),
    pulled: (row: JobSqlRow, by: number) => ({ by, attempt: row.attempts }),
  },
  postgres: {
    /** Taken first, in the claim's transaction: claims of one queue, over every instance, run in turn. */
    lockQueue: `SELECT 1 FROM queues WHERE name = $queue FOR UPDATE`,
    /**
     * The pool takes at most the room its queue has over every instance: its concurrency less the pool jobs running
     * (none when paused). Run after lockQueue, so the count sees every claim committed before.
     */
    pool: withEvents(
      pgClaim(`greatest(0, least($limit::int, coalesce((
         SELECT q.concurrency - (SELECT count(*) FROM jobs r WHERE r.queue = $queue AND r.status = 'RUNNING' AND r.claimed_by = 'pool')
         FROM queues q WHERE q.name = $queue AND NOT q.paused), 0)))`),
      'started',
      `json_build_object('attempt', attempts)::text`,
    ),
    pull: withEvents(pgClaim('$limit'), 'pulled', `json_build_object('by', $by::int, 'attempt', attempts)::text`),
    /**
     * A pass over several plain queues (no rate limit, not FAIR) as one call: each queue takes at most its room (as
     * `pool`), the queues in the pass's order share `$budget`. `$claims`: a JSON array of {queue, limit, ord};
     * `$names`: the queues' names, JSON. The call is a PL/pgSQL function (`poolManyFunction`, which the store makes at
     * start) that first locks every queue's row in name order (`FOR NO KEY UPDATE`: submissions' share locks do not
     * wait on it; claims of a queue, over every instance, take turns), then claims under a snapshot taken after the
     * lock: each statement of a volatile function takes its own, so the running counts see every claim committed
     * before (a statement that waited on a lock keeps the snapshot it started with: the lock in the claim's own
     * statement could over-claim). One statement, atomic alone: no transaction's BEGIN and COMMIT round trips. Its
     * rows (`claimed`, one JSON array, id order) come with `parents` (./flow.ts `PARENTS`: the claimant's run needs
     * them, and they are final once the job is QUEUED) and `in_flow` (./flow.ts `IN_FLOW`, for its settle).
     */
    poolMany: (fn: string) => `SELECT ${fn}($names, $claims, $budget, $now, $leasePrefix, $leaseExpiresAt, $claimedBy) AS claimed`,
    /**
     * poolMany's function, named `fn` (the store names it by a hash of this text: instances of another version keep
     * theirs). The pick is one MATERIALIZED CTE (a queue's LATERAL pick runs once per queue); rows a later queue locked
     * past the budget stay QUEUED, unlocked at commit. The update looks its rows up by id (`= ANY (ARRAY(…))`: as a
     * join, a plan hashed the picks and scanned the whole table). Its plans are generic, made once per connection with
     * sequential scans ruled out (see the store's `claimPlain`). Parameters as poolMany's, in its order.
     */
    poolManyFunction: (fn: string) => `
      CREATE FUNCTION ${fn}(text, text, int, bigint, text, bigint, text)
      RETURNS json LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $fn$
      DECLARE claimed json;
      BEGIN
        PERFORM 1 FROM queues WHERE name IN (SELECT jsonb_array_elements_text($names::jsonb)) ORDER BY name FOR NO KEY UPDATE;
        ${POOL_MANY};
        RETURN coalesce(claimed, '[]');
      END $fn$`.replace(/\$([A-Za-z]+)\b(?!\$)/g, (name, key: string) => (POOL_MANY_PARAMS.includes(key) ? `$${POOL_MANY_PARAMS.indexOf(key) + 1}` : name)),
  },
};

/**
 * claimJobsOfKind: a person's "run these now": every QUEUED job of one kind in a queue, oldest first, retry times
 * notwithstanding. Guard: QUEUED (due or not). Fence: a fresh lease token. Event: `started` {attempt}.
 */
export const claimKind = {
  sqlite: {
    change: `UPDATE jobs SET ${SET_LEASE}
             WHERE id IN (SELECT id FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND kind = $kind ORDER BY id LIMIT $limit)
             RETURNING *`,
  },
  postgres: withEvents(
    `WITH picked AS MATERIALIZED (SELECT id FROM jobs WHERE queue = $queue AND status = 'QUEUED' AND kind = $kind
                                 ORDER BY id LIMIT $limit FOR UPDATE SKIP LOCKED)
     UPDATE jobs SET ${SET_LEASE} FROM picked WHERE jobs.id = picked.id RETURNING jobs.*`,
    'started',
    `json_build_object('attempt', attempts)::text`,
  ),
};
