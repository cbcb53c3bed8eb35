import { defineRelations } from 'drizzle-orm';
import * as schema from './schema';

export const relations = defineRelations(schema, (r) => ({
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
  },
  jobEvents: {
    job: r.one.jobs({ from: r.jobEvents.jobId, to: r.jobs.id, optional: false }),
  },
}));
