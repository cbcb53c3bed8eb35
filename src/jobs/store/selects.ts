import { type Column, and, eq, inArray, or, type SQL, sql } from 'drizzle-orm';
import { JOB_STATUSES } from '../../db/schema';
import { type Selection, withSelection } from '../../db/selection';
import type { Job, JobStatus } from '../model';
import { searchCondition } from '../search';
import type { JobFilter, ParentNode } from '.';

// The reads a caller selects (GraphQL's planner): Drizzle relational queries, built here once as plain
// configurations; each store runs them on its own Drizzle (`db.query.jobs.findFirst(…)`), typed as that dialect's.

/** One job, as the reader selects it; `ownerId`, when given, must own it. */
export const jobQuery = (id: number, ownerId: number | null, select?: Selection) =>
  withSelection({ where: { id, ...(ownerId === null ? {} : { ownerId }) } }, select);

/** The jobs matching every filter given, newest first, as the reader selects and pages them. */
export function jobsQuery({ status, statuses, kind, queue, ownerId, search, schedule, ids }: JobFilter, select?: Selection) {
  const where = {
    ...(ids ? { id: { in: ids } } : {}),
    ...(schedule ? { schedule } : {}),
    ...(status ? { status } : {}),
    ...(kind ? { kind } : {}),
    ...(queue ? { queue } : {}),
    ...(ownerId ? { ownerId } : {}),
    ...(search || statuses
      ? {
          RAW: (table: Record<'id' | 'queue' | 'kind' | 'status' | 'ownerId', Column>) =>
            and(statuses ? statusIn(table.status, statuses) : undefined, search ? searchCondition(table, search) : undefined) ?? sql`TRUE`,
        }
      : {}),
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
    statuses ? statusIn(jobs.status, statuses) : undefined,
    kind ? eq(jobs.kind, kind) : undefined,
    queue ? eq(jobs.queue, queue) : undefined,
    ownerId ? eq(jobs.ownerId, ownerId) : undefined,
    search ? searchCondition(jobs, search) : undefined,
  );
}


/**
 * A list of statuses, written so that SQLite's partial indexes serve it (jobs_status_idx holds every status but
 * RUNNING, jobs_running_idx RUNNING: ../../db/schema.ts). Its planner uses a partial index only when a term proves
 * the index's condition: without RUNNING, the IN list comes with that condition (NOT_RUNNING, true of those rows
 * anyway) as a term of its own; with RUNNING, equalities joined by OR, each through its own index.
 */
function statusIn(status: Column, statuses: JobStatus[]): SQL {
  if (statuses.includes('RUNNING')) return or(...statuses.map((one) => eq(status, one)))!;
  const notRunning = JOB_STATUSES.filter((other) => other !== 'RUNNING').map((other) => sql`${status} = ${sql.raw(`'${other}'`)}`);
  return and(inArray(status, statuses), sql`(${sql.join(notRunning, sql` OR `)})`)!;
}

/** flowReads.nodes' rows (one per edge, a node without parents once) → each node with its parents' keys. */
export function nodesOf(rows: { job_id: number; key: string; parent_key: string | null }[]): { jobId: number; key: string; dependsOn: string[] }[] {
  const nodes: { jobId: number; key: string; dependsOn: string[] }[] = [];
  for (const row of rows) {
    let node = nodes.at(-1);
    if (node?.jobId !== row.job_id) nodes.push((node = { jobId: row.job_id, key: row.key, dependsOn: [] }));
    if (row.parent_key !== null) node.dependsOn.push(row.parent_key);
  }
  return nodes;
}

/** flowReads.parents' rows → each child's parents (their result parsed: JSON text on both databases). */
export function parentsByChild(rows: { child_id: number; parent_id: number; key: string; status: JobStatus; result: string | null }[]): Map<number, ParentNode[]> {
  const byChild = new Map<number, ParentNode[]>();
  for (const row of rows) {
    let parents = byChild.get(row.child_id);
    if (!parents) byChild.set(row.child_id, (parents = []));
    parents.push({ jobId: row.parent_id, key: row.key, status: row.status, result: row.result === null ? null : JSON.parse(row.result) });
  }
  return byChild;
}
