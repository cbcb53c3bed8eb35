import { type Column, and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { type Selection, withSelection } from '../../db/selection';
import type { Job } from '../model';
import { searchCondition } from '../search';
import type { JobFilter } from '.';

// The reads a caller selects (GraphQL's planner): Drizzle relational queries, built here once as plain
// configurations; each store runs them on its own Drizzle (`db.query.jobs.findFirst(…)`), typed as that dialect's.

/** One job, as the reader selects it; `ownerId`, when given, must own it. */
export const jobQuery = (id: number, ownerId: number | null, select?: Selection) =>
  withSelection({ where: { id, ...(ownerId === null ? {} : { ownerId }) } }, select);

/** The jobs matching every filter given, newest first, as the reader selects and pages them. */
export function jobsQuery({ status, statuses, kind, queue, ownerId, search, schedule }: JobFilter, select?: Selection) {
  const where = {
    ...(schedule ? { schedule } : {}),
    ...(status || statuses ? { status: { ...(status ? { eq: status } : {}), ...(statuses ? { in: statuses } : {}) } } : {}),
    ...(kind ? { kind } : {}),
    ...(queue ? { queue } : {}),
    ...(ownerId ? { ownerId } : {}),
    ...(search ? { RAW: (table: Record<'id' | 'queue' | 'kind' | 'status' | 'ownerId', Column>) => searchCondition(table, search) ?? sql`TRUE` } : {}),
  };
  return withSelection({ where, orderBy: { id: 'desc' as const } }, select);
}

/** The condition countJobs counts under (what jobsQuery pages through), over either dialect's `jobs` columns. */
export function jobsWhere(
  jobs: Record<'id' | 'status' | 'kind' | 'queue' | 'ownerId' | 'schedule', Column>,
  { status, statuses, kind, queue, ownerId, search, schedule }: JobFilter,
): SQL | undefined {
  return and(
    schedule ? eq(jobs.schedule, schedule) : undefined,
    status ? eq(jobs.status, status) : undefined,
    statuses ? inArray(jobs.status, statuses) : undefined,
    kind ? eq(jobs.kind, kind) : undefined,
    queue ? eq(jobs.queue, queue) : undefined,
    ownerId ? eq(jobs.ownerId, ownerId) : undefined,
    search ? searchCondition(jobs, search) : undefined,
  );
}

