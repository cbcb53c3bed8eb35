/**
 * A rate-limited queue's claim (at most `jobs` starts per sliding window, over every instance): the starts in the
 * window are counted before the claim, and the claim's starts recorded after it, in its transaction. Only
 * rate-limited queues touch queue_starts, so an unlimited queue's claim costs nothing more. On PostgreSQL the queue's
 * row is locked first (as every pool claim does), so instances count and claim in turn.
 */
export const rateLimit = {
  sqlite: {
    /** Starts in the window, and the oldest of them (when the window frees a slot). */
    window: `SELECT count(*) AS n, min(at) AS oldest FROM queue_starts WHERE queue = $queue AND at > $since`,
    record: `INSERT INTO queue_starts (queue, at) SELECT $queue, $now FROM json_each($ids)`,
    prune: `DELETE FROM queue_starts WHERE queue = $queue AND at <= $since`,
  },
  postgres: {
    /**
     * Every queue of a claim pass, its row locked, in name order: claims of a queue (over every instance) take turns.
     * `FOR NO KEY UPDATE`: submissions' share locks (insert.postgres.lockQueues) do not wait on it. `$names`: JSON.
     */
    settings: `SELECT name, rate_limit_jobs AS jobs, rate_limit_per_seconds AS per_seconds FROM queues
               WHERE name IN (SELECT jsonb_array_elements_text($names::text::jsonb)) ORDER BY name FOR NO KEY UPDATE`,
    window: `SELECT count(*)::int AS n, min(at) AS oldest FROM queue_starts WHERE queue = $queue AND at > $since`,
    record: `INSERT INTO queue_starts (queue, at) SELECT $queue::text, $now::bigint FROM generate_series(1, $count::int)`,
    prune: `DELETE FROM queue_starts WHERE queue = $queue AND at <= $since`,
  },
} as const;
