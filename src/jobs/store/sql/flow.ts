import { withEvents } from './events';

// Flows: jobs that wait for other jobs (submitFlow). A node with parents is stored WAITING, which no claim reads
// (the claim's `status = 'QUEUED'` guard and index stay as they are, so flows cost the claim nothing); its
// flow_nodes row counts the parents not yet final. Every transition that makes jobs final (settle, complete,
// cancel, recovery, cancelFlow) then runs `release` in its own transaction: children of a parent that did not
// succeed are cancelled (policy CANCEL), every child's count goes down, and a child whose count reaches 0 becomes
// QUEUED (`released`), so it is claimable the moment its last parent's outcome commits. The flow's counters move in
// the same transaction; the last node's end decides the flow's status. `$ids` / `$finished`: JSON arrays of job ids.

const SQLITE_IDS = (param: string) => `(SELECT value FROM json_each(${param}))`;
const PG_IDS = (param: string) => `(SELECT jsonb_array_elements_text(${param}::text::jsonb)::int)`;

/** submitFlow's rows: the flow, its jobs (QUEUED, or WAITING when they have parents), their nodes and edges. */
export const insertFlow = {
  sqlite: {
    flow: `INSERT INTO flows (name, owner_id, status, total, remaining, created_at) VALUES ($name, $ownerId, 'RUNNING', $total, $total, $now) RETURNING id`,
    job: `INSERT INTO jobs (kind, status, queue, owner_id, max_attempts, priority, timeout_ms, run_at, created_at)
          VALUES ($kind, $status, $queue, $ownerId, $maxAttempts, $priority, $timeoutMs, coalesce($runAt, $now), $now) RETURNING id`,
    /** `$batch`: [{jobId, key, onParentFailure, waitingParents}]. */
    nodes: `INSERT INTO flow_nodes (job_id, flow_id, key, on_parent_failure, waiting_parents)
            SELECT value ->> 'jobId', $flowId, value ->> 'key', value ->> 'onParentFailure', value ->> 'waitingParents' FROM json_each($batch)`,
    /** `$batch`: [{childId, parentId}]. */
    edges: `INSERT INTO job_dependencies (child_id, parent_id) SELECT value ->> 'childId', value ->> 'parentId' FROM json_each($batch)`,
  },
  postgres: {
    flow: `INSERT INTO flows (name, owner_id, status, total, remaining, created_at) VALUES ($name, $ownerId, 'RUNNING', $total, $total, $now) RETURNING id`,
    /** `$batch`: the jobs (ids from jobs_id_seq, as insertJobs takes them) with their status. */
    jobs: `INSERT INTO jobs (id, kind, status, queue, owner_id, max_attempts, priority, timeout_ms, run_at, created_at)
           SELECT id, kind, status, queue, owner_id, max_attempts, priority, timeout_ms, coalesce(run_at, $now), $now
           FROM json_to_recordset($batch::text::json) AS b(id int, kind text, status text, queue text, owner_id int, max_attempts int, priority int, timeout_ms int, run_at bigint)`,
    inputs: `INSERT INTO job_inputs (job_id, input) SELECT id, input FROM json_to_recordset($batch::text::json) AS b(id int, input text)`,
    events: `INSERT INTO job_events (job_id, type, payload, at) SELECT id, 'queued', NULL, $now FROM json_to_recordset($batch::text::json) AS b(id int)`,
    nodes: `INSERT INTO flow_nodes (job_id, flow_id, key, on_parent_failure, waiting_parents)
            SELECT "jobId", $flowId, key, "onParentFailure", "waitingParents"
            FROM json_to_recordset($batch::text::json) AS b("jobId" int, key text, "onParentFailure" text, "waitingParents" int)`,
    edges: `INSERT INTO job_dependencies (child_id, parent_id)
            SELECT "childId", "parentId" FROM json_to_recordset($batch::text::json) AS b("childId" int, "parentId" int)`,
  },
};

const CANCEL_CHILDREN = (ids: string) => `
  UPDATE jobs SET status = 'CANCELLED', finished_at = $now
  WHERE status = 'WAITING' AND id IN (
    SELECT d.child_id FROM job_dependencies d JOIN jobs p ON p.id = d.parent_id JOIN flow_nodes n ON n.job_id = d.child_id
    WHERE d.parent_id IN ${ids} AND p.status <> 'SUCCEEDED' AND n.on_parent_failure = 'CANCEL')
  RETURNING *`;

