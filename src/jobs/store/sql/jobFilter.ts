import type { MatchingJobs } from '../../store';

// The rows a bulk action (cancelJobs, retryJobs, deleteJobs) or the retention sweep may take (MatchingJobs): a
// shared piece of the transitions beside it.

/** The filter's values, by name (`$name` on both databases). */
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

export const matching = {
  sqlite: `($ids IS NULL OR id IN (SELECT value FROM json_each($ids))) AND ($queue IS NULL OR queue = $queue)
    AND ($kind IS NULL OR kind = $kind) AND ($ownerId IS NULL OR owner_id = $ownerId)
    AND ($createdBefore IS NULL OR created_at < $createdBefore) AND ($createdAfter IS NULL OR created_at >= $createdAfter)
    AND ($status IS NULL OR status = $status) AND ($finishedBefore IS NULL OR finished_at < $finishedBefore)`,
  postgres: `($ids::text IS NULL OR id IN (SELECT jsonb_array_elements_text($ids::text::jsonb)::int)) AND ($queue::text IS NULL OR queue = $queue::text)
    AND ($kind::text IS NULL OR kind = $kind::text) AND ($ownerId::int IS NULL OR owner_id = $ownerId::int)
    AND ($createdBefore::bigint IS NULL OR created_at < $createdBefore::bigint) AND ($createdAfter::bigint IS NULL OR created_at >= $createdAfter::bigint)
    AND ($status::text IS NULL OR status = $status::text) AND ($finishedBefore::bigint IS NULL OR finished_at < $finishedBefore::bigint)`,
} as const;
