import type { Db } from '../db/client';
import { type Selection, withSelection } from '../db/selection';
import type { Job } from './model';
import type { JobFilter } from './store';

// The reads a caller selects (GraphQL's planner): Drizzle's relational queries, the same on either dialect.

export function selectJob(db: Db, id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
  return db.query.jobs.findFirst(withSelection({ where: { id, ...(ownerId === null ? {} : { ownerId }) } }, select));
}

export function selectJobs(db: Db, { status, kind, queue, ownerId }: JobFilter, select?: Selection): Promise<Job[]> {
  const where = {
    ...(status ? { status } : {}),
    ...(kind ? { kind } : {}),
    ...(queue ? { queue } : {}),
    ...(ownerId ? { ownerId } : {}),
  };
  return db.query.jobs.findMany(withSelection({ where, orderBy: { id: 'desc' as const } }, select));
}
