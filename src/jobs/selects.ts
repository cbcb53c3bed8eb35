import { and, eq } from 'drizzle-orm';
import type { Db, Tables } from '../db/client';
import { type Selection, withSelection } from '../db/selection';
import type { Job } from './model';
import type { JobFilter } from './store';

// The reads a caller selects (GraphQL's planner): Drizzle's relational queries, the same on either dialect.

export function selectJob(db: Db, id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
  return db.query.jobs.findFirst(withSelection({ where: { id, ...(ownerId === null ? {} : { ownerId }) } }, select));
}

export function selectJobs(db: Db, { status, kind, queue, ownerId, schedule }: JobFilter, select?: Selection): Promise<Job[]> {
  const where = {
    ...(schedule ? { schedule } : {}),
    ...(status ? { status } : {}),
    ...(kind ? { kind } : {}),
    ...(queue ? { queue } : {}),
    ...(ownerId ? { ownerId } : {}),
  };
  return db.query.jobs.findMany(withSelection({ where, orderBy: { id: 'desc' as const } }, select));
}

/** How many jobs match every filter given (what selectJobs pages through). */
export function countJobs(db: Db, jobs: Tables['jobs'], { status, kind, queue, ownerId, schedule }: JobFilter): Promise<number> {
  const conditions = [
    schedule ? eq(jobs.schedule, schedule) : undefined,
    status ? eq(jobs.status, status) : undefined,
    kind ? eq(jobs.kind, kind) : undefined,
    queue ? eq(jobs.queue, queue) : undefined,
    ownerId ? eq(jobs.ownerId, ownerId) : undefined,
  ];
  return db.$count(jobs, and(...conditions));
}
