import type { Selection } from '../db/selection';
import type { Job, JobKindName, JobStatus } from './model';

/**
 * Where jobs are kept: one named transition per change of a job's state (graphile-worker's src/sql/*.ts is the
 * model). Each transition is one guarded statement on `jobs` plus the job_events row(s) recording it, written in
 * one transaction and stamped with the store's clock; it returns the jobs it changed, as they now are, and
 * changes nothing when its guard (status, lease token) no longer holds. Nothing here names the database: the
 * SQLite store (sqlite-store.ts) implements it, and a PostgreSQL store would sit beside it, claiming with
 * `FOR UPDATE SKIP LOCKED` and waking runners with LISTEN/NOTIFY. Its methods are synchronous because bun:sqlite
 * is; a PostgreSQL store would make them return promises, and the service and runner would await them.
 */
export interface JobStore {
  // ---- transitions -------------------------------------------------------------------------------------

  /**
   * New QUEUED jobs (`queued`), of any kinds and queues, all or none; CONFLICT when a queue would then hold more
   * than its `maxLength` waiting. Inputs come as JSON (serialized once, by the caller, who keeps their length).
   */
  insertJobs(jobs: NewQueuedJob[]): Job[];
  /** Leases up to `limit` runnable jobs of a queue to the pool, lowest priority number then oldest first (`started`). */
  claimJobs(queue: string, limit: number, leaseMs: number): Job[];
  /**
   * Leases to the pool every QUEUED job of one kind in a queue (up to `limit`, oldest first, whatever their retry
   * time: a person asked for them now) (`started`).
   */
  claimJobsOfKind(queue: string, kind: JobKindName, limit: number, leaseMs: number): Job[];
  /** Leases the next runnable job of a queue to a person (`pulled`); null when there is none. */
  pullJob(queue: string, claimant: string, by: number, leaseMs: number): Job | null;
  /** Completes many pool jobs in one statement (`succeeded`); those whose lease is no longer theirs are left out. */
  completeJobs(completions: { job: Job; result: unknown }[]): Job[];
  /** Completes a pulled job with a person's result (`succeeded`, by them). */
  completeJob(lease: Lease, result: unknown, by: number): Job | undefined;
  /** The attempt failed for good (`failed`). */
  failJob(lease: Lease, error: string): Job | undefined;
  /** The attempt failed; the job waits `delayMs` and runs again (`retry_scheduled`). */
  requeueJob(lease: Lease, error: string, delayMs: number): Job | undefined;
  /** Stops a queued or running job (`cancelled`, by whom). */
  cancelJob(id: number, by: number): Job | undefined;
  /** Queues a failed or cancelled job again with fresh attempts (`retried`, by whom). */
  retryJob(id: number, by: number): Job | undefined;
  deleteJob(id: number): void;
  /** A queue was deleted with its jobs (by cascade): none of them wait any more. */
  forgetQueue(name: string): void;
  /**
   * Running jobs whose lease ran out (their claimant went away) go back to their queue (`recovered`), or fail
   * when they have no attempts left (`failed`). `everyPoolJob`: at start-up, every pool job still running belonged
   * to a dead process, lease or not.
   */
  recoverExpired(everyPoolJob: boolean): Job[];
  /** Extends the leases still held (not run out) by `leaseMs`; returns the ids it renewed. */
  heartbeat(leases: Lease[], leaseMs: number): Set<number>;
  /** A running job's progress (0..1); no event (it changes ten times a second). */
  progress(lease: Lease, fraction: number): void;
  /**
   * A person's free-text note on a job (`note` event, with its author): history only, never a change of state, so
   * the lifecycle stays the engine's. False when the job no longer exists.
   */
  addNote(id: number, note: JobNote): boolean;
  /** Runs several transitions as one transaction (a claim pass over every queue; a flush of finished jobs). */
  batch<T>(work: () => T): T;

  // ---- reads -------------------------------------------------------------------------------------------

  jobById(id: number): Job | undefined;
  /** The stored inputs of these jobs (as their kind's schema gave them), by id. */
  inputsOf(ids: number[]): Map<number, unknown>;
  /** Ids and statuses of one kind's jobs, oldest first; `ownerId` null for every owner. */
  statusesOfKind(kind: JobKindName, ownerId: number | null): { id: number; status: JobStatus }[];
  /** Jobs by status; `ownerId` and `queue` null for all. */
  countByStatus(ownerId: number | null, queue: string | null): { status: JobStatus; n: number }[];
  /** QUEUED and RUNNING jobs counted by status, queue and kind (the metrics' gauge; reads only those rows). */
  countActiveByQueueKind(): { status: JobStatus; queue: string; kind: JobKindName; n: number }[];
  /**
   * One job as the reader selects it (columns, relations: see Selection); `ownerId`, when given, must own it.
   * Drizzle's relational queries read the same on SQLite and PostgreSQL, so a second store answers these alike.
   */
  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined>;
  /** The jobs matching every filter given, newest first, as the reader selects and pages them. */
  selectJobs(filter: JobFilter, select?: Selection): Promise<Job[]>;
  /** How many jobs match every filter given (what selectJobs pages through). */
  countJobs(filter: JobFilter): Promise<number>;
  /** The earliest time a queued job waits for (retry backoff), if any. */
  nextRunAt(): number | null;
  /** Jobs queued in unpaused queues or running on the pool: what a drain waits for. */
  pendingCount(): number;
  /** QUEUED jobs of one kind in a queue (counted). */
  queuedOfKind(queue: string, kind: JobKindName): number;
  /** QUEUED jobs of a queue, kept with each transition (no counting): what maxLength limits. */
  waitingCount(queue: string): number;
}

/** A note's event payload: the text and who wrote it (their name too, so it reads the same after they are deleted). */
export interface JobNote {
  note: string;
  by: number;
  username: string;
}

/** What a transition needs to act on a running job: only the holder of its lease may. */
export type Lease = Pick<Job, 'id' | 'leaseToken'>;

/** Which jobs a list shows; a filter left out matches every job. */
export interface JobFilter {
  status?: JobStatus;
  kind?: JobKindName;
  queue?: string;
  ownerId?: number;
}

export interface NewJob {
  kind: JobKindName;
  ownerId: number;
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
}

/** One job to insert: its queue (with the limit it is checked against), its settings and its input as JSON. */
export interface NewQueuedJob {
  queue: { name: string; maxLength: number };
  job: NewJob;
  inputJson: string;
}
