import type { Selection } from '../../db/selection';
import type { Flow, ParentFailure } from '../../db/schema';
import type { Job, JobKindName, JobStatus, QueueOrder } from '../model';

/**
 * Where jobs are kept: one named transition per change of a job's state (graphile-worker's src/sql/*.ts is the
 * model). Each transition is one guarded statement on `jobs` plus the job_events row(s) recording it, written in
 * one transaction and stamped with the store's clock; it returns the jobs it changed, as they now are, and
 * changes nothing when its guard (status, lease token) no longer holds. Each transition's SQL lives in one file,
 * ./sql/<transition>.ts, both databases side by side; ./sqlite.ts (one process, synchronous inside, answers already
 * resolved) and ./postgres.ts (any number of instances, claiming with `FOR UPDATE SKIP LOCKED`, waking idle
 * instances with LISTEN/NOTIFY) only run them. How to add one: ./README.md. Every member is checked on both by
 * test/store-conformance.test.ts (see JOB_STORE_MEMBERS).
 */
export interface JobStore {
  // ---- transitions -------------------------------------------------------------------------------------

  /**
   * New QUEUED jobs (`queued`), of any kinds and queues, all or none; CONFLICT when a queue would then hold more
   * than its `maxLength` waiting. Inputs come as JSON (serialized once, by the caller, who keeps their length).
   */
  insertJobs(jobs: NewQueuedJob[]): Promise<InsertedJobs>;
  /**
   * Leases runnable jobs to the pool (`started`), queue by queue in the order given, up to each claim's `limit` of its
   * queue and `budget` in all, lowest priority number then oldest first — or, for a claim of `order` FAIR, owners in
   * turn (each owner's jobs by priority then age), within the queue's ownerConcurrency (./sql/claim-fair.ts).
   */
  claimJobs(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]>;
  /**
   * After claimJobs: the earliest time a rate-limited queue it held back has room again (its oldest start in the
   * window leaves it), or null when it held none back. The runner sets its timer for it.
   */
  throttledUntil(): number | null;
  /**
   * Leases to the pool every QUEUED job of one kind in a queue (up to `limit`, oldest first, whatever their retry
   * time: a person asked for them now) (`started`).
   */
  claimJobsOfKind(queue: string, kind: JobKindName, limit: number, leaseMs: number): Promise<Job[]>;
  /** Leases the next runnable job of a queue to a person (`pulled`); null when there is none. */
  pullJob(queue: string, claimant: string, by: number, leaseMs: number): Promise<Job | null>;
  /**
   * Writes the outcomes of pool runs in one transaction: successes (`succeeded`, many in one statement), failures
   * for good (`failed`) and attempts that run again after `retryInMs` (`retry_scheduled`). Those whose lease is
   * no longer theirs are left out of the answer.
   */
  settleJobs(outcomes: Outcome[]): Promise<Job[]>;
  /**
   * Takes a schedule's due tick (`due`, its next_run_at as read) for this instance, moving next_run_at to `next`,
   * and inserts its job (`queued`, with `schedule` set) in the same transaction: exactly one instance takes each
   * tick. `advanced` false: another instance took it (or the schedule was paused, changed or deleted). `job` null:
   * no job was asked for (a missed tick) or, with `skipIfUnfinished`, the previous run is still unfinished.
   */
  fireSchedule(tick: ScheduleTick, job: NewQueuedJob | null): Promise<FiredTick>;
  /** Completes a pulled job with a person's result (`succeeded`, by them). */
  completeJob(lease: Lease, result: unknown, by: number): Promise<Job | undefined>;
  /** Stops a queued or running job (`cancelled`, by whom). */
  cancelJob(id: number, by: number): Promise<Job | undefined>;
  /** Queues a failed or cancelled job again with fresh attempts (`retried`, by whom). */
  retryJob(id: number, by: number): Promise<Job | undefined>;
  deleteJob(id: number): Promise<void>;
  /**
   * One batch of cancelJobs: up to `limit` QUEUED or RUNNING jobs matching, oldest first (`cancelled`, by whom). A
   * running one's attempt is stopped wherever it runs (PostgreSQL: the instance holding it hears a NOTIFY).
   */
  cancelMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]>;
  /** One batch of retryJobs: up to `limit` FAILED or CANCELLED jobs matching, oldest first, QUEUED again (`retried`). */
  retryMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]>;
  /** One batch of deleteJobs or of the retention sweep: up to `limit` finished jobs matching; their ids. */
  deleteMatching(filter: MatchingJobs, limit: number): Promise<number[]>;
  /** Forgets up to `limit` idempotency keys expired by now (the retention sweep); how many. */
  purgeExpiredKeys(limit: number): Promise<number>;
  /** A queue was deleted with its jobs (by cascade): none of them wait any more. */
  forgetQueue(name: string): void;
  /**
   * Running jobs whose lease ran out (their claimant went away) go back to their queue (`recovered`), or fail
   * when they have no attempts left (`failed`). `everyPoolJob`: at start-up, every pool job still running belonged
   * to a dead process, lease or not — true only where this process is the database's only user (SQLite).
   */
  recoverExpired(everyPoolJob: boolean): Promise<Job[]>;
  /** Extends the leases still held (not run out) by `leaseMs`; returns the ids it renewed. */
  heartbeat(leases: Lease[], leaseMs: number): Promise<Set<number>>;
  /** A running job's progress (0..1); no event (it changes ten times a second). */
  progress(lease: Lease, fraction: number): Promise<void>;
  /**
   * A person's free-text note on a job (`note` event, with its author): history only, never a change of state, so
   * the lifecycle stays the engine's. False when the job no longer exists.
   */
  addNote(id: number, note: JobNote): Promise<boolean>;

  /**
   * A flow, its jobs (QUEUED, or WAITING for their parents: never claimed until released), nodes and edges, all or
   * none (`queued` per job). Every transition above that makes jobs final also releases their children in its own
   * transaction (./sql/flow.ts `release`) and tells {@link JobStore.onFlowChange} after commit.
   */
  insertFlow(flow: NewFlow): Promise<{ flow: Flow; jobs: Job[] }>;
  /** Cancels a RUNNING flow and every node of it not final yet (`cancelled`, by whom); undefined when not RUNNING. */
  cancelFlow(id: number, by: number): Promise<{ flow: Flow; jobs: Job[] } | undefined>;
  /**
   * Calls `listener` after a transaction that changed flow nodes besides the jobs it was asked about (children
   * released or cancelled) or flows' counts: the jobs and flows as they now are. This instance's changes only.
   */
  onFlowChange(listener: (change: FlowChange) => void): void;

  // ---- reads -------------------------------------------------------------------------------------------

  /** A flow; `ownerId`, when given, must own it. */
  flowById(id: number, ownerId: number | null): Promise<Flow | undefined>;
  /** Flows newest first, with ids below `before` when given; `ownerId` null for every owner's. */
  listFlows(ownerId: number | null, before: number | null, limit: number): Promise<Flow[]>;
  /** A flow's nodes in submission order, each with its parents' keys. */
  flowNodes(flowId: number): Promise<{ jobId: number; key: string; dependsOn: string[] }[]>;
  /** The flow of each of these jobs that is a node of one. */
  flowOfJobs(ids: number[]): Promise<Map<number, number>>;
  /** The parents of each of these jobs (those in a flow): key, status, result. */
  parentsOf(ids: number[]): Promise<Map<number, ParentNode[]>>;

  jobById(id: number): Promise<Job | undefined>;
  /** The stored inputs of these jobs (as their kind's schema gave them), by id. */
  inputsOf(ids: number[]): Promise<Map<number, unknown>>;
  /** Ids and statuses of one kind's jobs, oldest first; `ownerId` null for every owner. */
  statusesOfKind(kind: JobKindName, ownerId: number | null): Promise<{ id: number; status: JobStatus }[]>;
  /** Jobs by status; `ownerId` and `queue` null for all. */
  countByStatus(ownerId: number | null, queue: string | null): Promise<{ status: JobStatus; n: number }[]>;
  /**
   * One queue's QUEUED and RUNNING jobs counted by owner (null: a deleted account's), the owners with the most
   * waiting first, at most `limit` of them; `ownerId` for one owner's only (what a FAIR queue shares out).
   */
  countByOwner(queue: string, ownerId: number | null, limit: number): Promise<{ ownerId: number | null; waiting: number; running: number }[]>;
  /** QUEUED and RUNNING jobs counted by status, queue and kind (the metrics' gauge; reads only those rows). */
  countActiveByQueueKind(): Promise<{ status: JobStatus; queue: string; kind: JobKindName; n: number }[]>;
  /**
   * One job as the reader selects it (columns, relations: see Selection); `ownerId`, when given, must own it.
   * Drizzle's relational queries read the same on SQLite and PostgreSQL, so both stores answer these alike.
   */
  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined>;
  /** The jobs matching every filter given, newest first, as the reader selects and pages them. */
  selectJobs(filter: JobFilter, select?: Selection): Promise<Job[]>;
  /** How many jobs match every filter given (what selectJobs pages through). */
  countJobs(filter: JobFilter): Promise<number>;
  /** QUEUED jobs not yet due (a runAt, delayMs or retry backoff ahead), by queue (the metrics' gauge). */
  countDelayedByQueue(): Promise<{ queue: string; n: number }[]>;
  /** The earliest time a queued job waits for (retry backoff), if any. */
  nextRunAt(): Promise<number | null>;
  /** Jobs queued in unpaused queues or running on the pool: what a drain waits for. */
  pendingCount(): Promise<number>;
  /** QUEUED jobs of one kind in a queue (counted). */
  queuedOfKind(queue: string, kind: JobKindName): Promise<number>;
  /** QUEUED jobs of a queue: what maxLength limits. */
  waitingCount(queue: string): Promise<number>;
  /**
   * Whether a claim pass over this queue may find something (no I/O: asked on every pass). Exact on SQLite, where
   * the store keeps the counts; always true where other instances add jobs unseen (PostgreSQL).
   */
  mayHaveWaiting(queue: string): boolean;

  // ---- the event log (event cursors: docs/events.md) -------------------------------------------------

  /**
   * Up to `limit` events after `after` (null: from the first), in log order, of the jobs matching every filter
   * given. On PostgreSQL only events whose transaction is older than every running one: no later read finds a new
   * event before the last one returned.
   */
  eventsAfter(after: EventPosition | null, filter: EventFilter, limit: number): Promise<StoredEvent[]>;
  /** The oldest event kept and the newest readable one; null when there are none. */
  eventBounds(): Promise<{ first: EventPosition; last: EventPosition } | null>;
  /** The positions of these events, by id (those that still exist). */
  eventPositions(ids: number[]): Promise<Map<number, EventPosition>>;
  /** This database's random id, made once and kept (cursors carry it: a cursor of another database is refused). */
  databaseId(): Promise<string>;
  /**
   * Calls `listener` when events may have been written: SQLite after each transition of this process; PostgreSQL
   * on the NOTIFY that every commit writing job_events sends (any instance's).
   */
  onEvents(listener: () => void): void;

  // ---- instances ---------------------------------------------------------------------------------------

  /**
   * Other instances use this database too (PostgreSQL): a drain waits only for this instance's runs, and a start
   * recovers only expired leases.
   */
  readonly shared: boolean;

  /**
   * Calls `listener` when jobs may have become claimable through another instance (new jobs, a retry, a queue
   * resumed or changed). SQLite: never (this process is the only one).
   */
  onWork(listener: (what: 'jobs' | 'queues') => void): void;
  /**
   * Calls `listener` with the running jobs cancelled through any instance (PostgreSQL), each with the attempt that
   * was running, so that the instance running it stops it. SQLite: never (the service stops them itself).
   */
  onCancelled(listener: (cancelled: { id: number; attempt: number }[]) => void): void;
  /** Tells the other instances that queues changed (QueuesService reloads its list on `onWork('queues')`). */
  announceQueues(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where an event is in the log: ordered by tx, then id. `tx` is the writing transaction on PostgreSQL (decimal
 * xid8), always '0' on SQLite.
 */
export interface EventPosition {
  tx: string;
  id: number;
}

/** Which jobs' events a read returns; a filter left out (or null) matches every job. */
export interface EventFilter {
  ownerId?: number | null;
  queue?: string | null;
  kind?: JobKindName | null;
  jobId?: number | null;
  /** Only events of these types (`succeeded`…); null: any. The relay needs only the final ones (a third of the log). */
  types?: readonly string[] | null;
}

/** One job_events row, with its position and the job fields an event subscription filters by. */
export interface StoredEvent extends EventPosition {
  jobId: number;
  type: string;
  payload: unknown;
  at: Date;
  ownerId: number | null;
  queue: string;
  kind: JobKindName;
}

/** Whether position `a` comes after `b` in the log. */
export function isAfter(a: EventPosition, b: EventPosition | null): boolean {
  if (b === null) return true;
  const ta = BigInt(a.tx);
  const tb = BigInt(b.tx);
  return ta === tb ? a.id > b.id : ta > tb;
}

/** A claim of one queue's jobs: at most `limit`, within its rate limit when it has one, in its order (FIFO when left out). */
export interface Claim {
  queue: string;
  limit: number;
  rateLimit?: { jobs: number; perMs: number } | null;
  order?: QueueOrder;
}

/** What a pool run came to, for settleJobs: a result, or an error that fails the job or retries it later. */
export type Outcome =
  | { lease: Job; result: unknown }
  | { lease: Job; error: string; retryInMs?: number };

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
  /** In any of these states (the console's dead letters: FAILED and CANCELLED); with `status`, both hold. */
  statuses?: JobStatus[];
  kind?: JobKindName;
  queue?: string;
  ownerId?: number;
  /** Only these jobs (bulk actions). */
  ids?: number[];
  /** Created strictly before / at or after these times (ms since the epoch; bulk actions). */
  createdBefore?: number;
  createdAfter?: number;
  /** The runs of one schedule. */
  schedule?: string;
  /** Console search text: id, kind, status, or part of queue, owner or input (see search.ts). */
  search?: string;
}

