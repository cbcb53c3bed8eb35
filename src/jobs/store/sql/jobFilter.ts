import type { MatchingJobs } from '../../store';

// The rows a bulk action (cancelJobs, retryJobs, deleteJobs) or the retention sweep may take (MatchingJobs): a
// shared piece of the transitions beside it.

/** The filter's values, by name (SQLite's `$name`), in the order of PostgreSQL's positional parameters. */
export function filterParams(filter: MatchingJobs) {
  return {
    ids: filter.ids ? JSON.stringify(filter.ids) : null,
    queue: filter.queue ?? null,
    kind: filter.kind ?? null,
    ownerId: filter.ownerId ?? null,
    createdBefore: filter.createdBefore ?? null,
    createdAfter: filter.createdAfter ?? null,
    status: filter.status ?? null,
    finishedBefore: filter.finishedBefore ?? null,
  };
}
export type FilterParams = ReturnType<typeof filterParams>;
/** PostgreSQL's parameters $1..$8, in this order; a transition's own parameters start at $9. */
export const positional = (params: FilterParams) => [
  params.ids,
  params.queue,
  params.kind,
  params.ownerId,
  params.createdBefore,
  params.createdAfter,
  params.status,
  params.finishedBefore,
];

export const matching = {
  sqlite: `($ids IS NULL OR id IN (SELECT value FROM json_each($ids))) AND ($queue IS NULL OR queue = $queue)
    AND ($kind IS NULL OR kind = $kind) AND ($ownerId IS NULL OR owner_id = $ownerId)
    AND ($createdBefore IS NULL OR created_at < $createdBefore) AND ($createdAfter IS NULL OR created_at >= $createdAfter)
    AND ($status IS NULL OR status = $status) AND ($finishedBefore IS NULL OR finished_at < $finishedBefore)`,
  postgres: `($1::text IS NULL OR id IN (SELECT jsonb_array_elements_text($1::text::jsonb)::int)) AND ($2::text IS NULL OR queue = $2::text)
    AND ($3::text IS NULL OR kind = $3::text) AND ($4::int IS NULL OR owner_id = $4::int)
    AND ($5::bigint IS NULL OR created_at < $5::bigint) AND ($6::bigint IS NULL OR created_at >= $6::bigint)
    AND ($7::text IS NULL OR status = $7::text) AND ($8::bigint IS NULL OR finished_at < $8::bigint)`,
} as const;
