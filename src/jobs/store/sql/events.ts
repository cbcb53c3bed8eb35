// Pieces every transition shares (BullMQ's commands/includes): how each database writes the job_events rows that
// record a change. SQLite writes them from the rows the change RETURNING gave (payloads made by the transition's
// `event`); PostgreSQL writes them in the change's own statement (a CTE), so a transition is one atomic statement.
import type { JobSqlRow } from '../rows';

/**
 * SQLite: `rows` events in one statement, each bound as (job_id, type, payload, at). Values bound in place cost about
 * half what one JSON array read back with json_each did (1.3–1.5 against 2.6 µs a row, docs/benchmarks.md).
 */
export const insertEventRows = (rows: number) => `INSERT INTO job_events (job_id, type, payload, at) VALUES ${tuples(rows, '(?, ?, ?, ?)')}`;

/** `rows` copies of a VALUES tuple, comma-separated. */
export const tuples = (rows: number, tuple: string) => Array.from({ length: rows }, () => tuple).join(', ');

/** Rows a multi-row VALUES statement of the SQLite store binds at most (a power of two: the rest go in smaller powers). */
export const VALUES_CHUNK = 128;

/** SQLite: the event a single-row transition writes, its payload made from the changed row and the call's parameters. */
export interface SqliteEvent<Params> {
  type: string;
  payload(row: JobSqlRow, params: Params): unknown;
}

/**
 * PostgreSQL: `change` (a statement on jobs RETURNING its rows, named `changed`) and the job_events row of each row
 * it changed, in one statement; `payload` is SQL over the changed row, `at` the time parameter; `columns` what the
 * statement returns besides the rows (SQL over `changed`, e.g. ./flow.ts `PARENTS`). `into`: in a PL/pgSQL function,
 * the variable that takes the rows instead, as one JSON array in id order.
 */
export const withEvents = (change: string, type: string, payload: string, at = '$now', columns = '', into?: string) => `
  WITH changed AS (${change}),
  logged AS (INSERT INTO job_events (job_id, type, payload, at) SELECT id, '${type}', ${payload}, ${at} FROM changed)
  ${into ? `SELECT json_agg(c ORDER BY c.id) INTO ${into} FROM (SELECT *${columns} FROM changed) AS c` : `SELECT *${columns} FROM changed ORDER BY id`}`;

/**
 * One transition on both databases, side by side (see ../README.md). Statements use named parameters (`$id`) on both:
 * bun:sqlite binds them by name, the PostgreSQL store turns them into `$1…` (src/db/statements.ts, `positional`).
 */
export interface Transition<Params = Record<string, unknown>> {
  sqlite: { change: string; event: SqliteEvent<Params> };
  postgres: string;
}