/** A parent of a flow node as its child's run sees it. */
export interface ParentNode {
  jobId: number;
  key: string;
  status: JobStatus;
  result: unknown;
}

/** What a transition did to flows beyond the jobs it was asked about. */
export interface FlowChange {
  jobs: Job[];
  flows: Flow[];
}

/** One node of a flow to insert: a job, its key, its parents (indexes into the flow's nodes) and its policy. */
export interface NewFlowNode extends NewQueuedJob {
  key: string;
  parents: number[];
  onParentFailure: ParentFailure;
}

export interface NewFlow {
  name: string | null;
  ownerId: number;
  nodes: NewFlowNode[];
}

export interface NewJob {
  kind: JobKindName;
  ownerId: number;
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
  /** Not claimed before this time (ms since the epoch); null or left out: now. */
  runAt?: number | null;
  /** The owner's idempotency key: while remembered, a job with the same key is returned instead of a new one. */
  idempotencyKey?: string | null;
  /** The schedule whose tick made it. */
  schedule?: string | null;
}

/** One job to insert: its queue (with the limit it is checked against), its settings and its input as JSON. */
export interface NewQueuedJob {
  queue: { name: string; maxLength: number };
  job: NewJob;
  inputJson: string;
  /** Until when the job's idempotency key is remembered (ms since the epoch); needed with one. */
  keyExpiresAt?: number;
}

