// The job engine's vocabulary, shared by its three rooms (store, service, runner) and by the domains that
// define job kinds. The engine imports no domain: what it needs of users and queues is said here as types.
import type { Job, JobKindName, JobStatus, Role } from '../db/schema';
import { FINAL_STATUSES, WRITER_ROLES } from '../db/schema';
import { forbiddenFor } from '../errors';
import type { EventBus } from '../events';

export type { Job, JobKindName, JobStatus };

/** Who acts on jobs; a signed-in user (src/users' AuthUser) is one. */
export interface Actor {
  id: number;
  role: Role;
}

/** Where the engine reads the time (leases, backoff, recovery); tests pass one they move. */
export { type Clock, systemClock } from '../clock';

/** What the engine needs of a queue's settings (src/queues keeps them). */
export interface QueueSettings {
  name: string;
  concurrency: number;
  maxLength: number;
  paused: boolean;
  /** FIFO: priority, then age. FAIR: owners with waiting jobs take turns (src/jobs/store/sql/claim-fair.ts). */
  order: QueueOrder;
  /** At most rateLimitJobs starts per sliding rateLimitPerSeconds, over every instance; null: no limit. */
  rateLimitJobs?: number | null;
  rateLimitPerSeconds?: number | null;
  /** Finished jobs older than these (seconds) are deleted; null: the default (JOB_RETENTION_SECONDS), or kept. */
  retentionSucceededSeconds?: number | null;
  retentionFailedSeconds?: number | null;
  retentionCancelledSeconds?: number | null;
}

export const QUEUE_ORDERS = ['FIFO', 'FAIR'] as const;
export type QueueOrder = (typeof QUEUE_ORDERS)[number];

/** The queues as the engine sees them: src/queues' QueuesService is one. */
export interface QueueCatalog {
  /** The queue of that name; `field` names the argument in the error for a name too long to be one. */
  find(name: string, field?: string): QueueSettings | undefined;
  /** The same, or NOT_FOUND. */
  get(name: string, field?: string): QueueSettings;
  /** Every queue, oldest first (read on every claim pass, so kept cheap). */
  list(): readonly QueueSettings[];
  delete(name: string): Promise<boolean>;
}

export type JobCounts = Record<Lowercase<JobStatus>, number> & { total: number };

export const isFinal = (status: JobStatus) => FINAL_STATUSES.includes(status);

/** Users see their own jobs; managers and admins see all. */
export const canSeeJob = (actor: Actor | null, job: Pick<Job, 'ownerId'>) => actor !== null && (actor.role !== 'USER' || job.ownerId === actor.id);
/** The jobs an actor may see, as a key (what canSeeJob decides): everyone's for managers and admins, a user's own. */
export const jobVisibility = (actor: Actor | null) => (actor === null ? 'none' : actor.role === 'USER' ? `owner:${actor.id}` : 'all');

/** FORBIDDEN for a read-only actor (SECRETARY): every transport's writes pass here, REST routes included. */
export function requireWriter(actor: Actor): void {
  if (!WRITER_ROLES.includes(actor.role)) throw forbiddenFor(WRITER_ROLES);
}

/** The `claimed_by` of a job a person pulled (the pool's jobs say `pool`). */
export const userClaimant = (actor: Actor) => `user:${actor.id}`;

/** Tells subscribers about a committed change (never before: a subscriber may read the job back at once). */
export function announce(events: EventBus, job: Job): void {
  events.publish('jobUpdated', job.id, job);
  if (isFinal(job.status)) events.publish('jobCompleted', job);
}
