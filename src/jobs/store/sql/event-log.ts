// The event log's reads (event cursors: docs/events.md), both databases side by side. A position in the log is
// (tx, id). SQLite has one writer, whose IMMEDIATE transactions commit in id order: tx is always 0 there. On
// PostgreSQL identity ids are taken at insert, not at commit, so id order alone is not commit order: job_events.tx
// (the writing transaction, migration `event_cursors`) orders them, and a read returns only rows whose transaction
// is older than every transaction still running (`settled`). That set grows only past its end: a reader that saw
// position P will never find a new row before P.

const settled = `e.tx < pg_snapshot_xmin(pg_current_snapshot())`;

/** The columns every event read returns: the event, its position, and the job fields a subscription filters by. */
const eventColumns = {
  sqlite: `e.id, '0' AS tx, e.job_id, e.type, e.payload, e.at, j.owner_id, j.queue, j.kind`,
  postgres: `e.id, e.tx::text AS tx, e.job_id, e.type, e.payload, e.at, j.owner_id, j.queue, j.kind`,
};

/**
 * PostgreSQL: each event's job, looked up by its primary key whatever the planner thinks of the table's size
 * (`OFFSET 0` keeps the subquery from becoming a join). As a join, a plan made while `jobs` was a few pages (a new
 * database; a connection keeps a generic plan) scanned the whole table for every event: one read took 14 s under
 * the bulk bench.
 */
const PG_JOB_OF_EVENT = `SELECT owner_id, queue, kind FROM jobs WHERE id = e.job_id OFFSET 0`;

/**
 * The events after a position, in log order, of the jobs matching every filter given (null: any; `$types`: a JSON
 * array of event types). Events of a deleted job are gone with it (the join).
 */
export const eventsAfter = {
  sqlite: `SELECT ${eventColumns.sqlite} FROM job_events e JOIN jobs j ON j.id = e.job_id
           WHERE e.id > $afterId AND ($ownerId IS NULL OR j.owner_id = $ownerId) AND ($queue IS NULL OR j.queue = $queue)
             AND ($kind IS NULL OR j.kind = $kind) AND ($jobId IS NULL OR e.job_id = $jobId)
             AND ($types IS NULL OR e.type IN (SELECT value FROM json_each($types)))
           ORDER BY e.id LIMIT $limit`,
  postgres: `SELECT ${eventColumns.postgres} FROM job_events e CROSS JOIN LATERAL (${PG_JOB_OF_EVENT}) j
             WHERE (e.tx, e.id) > ($afterTx::text::xid8, $afterId::int) AND ${settled}
               AND ($ownerId::int IS NULL OR j.owner_id = $ownerId::int) AND ($queue::text IS NULL OR j.queue = $queue::text)
               AND ($kind::text IS NULL OR j.kind = $kind::text) AND ($jobId::int IS NULL OR e.job_id = $jobId::int)
               AND ($types::text IS NULL OR e.type IN (SELECT jsonb_array_elements_text($types::text::jsonb)))
             ORDER BY e.tx, e.id LIMIT $limit`,
};

/** The oldest event kept, and the newest settled one (where a live reader starts). */
export const eventBounds = {
  sqlite: {
    first: `SELECT '0' AS tx, id FROM job_events ORDER BY id LIMIT 1`,
    last: `SELECT '0' AS tx, id FROM job_events ORDER BY id DESC LIMIT 1`,
  },
  postgres: {
    first: `SELECT tx::text AS tx, id FROM job_events ORDER BY tx, id LIMIT 1`,
    last: `SELECT e.tx::text AS tx, e.id FROM job_events e WHERE ${settled} ORDER BY e.tx DESC, e.id DESC LIMIT 1`,
  },
};

/** The positions of events by id (for events read through a job's `events`, which Drizzle reads without tx). */
export const eventPositions = {
  sqlite: `SELECT '0' AS tx, id FROM job_events WHERE id IN (SELECT value FROM json_each($ids))`,
  postgres: `SELECT tx::text AS tx, id FROM job_events WHERE id IN (SELECT jsonb_array_elements_text($ids::text::jsonb)::int)`,
};

/** This database's random id (made by the first instance that asks; every cursor carries it). */
export const databaseId = {
  sqlite: {
    make: `INSERT INTO meta (key, value) VALUES ('database_id', $value) ON CONFLICT (key) DO NOTHING`,
    read: `SELECT value FROM meta WHERE key = 'database_id'`,
  },
  postgres: {
    make: `INSERT INTO meta (key, value) VALUES ('database_id', $value) ON CONFLICT (key) DO NOTHING`,
    read: `SELECT value FROM meta WHERE key = 'database_id'`,
  },
};