/**
 * What insertJobs did: a job for each one asked, in order; `reused` holds the positions whose idempotency key was
 * already remembered (their job is the one it first made, as it is now: nothing was inserted for them).
 */
export interface InsertedJobs {
  jobs: Job[];
  reused: ReadonlySet<number>;
}

/** A schedule's tick as an instance read it: see JobStore.fireSchedule. */
export interface ScheduleTick {
  name: string;
  due: number;
  next: number | null;
  skipIfUnfinished: boolean;
}

export interface FiredTick {
  advanced: boolean;
  job: Job | null;
}

/** The rows a bulk action (cancelJobs, retryJobs, deleteJobs) or the retention sweep takes: every filter given. */
export interface MatchingJobs extends JobFilter {
  /** Finished strictly before this time (ms): the retention sweep, and retryJobs' bound. */
  finishedBefore?: number;
}

/** The owner and key of a keyed job, as one string (a Map key). */
export const idempotencyKeyOf = (job: NewJob) => (job.idempotencyKey == null ? null : `${job.ownerId}\0${job.idempotencyKey}`);

/** The row a fresh INSERT makes (the table's defaults included), without reading it back. */
export function newJob(id: number, job: NewJob & { queue: string }, now: number): Job {
  return {
    ...job,
    id,
    status: 'QUEUED',
    result: null,
    error: null,
    progress: 0,
    attempts: 0,
    runAt: new Date(job.runAt ?? now),
    idempotencyKey: job.idempotencyKey ?? null,
    schedule: job.schedule ?? null,
    leaseToken: null,
    leaseExpiresAt: null,
    claimedBy: null,
    createdAt: new Date(now),
    startedAt: null,
    finishedAt: null,
  };
}