const COUNT_DOWN = (ids: string) => `
  UPDATE flow_nodes SET waiting_parents = flow_nodes.waiting_parents - d.n
  FROM (SELECT child_id, count(*) AS n FROM job_dependencies WHERE parent_id IN ${ids} GROUP BY child_id) AS d
  WHERE flow_nodes.job_id = d.child_id AND flow_nodes.waiting_parents > 0
  RETURNING flow_nodes.job_id AS id, flow_nodes.waiting_parents AS waiting`;

/** A node submitted with a later runAt keeps it; otherwise it is due now. `latest`: max (SQLite) or greatest (PostgreSQL). */
const RELEASE = (ids: string, latest: string) => `UPDATE jobs SET status = 'QUEUED', run_at = ${latest}(run_at, $now) WHERE status = 'WAITING' AND id IN ${ids} RETURNING *`;

const COUNT_FLOWS = (ids: string) => `
  UPDATE flows SET remaining = flows.remaining - d.n, not_succeeded = flows.not_succeeded + d.bad,
    status = CASE WHEN flows.status = 'RUNNING' AND flows.remaining - d.n <= 0
                  THEN CASE WHEN flows.not_succeeded + d.bad > 0 THEN 'FAILED' ELSE 'SUCCEEDED' END
                  ELSE flows.status END,
    finished_at = CASE WHEN flows.remaining - d.n <= 0 THEN $now ELSE flows.finished_at END
  FROM (SELECT n.flow_id, count(*) AS n, sum(CASE WHEN j.status = 'SUCCEEDED' THEN 0 ELSE 1 END) AS bad
        FROM flow_nodes n JOIN jobs j ON j.id = n.job_id WHERE n.job_id IN ${ids} GROUP BY n.flow_id) AS d
  WHERE flows.id = d.flow_id
  RETURNING id, name, owner_id, status, total, remaining, not_succeeded, created_at, finished_at`;

/**
 * release: what the jobs in `$finished` (just made final, in this transaction) let happen. Guard: children WAITING.
 * Fence: none (only a final parent releases; a job becomes final once). Events: `cancelled` {by: null, reason} for a
 * child whose parent did not succeed (policy CANCEL), `released` for a child whose last parent finished.
 */
export const release = {
  sqlite: {
    /** Whether any of these jobs belongs to a flow: a job that does not (most) costs this one lookup. */
    anyNode: `SELECT 1 AS yes FROM flow_nodes WHERE job_id IN ${SQLITE_IDS('$finished')} LIMIT 1`,
    /** Whether there is any flow node at all: with none (no flow submitted, or all deleted) a batch skips anyNode. */
    anyFlow: `SELECT 1 AS yes FROM flow_nodes LIMIT 1`,
    cancelChildren: CANCEL_CHILDREN(SQLITE_IDS('$finished')),
    countDown: COUNT_DOWN(SQLITE_IDS('$finished')),
    release: RELEASE(SQLITE_IDS('$ids'), 'max'),
    countFlows: COUNT_FLOWS(SQLITE_IDS('$finished')),
  },
  postgres: {
    /**
     * The flows of these jobs, locked in id order: transactions finishing nodes of one flow on several instances take
     * their turn there (the counts below stay exact, and no two lock children in opposite orders).
     */
    lockFlows: `SELECT id FROM flows WHERE id IN (SELECT flow_id FROM flow_nodes WHERE job_id IN ${PG_IDS('$finished')}) ORDER BY id FOR UPDATE`,
    cancelChildren: withEvents(CANCEL_CHILDREN(PG_IDS('$finished')), 'cancelled', `json_build_object('by', NULL, 'reason', 'a parent did not succeed')::text`),
    countDown: COUNT_DOWN(PG_IDS('$finished')),
    release: withEvents(RELEASE(PG_IDS('$ids'), 'greatest'), 'released', `NULL`),
    countFlows: COUNT_FLOWS(PG_IDS('$finished')),
  },
};

