/**
 * heartbeat: extends the leases in `$batch` (a JSON array of {id, leaseToken}) that have not run out, to
 * `$leaseExpiresAt`; returns the ids it renewed. Guard: RUNNING, lease_expires_at >= $now (an expired lease may
 * already be another's). Fence: the lease token. Event: none (it runs every few seconds per job).
 */
export const heartbeat = {
  sqlite: `
    UPDATE jobs SET lease_expires_at = $leaseExpiresAt
    FROM (SELECT value ->> 'id' AS id, value ->> 'leaseToken' AS lease_token FROM json_each($batch)) AS b
    WHERE jobs.id = b.id AND +jobs.status = 'RUNNING' AND +jobs.lease_token = b.lease_token AND +jobs.lease_expires_at >= $now
    RETURNING jobs.id AS id`,
  /** The rows are locked in id order first, as settleJobs locks them: the two never wait on each other in a cycle. */
  postgres: `
    UPDATE jobs SET lease_expires_at = $leaseExpiresAt
    FROM (SELECT j.id FROM jobs j JOIN json_to_recordset($batch::text::json) AS b(id int, "leaseToken" text) ON j.id = b.id
          WHERE j.status = 'RUNNING' AND j.lease_token = b."leaseToken" AND j.lease_expires_at >= $now
          ORDER BY j.id FOR UPDATE OF j) AS held
    WHERE jobs.id = held.id
    RETURNING jobs.id`,
};