/**
 * Every member of JobStore, by name: the conformance suite (test/store-conformance.test.ts) runs each one's cases on
 * both stores and fails for a member without one. Kept equal to `keyof JobStore` by the check below (tsc).
 */
export const JOB_STORE_MEMBERS = [
  'insertJobs',
  'claimJobs',
  'claimJobsOfKind',
  'pullJob',
  'settleJobs',
  'completeJob',
  'cancelJob',
  'retryJob',
  'deleteJob',
  'fireSchedule',
  'cancelMatching',
  'retryMatching',
  'deleteMatching',
  'purgeExpiredKeys',
  'forgetQueue',
  'recoverExpired',
  'heartbeat',
  'progress',
  'addNote',
  'insertFlow',
  'cancelFlow',
  'onFlowChange',
  'flowById',
  'listFlows',
  'flowNodes',
  'flowOfJobs',
  'parentsOf',
  'jobById',
  'inputsOf',
  'statusesOfKind',
  'countByStatus',
  'countByOwner',
  'countActiveByQueueKind',
  'selectJob',
  'selectJobs',
  'countJobs',
  'countDelayedByQueue',
  'nextRunAt',
  'pendingCount',
  'queuedOfKind',
  'waitingCount',
  'mayHaveWaiting',
  'eventsAfter',
  'eventBounds',
  'eventPositions',
  'databaseId',
  'onEvents',
  'shared',
  'onWork',
  'onCancelled',
  'throttledUntil',
  'announceQueues',
  'close',
] as const;
export type JobStoreMember = (typeof JOB_STORE_MEMBERS)[number];

// A member added to JobStore but not to the list (or listed but gone) fails to compile here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const membersListed: Same<JobStoreMember, keyof JobStore> = true;
void membersListed;