/**
 * PostgreSQL: `release` for the jobs that a CTE named `done` (earlier in the same statement) made SUCCEEDED, as CTEs
 * of that statement: the settle of a flow node and its children's release are one statement, one round trip (see
 * settle.ts `succeedMany`). No child is cancelled (every parent here succeeded), so one round. Locks are taken in
 * the order of the transaction they replace: `done`'s jobs, then (`locked`) the flows, then children. Each later
 * step starts only once the one before it has run to its end: an uncorrelated `(SELECT count(*) FROM x) >= 0` in a
 * WHERE is a one-time filter, evaluated before the statement's first row (checked with EXPLAIN). Counts move on
 * the newest row versions (an UPDATE re-reads a row another transaction changed meanwhile), so two instances
 * finishing parents of one child in turn release it exactly once. CTEs: `finished` {id, flow_id}, `released`
 * (rows), `counted_flows` (rows), `notified` (a NOTIFY on `$jobsChannel` when any child was released).
 */
export const RELEASE_SUCCEEDED = `
  finished AS MATERIALIZED (SELECT n.job_id AS id, n.flow_id FROM flow_nodes n
                            WHERE n.job_id IN (SELECT id FROM done) AND (SELECT count(*) FROM done) >= 0),
  locked AS MATERIALIZED (SELECT id FROM flows WHERE id IN (SELECT flow_id FROM finished) ORDER BY id FOR UPDATE),
  counted AS (UPDATE flow_nodes SET waiting_parents = flow_nodes.waiting_parents - d.n
              FROM (SELECT child_id, count(*) AS n FROM job_dependencies WHERE parent_id IN (SELECT id FROM finished) GROUP BY child_id) AS d
              WHERE flow_nodes.job_id = d.child_id AND flow_nodes.waiting_parents > 0 AND (SELECT count(*) FROM locked) >= 0
              RETURNING flow_nodes.job_id AS id, flow_nodes.waiting_parents AS waiting),
  released AS (${RELEASE('(SELECT id FROM counted WHERE waiting = 0)', 'greatest')}),
  released_logged AS (INSERT INTO job_events (job_id, type, payload, at) SELECT id, 'released', NULL, $now FROM released),
  counted_flows AS (
    UPDATE flows SET remaining = flows.remaining - d.n,
      status = CASE WHEN flows.status = 'RUNNING' AND flows.remaining - d.n <= 0
                    THEN CASE WHEN flows.not_succeeded > 0 THEN 'FAILED' ELSE 'SUCCEEDED' END
                    ELSE flows.status END,
      finished_at = CASE WHEN flows.remaining - d.n <= 0 THEN $now ELSE flows.finished_at END
    FROM (SELECT flow_id, count(*) AS n FROM finished GROUP BY flow_id) AS d
    WHERE flows.id = d.flow_id AND (SELECT count(*) FROM locked) >= 0
    RETURNING flows.*),
  notified AS (SELECT pg_notify($jobsChannel, '') FROM (SELECT 1 FROM released LIMIT 1) AS any_released)`;

/**
 * PostgreSQL: returned with claimed jobs (claim.ts `poolMany`), as a column over `changed`: each job's parents as
 * flowReads.parents gives them, in one JSON text (null for a job outside flows). Its run needs them, and they are
 * final (and their results written) before the job left WAITING.
 */
export const PARENTS = `,
  (SELECT json_agg(json_build_object('child_id', d.child_id, 'parent_id', d.parent_id, 'key', n.key, 'status', p.status, 'result', p.result)
                   ORDER BY d.parent_id)::text
   FROM job_dependencies d JOIN flow_nodes n ON n.job_id = d.parent_id JOIN jobs p ON p.id = d.parent_id
   WHERE d.child_id = changed.id) AS parents`;

/**
 * PostgreSQL: returned with claimed jobs (claim.ts `poolMany`), as a column over `changed`: whether the job is a flow's
 * node. A job is one from its insert on (insertFlow) or never, so a success of one that is not can be written without
 * `RELEASE_SUCCEEDED` (settle.ts `succeedMany.postgresOutsideFlows`).
 */
export const IN_FLOW = `,
  EXISTS (SELECT 1 FROM flow_nodes n WHERE n.job_id = changed.id) AS in_flow`;

/** The event payload of a child cancelled because a parent did not succeed (SQLite writes it from here). */
export const PARENT_FAILED = { by: null, reason: 'a parent did not succeed' };

/**
 * cancelFlow: a person stops a flow: the flow is CANCELLED, and every node not yet final with it (running ones
 * included: their late answers are fenced out, as cancelJob's). Guard: flow RUNNING. Fence: none. Event: `cancelled`
 * {by} per node; `release` then settles the counters.
 */
