import { defineRelations, type ExtractTablesFromSchema, type RelationsBuilder } from 'drizzle-orm';
import * as pgSchema from './pg-schema';
import * as schema from './schema';

type Helpers = RelationsBuilder<ExtractTablesFromSchema<typeof schema>>;

/** The relations of both dialects' tables: the same names, so relational queries read alike on either. */
const define = (r: Helpers) => ({
  users: {
    sessions: r.many.sessions(),
    jobs: r.many.jobs(),
  },
  sessions: {
    user: r.one.users({ from: r.sessions.userId, to: r.users.id, optional: false }),
  },
  queues: {
    jobs: r.many.jobs(),
  },
  jobs: {
    owner: r.one.users({ from: r.jobs.ownerId, to: r.users.id }),
    queueRow: r.one.queues({ from: r.jobs.queue, to: r.queues.name, optional: false }),
    events: r.many.jobEvents(),
    inputRow: r.one.jobInputs({ from: r.jobs.id, to: r.jobInputs.jobId, optional: false }),
  },
  schedules: {
    owner: r.one.users({ from: r.schedules.ownerId, to: r.users.id }),
  },
  jobInputs: {
    job: r.one.jobs({ from: r.jobInputs.jobId, to: r.jobs.id, optional: false }),
  },
  jobEvents: {
    job: r.one.jobs({ from: r.jobEvents.jobId, to: r.jobs.id, optional: false }),
  },
});

export const relations = defineRelations<typeof schema, ReturnType<typeof define>>(schema, define);
/** PostgreSQL's tables under the same relations (their shapes match SQLite's; see ./pg-schema.ts). */
export const pgRelations = defineRelations(pgSchema, define as never);
