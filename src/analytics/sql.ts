// The analytics dataset's statements, both databases side by side (see src/db/statements.ts).
import type { Statement } from '../db/statements';

/** The dataset ingested last (without its index snapshot, ~1.4 MB for the bundled file: indexSnapshot reads it). */
const DATASET_COLUMNS = 'id, source, sha256, rows_read, rows_kept, rows_skipped, ingest_ms, created_at';
export const latestDataset = {
  sqlite: `SELECT ${DATASET_COLUMNS} FROM analytics_datasets ORDER BY id DESC LIMIT 1`,
  postgres: `SELECT ${DATASET_COLUMNS} FROM analytics_datasets ORDER BY id DESC LIMIT 1`,
} satisfies Statement;

/** With the index built from its rows (AnalyticsIndex.toSnapshot). */
export const insertDataset = {
  sqlite: `INSERT INTO analytics_datasets (source, sha256, rows_read, rows_kept, rows_skipped, ingest_ms, index_snapshot)
           VALUES ($source, $sha256, $rowsRead, $rowsKept, $rowsSkipped, $ingestMs, $indexSnapshot) RETURNING ${DATASET_COLUMNS}`,
  postgres: `INSERT INTO analytics_datasets (source, sha256, rows_read, rows_kept, rows_skipped, ingest_ms, index_snapshot)
             VALUES ($source, $sha256, $rowsRead, $rowsKept, $rowsSkipped, $ingestMs, $indexSnapshot) RETURNING ${DATASET_COLUMNS}`,
} satisfies Statement;

/** A dataset's index snapshot; null where none was stored (an older version ingested it). */
export const indexSnapshot = {
  sqlite: `SELECT index_snapshot FROM analytics_datasets WHERE id = $id`,
  postgres: `SELECT index_snapshot FROM analytics_datasets WHERE id = $id`,
} satisfies Statement;

/** Stores the index built from a dataset's rows, for the next start. */
export const saveIndexSnapshot = {
  sqlite: `UPDATE analytics_datasets SET index_snapshot = $indexSnapshot WHERE id = $id`,
  postgres: `UPDATE analytics_datasets SET index_snapshot = $indexSnapshot WHERE id = $id`,
} satisfies Statement;

/** Before an ingest replaces them whole. */
export const deleteRows = { sqlite: `DELETE FROM analytics_rows`, postgres: `DELETE FROM analytics_rows` } satisfies Statement;
export const deleteDatasets = { sqlite: `DELETE FROM analytics_datasets`, postgres: `DELETE FROM analytics_datasets` } satisfies Statement;

/**
 * A batch of rows, `$batch` a JSON array of [id, question, state, category, segment, yearStart, yearEnd, value]
 * arrays (not objects: SQLite reads them by index, ~1.5x faster than by key; PostgreSQL as jsonb, parsed once).
 */
export const insertRows = {
  sqlite: `
    INSERT INTO analytics_rows (id, question, state, category, segment, year_start, year_end, value)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4, r.value ->> 5, r.value ->> 6, r.value ->> 7
    FROM json_each($batch) AS r`,
  postgres: `
    INSERT INTO analytics_rows (id, question, state, category, segment, year_start, year_end, value)
    SELECT (r ->> 0)::int, r ->> 1, r ->> 2, r ->> 3, r ->> 4, (r ->> 5)::int, (r ->> 6)::int, (r ->> 7)::double precision
    FROM jsonb_array_elements($batch::text::jsonb) AS r`,
} satisfies Statement;

/** The stored rows after id `$after`, in dataset order, `$limit` at a time. */
export const rowsAfter = {
  sqlite: `SELECT id, question, state, category, segment, year_start AS "yearStart", value FROM analytics_rows WHERE id > $after ORDER BY id LIMIT $limit`,
  postgres: `SELECT id, question, state, category, segment, year_start AS "yearStart", value FROM analytics_rows WHERE id > $after ORDER BY id LIMIT $limit`,
} satisfies Statement;

/** An `analytics_datasets` row as either driver gives it. */
export interface DatasetSqlRow {
  id: number;
  source: string;
  sha256: string;
  rows_read: number;
  rows_kept: number;
  rows_skipped: number;
  ingest_ms: number;
  created_at: number | string;
}