export const cancelFlow = {
  sqlite: {
    flow: `UPDATE flows SET status = 'CANCELLED' WHERE id = $id AND status = 'RUNNING' RETURNING id`,
    /** Read first: the nodes leaving QUEUED (SQLite's waiting counts). */
    queued: `SELECT j.queue, count(*) AS n FROM flow_nodes n JOIN jobs j ON j.id = n.job_id WHERE n.flow_id = $id AND j.status = 'QUEUED' GROUP BY j.queue`,
    nodes: `UPDATE jobs SET status = 'CANCELLED', finished_at = $now, lease_token = NULL, lease_expires_at = NULL
            WHERE id IN (SELECT job_id FROM flow_nodes WHERE flow_id = $id) AND status IN ('QUEUED', 'RUNNING', 'WAITING') RETURNING *`,
  },
  postgres: {
    /**
     * First, the unfinished nodes' rows in id order, as every other transition locks jobs before their flows (a
     * settle locks its jobs, then lockFlows): taking the flow first deadlocked with a node finishing meanwhile.
     */
    lockNodes: `SELECT id FROM jobs WHERE id IN (SELECT job_id FROM flow_nodes WHERE flow_id = $id)
                AND status IN ('QUEUED', 'RUNNING', 'WAITING') ORDER BY id FOR UPDATE`,
    flow: `SELECT id FROM flows WHERE id = $id AND status = 'RUNNING' FOR UPDATE`,
    mark: `UPDATE flows SET status = 'CANCELLED' WHERE id = $id`,
    nodes: withEvents(
      `UPDATE jobs SET status = 'CANCELLED', finished_at = $now, lease_token = NULL, lease_expires_at = NULL
       WHERE id IN (SELECT job_id FROM flow_nodes WHERE flow_id = $id) AND status IN ('QUEUED', 'RUNNING', 'WAITING') RETURNING *`,
      'cancelled',
      `json_build_object('by', $by::int)::text`,
    ),
  },
};

const both = (text: string) => ({ sqlite: text, postgres: text });

/** Reads of flows. `$ownerId` null: every owner's. */
export const flowReads = {
  byId: {
    sqlite: `SELECT * FROM flows WHERE id = $id AND ($ownerId IS NULL OR owner_id = $ownerId)`,
    postgres: `SELECT * FROM flows WHERE id = $id AND ($ownerId::int IS NULL OR owner_id = $ownerId::int)`,
  },
  /** Newest first, after the id `$before` (keyset paging). */
  page: {
    sqlite: `SELECT * FROM flows WHERE ($ownerId IS NULL OR owner_id = $ownerId) AND ($before IS NULL OR id < $before) ORDER BY id DESC LIMIT $limit`,
    postgres: `SELECT * FROM flows WHERE ($ownerId::int IS NULL OR owner_id = $ownerId::int) AND ($before::int IS NULL OR id < $before::int) ORDER BY id DESC LIMIT $limit`,
  },
  /** A flow's nodes in submission order, each with its parents' keys. */
  nodes: both(`SELECT n.job_id, n.key, p.key AS parent_key FROM flow_nodes n
               LEFT JOIN job_dependencies d ON d.child_id = n.job_id LEFT JOIN flow_nodes p ON p.job_id = d.parent_id
               WHERE n.flow_id = $id ORDER BY n.job_id, p.job_id`),
  /** The flow of each of these jobs. */
  flowOf: {
    sqlite: `SELECT job_id, flow_id FROM flow_nodes WHERE job_id IN ${SQLITE_IDS('$ids')}`,
    postgres: `SELECT job_id, flow_id FROM flow_nodes WHERE job_id IN ${PG_IDS('$ids')}`,
  },
  /** The parents of each of these jobs: their key and, once they succeeded, their result (what a run receives). */
  parents: {
    sqlite: `SELECT d.child_id, d.parent_id, n.key, j.status, j.result FROM job_dependencies d
             JOIN flow_nodes n ON n.job_id = d.parent_id JOIN jobs j ON j.id = d.parent_id
             WHERE d.child_id IN ${SQLITE_IDS('$ids')} ORDER BY d.child_id, d.parent_id`,
    postgres: `SELECT d.child_id, d.parent_id, n.key, j.status, j.result FROM job_dependencies d
               JOIN flow_nodes n ON n.job_id = d.parent_id JOIN jobs j ON j.id = d.parent_id
               WHERE d.child_id IN ${PG_IDS('$ids')} ORDER BY d.child_id, d.parent_id`,
  },
};
