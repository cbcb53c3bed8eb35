/**
 * addNote: a person's note on a job: history only, never a change of state. Guard: the job exists (any status).
 * Fence: none. Event: `note` {note, by, username} (the JSON `$payload`); the statement returns a row when it wrote.
 * PostgreSQL key-share-locks the job (job_events has no foreign key there): a delete beside it waits, and takes the note.
 */
export const note = {
  sqlite: `INSERT INTO job_events (job_id, type, payload, at) SELECT id, 'note', $payload, $now FROM jobs WHERE id = $id RETURNING job_id`,
  postgres: `INSERT INTO job_events (job_id, type, payload, at) SELECT id, 'note', $payload, $now FROM jobs WHERE id = $id FOR KEY SHARE RETURNING job_id`,
};
