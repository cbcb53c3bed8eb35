// insertJobs: new QUEUED jobs, all or none. Guard: no queue would hold more than its maxLength waiting (CONFLICT,
// checked by the store: SQLite from the counts it keeps, PostgreSQL counting under the queue rows' lock); a job
// whose idempotency key is remembered is not inserted (./claimIdempotencyKeys.ts). Fence: none. Event: `queued`
// ({runAt} when it starts later, else no payload). PostgreSQL then NOTIFYs, so idle instances wake and claim.
import { tuples } from './events';

export const insert = {
  sqlite: {
    /**
     * The last id used: the single writer numbers a batch itself, in its transaction (AUTOINCREMENT never reuses an
     * id, and sqlite_sequence has no row before the first insert), then writes it in three statements.
     */
    lastId: `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), coalesce((SELECT max(id) FROM jobs), 0)) AS id`,
    /**
     * `rows` new jobs with their ids, each bound as (id, kind, queue, owner_id, max_attempts, priority, timeout_ms,
     * run_at, created_at, idempotency_key, schedule); then their inputs (id, input) and `queued` events (id, payload,
     * at). Bound in place, in statements of up to VALUES_CHUNK rows: a JSON array read back with json_each cost 14 µs
     * a job for the three, these 8 (docs/benchmarks.md).
     */
    jobs: (rows: number) =>
      `INSERT INTO jobs (id, kind, status, queue, owner_id, max_attempts, priority, timeout_ms, run_at, created_at, idempotency_key, schedule)
       VALUES ${tuples(rows, "(?, ?, 'QUEUED', ?, ?, ?, ?, ?, ?, ?, ?, ?)")}`,
    inputs: (rows: number) => `INSERT INTO job_inputs (job_id, input) VALUES ${tuples(rows, '(?, ?)')}`,
    events: (rows: number) => `INSERT INTO job_events (job_id, type, payload, at) VALUES ${tuples(rows, "(?, 'queued', ?, ?)")}`,
    /** One job's input and `queued` event (a flow's nodes, inserted one by one). */
    input: `INSERT INTO job_inputs (job_id, input) VALUES ($id, $input)`,
    event: `INSERT INTO job_events (job_id, type, payload, at)
            VALUES ($id, 'queued', CASE WHEN $runAt > $now THEN json_object('runAt', $runAt) END, $now)`,
  },
  postgres: {
    /**
     * Submissions to a queue take turns (each counts its waiting jobs after the one before committed): a transaction
     * advisory lock per queue, taken in name order. The queues' rows are only share-locked (not deleted meanwhile),
     * so submissions never wait on claims, which lock the rows themselves (rateLimit.postgres.settings): while one
     * inserted 500 jobs, every claim of its queue waited (~20 ms a claim on a loaded machine). A claim only lowers a
     * waiting count, so a count read beside one is never too low. Their maxLength is read here too: this instance's
     * list may predate another instance's change of it. A queue not found is refused by the store: `jobs.queue` is no
     * foreign key here (migration `jobs_references_triggers`), and this lock is the check it made.
     */
    lockQueues: `
      WITH turns AS MATERIALIZED (SELECT name, pg_advisory_xact_lock(hashtext('jobgraph:submit:' || name))
                                  FROM (SELECT jsonb_array_elements_text($names::text::jsonb) AS name ORDER BY 1) AS named)
      SELECT name, max_length FROM queues WHERE name IN (SELECT name FROM turns) ORDER BY name FOR KEY SHARE`,
    /**
     * The owners a submission names, key-share-locked (id order, after the queues) for its transaction: `jobs.owner_id`
     * is no foreign key here, so this is the check it made — a user deleted meanwhile is not found (the store refuses
     * the submission), and one deleted later waits for the commit, then disowns the new jobs too (migration
     * `jobs_references_triggers`). `$owners`: a JSON array of user ids.
     */
    lockOwners: `SELECT id FROM users WHERE id IN (SELECT jsonb_array_elements_text($owners::text::jsonb)::int) ORDER BY id FOR KEY SHARE`,
    waiting: `SELECT queue, count(*)::int AS n FROM jobs WHERE status = 'QUEUED' AND queue IN (SELECT jsonb_array_elements_text($names::text::jsonb)) GROUP BY queue`,
    ids: `SELECT nextval('jobs_id_seq')::int AS id FROM generate_series(1, $n::int)`,
    /**
     * `$batch`: a JSON array of the new rows (with their ids): the jobs, their inputs and `queued` events in one
     * statement. As three, each parsed the whole batch again (PostgreSQL folds `$batch::jsonb` while planning, so
     * once per statement: ~6 ms of each 500-job submission's ~20 ms went to parsing it) and made its own plan. Read as
     * `json`, not `jsonb`: a batch read once, row by row, needs no tree (json_to_recordset 1.5 ms a 500-job batch,
     * jsonb_to_recordset 4.2 ms; the same for every `$batch` of ./*.ts).
     */
    rows: `
      WITH b AS MATERIALIZED (SELECT * FROM ${recordset('$batch')}),
      added AS (INSERT INTO jobs (id, kind, status, queue, owner_id, max_attempts, priority, timeout_ms, run_at, created_at, idempotency_key, schedule)
                SELECT id, kind, 'QUEUED', queue, owner_id, max_attempts, priority, timeout_ms, coalesce(run_at, $now), $now, idempotency_key, schedule FROM b),
      inputs AS (INSERT INTO job_inputs (job_id, input) SELECT id, input FROM b)
      INSERT INTO job_events (job_id, type, payload, at)
      SELECT id, 'queued', CASE WHEN run_at > $now THEN json_build_object('runAt', run_at)::text END, $now FROM b`,
    /** The jobs an idempotency key named instead (those of this batch included: read after its inserts). */
    reused: `SELECT * FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($ids::text::jsonb)::int)`,
  },
};

function recordset(param: string): string {
  return `json_to_recordset(${param}::text::json) AS b(id int, kind text, queue text, owner_id int, max_attempts int, priority int, timeout_ms int,
    run_at bigint, idempotency_key text, schedule text, input text)`;
}
