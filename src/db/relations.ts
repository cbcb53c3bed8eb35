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
    inputRow: r.one.jobInputs({ from: r.jobs.id, to: r.jobInputs.jobId, optional: false }),
  },
  jobInputs: {
    job: r.one.jobs({ from: r.jobInputs.jobId, to: r.jobs.id, optional: false }),
  },
  jobEvents: {
    job: r.one.jobs({ from: r.jobEvents.jobId, to: r.jobs.id, optional: false }),
  },
}));
