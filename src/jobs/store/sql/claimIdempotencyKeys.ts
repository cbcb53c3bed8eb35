/**
 * Idempotency keys, claimed in the transaction that inserts their jobs. A key is free again once it expired or its
 * job is gone (deleted, or removed by retention); a claim that finds it taken gets the job it names instead.
 *
 * SQLite (one writer: no race) checks and claims one key at a time; PostgreSQL claims a whole batch with
 * `ON CONFLICT DO NOTHING`, which waits for a concurrent transaction holding the same key and then yields to it, so
 * 50 parallel submissions of one key make one job.
 */
export const freeStaleKey = {
  sqlite: `DELETE FROM idempotency_keys WHERE owner_id = $ownerId AND key = $key
             AND (expires_at <= $now OR NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = idempotency_keys.job_id))`,
  /** $keys: JSON [{owner_id, key}]. */
  postgres: `DELETE FROM idempotency_keys k USING jsonb_to_recordset($keys::text::jsonb) AS b(owner_id int, key text)
             WHERE k.owner_id = b.owner_id AND k.key = b.key
               AND (k.expires_at <= $now OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = k.job_id))`,
} as const;

export const claimKey = {
  /** Returns the job the key names when it is taken (nothing inserted), else claims it for $jobId. */
  sqlite: {
    find: `SELECT job_id AS jobId FROM idempotency_keys WHERE owner_id = $ownerId AND key = $key`,
    claim: `INSERT INTO idempotency_keys (owner_id, key, job_id, expires_at) VALUES ($ownerId, $key, $jobId, $expiresAt)`,
  },
  /**
   * `claim`: $keys, JSON [{owner_id, key, job_id, expires_at}] with ids in submission order (the first of a key within it wins);
   * answers the keys it claimed. `find` ($keys too), a statement of its own so that its snapshot
   * sees a concurrent claim it waited for: the job each key names.
   */
  postgres: {
    claim: `INSERT INTO idempotency_keys (owner_id, key, job_id, expires_at)
            SELECT owner_id, key, job_id, expires_at
            FROM jsonb_to_recordset($keys::text::jsonb) AS b(owner_id int, key text, job_id int, expires_at bigint)
            ORDER BY job_id
            ON CONFLICT DO NOTHING RETURNING job_id`,
    find: `SELECT k.owner_id, k.key, k.job_id FROM idempotency_keys k
           JOIN (SELECT DISTINCT owner_id, key FROM jsonb_to_recordset($keys::text::jsonb) AS b(owner_id int, key text)) AS b
             ON k.owner_id = b.owner_id AND k.key = b.key`,
  },
} as const;

/** Forgets expired keys, a batch at a time (the retention sweep). */
export const purgeExpiredKeys = {
  sqlite: `DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= $now LIMIT $limit)`,
  postgres: `WITH picked AS MATERIALIZED (SELECT owner_id, key FROM idempotency_keys WHERE expires_at <= $now LIMIT $limit FOR UPDATE SKIP LOCKED)
             DELETE FROM idempotency_keys WHERE (owner_id, key) IN (SELECT owner_id, key FROM picked)`,
} as const;
