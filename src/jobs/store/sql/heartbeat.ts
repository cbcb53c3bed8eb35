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
  postgres: `
    UPDATE jobs SET lease_expires_at = $leaseExpiresAt
    FROM jsonb_to_recordset($batch::text::jsonb) AS b(id int, "leaseToken" text)
    WHERE jobs.id = b.id AND jobs.status = 'RUNNING' AND jobs.lease_token = b."leaseToken" AND jobs.lease_expires_at >= $now
    RETURNING jobs.id`,
};
