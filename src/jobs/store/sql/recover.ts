// recoverExpired: running jobs whose lease ran out (their claimant went away: a kill -9, a closed tab) go back to
// their queue to run at once, or fail when they have no attempts left. Guard: RUNNING and lease_expires_at < $now
// (SQLite at start-up also every pool job, `$everyPoolJob`: they belonged to a dead process). Fence: the expired
// lease is dropped, so its holder's late answer changes nothing. Events: `recovered` or `failed`
// {attempt, claimedBy}, written from the rows as they were (the update forgets the claimant).

/** The `error` a recovered job shows; and one that failed for it. */
export const RECOVERED = 'its worker or claimant went away; re-queued';
export const OUT_OF_ATTEMPTS = 'its worker or claimant went away and it has no attempts left';

const EXPIRED = `status = 'RUNNING' AND (lease_expires_at < $now OR ($everyPoolJob AND claimed_by = 'pool'))`;

/**
 * SQLite reads the running jobs through jobs_running_idx, named: they are not in jobs_status_idx, and without it the
 * events' ORDER BY id made the planner scan the whole table in id order (every beat, with the history kept).
 */
export const recover = {
  sqlite: {
    /** Run first: the history names the claimant the updates forget. */
    events: `
      INSERT INTO job_events (job_id, type, payload, at)
      SELECT id, CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'recovered' END,
             json_object('attempt', attempts, 'claimedBy', claimed_by), $now
      FROM jobs INDEXED BY jobs_running_idx WHERE ${EXPIRED} ORDER BY id`,
    fail: `UPDATE jobs INDEXED BY jobs_running_idx SET status = 'FAILED', error = $outOfAttempts, finished_at = $now, lease_token = NULL, lease_expires_at = NULL
           WHERE ${EXPIRED} AND attempts >= max_attempts RETURNING *`,
    requeue: `UPDATE jobs INDEXED BY jobs_running_idx SET status = 'QUEUED', error = $recovered, run_at = $now, lease_token = NULL, lease_expires_at = NULL,
                claimed_by = NULL, progress = 0
              WHERE ${EXPIRED} AND attempts < max_attempts RETURNING *`,
  },
  /**
   * One statement, whoever held the leases (beside other instances, a running job whose lease has not run out may be
   * theirs: only expired leases count). Rows another instance is changing (completing, recovering) are skipped.
   */
  postgres: `
    WITH expired AS (SELECT id, attempts >= max_attempts AS out_of_attempts, attempts, claimed_by FROM jobs
                     WHERE status = 'RUNNING' AND lease_expires_at < $now FOR UPDATE SKIP LOCKED),
    logged AS (INSERT INTO job_events (job_id, type, payload, at)
               SELECT id, CASE WHEN out_of_attempts THEN 'failed' ELSE 'recovered' END,
                      json_build_object('attempt', attempts, 'claimedBy', claimed_by)::text, $now FROM expired),
    changed AS (UPDATE jobs SET
                  status = CASE WHEN e.out_of_attempts THEN 'FAILED' ELSE 'QUEUED' END,
                  error = CASE WHEN e.out_of_attempts THEN $outOfAttempts ELSE $recovered END,
                  finished_at = CASE WHEN e.out_of_attempts THEN $now ELSE jobs.finished_at END,
                  run_at = CASE WHEN e.out_of_attempts THEN jobs.run_at ELSE $now END,
                  claimed_by = CASE WHEN e.out_of_attempts THEN jobs.claimed_by ELSE NULL END,
                  progress = CASE WHEN e.out_of_attempts THEN jobs.progress ELSE 0 END,
                  lease_token = NULL, lease_expires_at = NULL
                FROM expired AS e WHERE jobs.id = e.id RETURNING jobs.*)
    SELECT * FROM changed ORDER BY id`,
};
