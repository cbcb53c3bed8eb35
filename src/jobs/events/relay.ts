import type { Logger } from 'pino';
import type { EventBus } from '../../events';
import { isFinal, type Job } from '../model';
import type { JobStore } from '../store';
import type { EventLog } from './log';

/** The job_events types that record a final state. */
const FINAL_TYPES = ['succeeded', 'failed', 'cancelled'];
const FINAL_EVENTS = new Set(FINAL_TYPES);

/** A final state, once: the job, its status and when it got there (a retried job that finishes again is another). */
// `+finishedAt`: its milliseconds without a Date made for them (three keys a job: the runner's two publishes, the log).
const finalKey = (job: Pick<Job, 'id' | 'status' | 'finishedAt'>) => `${job.id}:${job.status}:${job.finishedAt === null ? '' : +job.finishedAt}`;

/**
 * Makes `jobCompleted` (and `jobUpdated`'s final state) as durable as the commit across instances: Redis carries
 * them fast, but an instance killed between its commit and its publish never sends them. Every instance also reads
 * the job event log (docs/events.md: NOTIFY at commit, a poll besides) and delivers each final state it finds to its
 * own subscribers, once: the bus drops whichever copy comes second (deliverOnce). For shared stores only (PostgreSQL):
 * on SQLite this process is the only one, and it publishes what it commits.
 */
export async function relayFinalStates(eventLog: EventLog, store: JobStore, events: EventBus, log: Logger): Promise<() => void> {
  events.deliverOnce('jobCompleted', finalKey);
  events.deliverOnce('jobUpdated', (_id, job) => (isFinal(job.status) ? finalKey(job) : null));
  // Only final events: while no subscriber here follows the log, the others (two of a job's three) are not even read.
  return eventLog.listen((batch) => {
    // A final event is written with the job's finishedAt as its time: one Redis (or this instance) delivered already
    // costs no read.
    const unheard = batch.filter(
      (event) =>
        FINAL_EVENTS.has(event.type) &&
        !events.delivered('jobCompleted', finalKey({ id: event.jobId, status: event.type.toUpperCase() as Job['status'], finishedAt: event.at })),
    );
    const ids = [...new Set(unheard.map((event) => event.jobId))];
    if (!ids.length) return;
    void Promise.all(ids.map((id) => store.jobById(id))).then(
      (jobs) => {
        for (const job of jobs) {
          // Retried (or deleted) since: its final state is history, which jobEvents keeps.
          if (!job || !isFinal(job.status)) continue;
          events.publishRemote('jobUpdated', job.id, job);
          events.publishRemote('jobCompleted', job);
        }
      },
      (error) => log.warn({ err: error }, 'reading jobs of the event log failed; Redis delivered what it could'),
    );
  }, FINAL_TYPES);
}
