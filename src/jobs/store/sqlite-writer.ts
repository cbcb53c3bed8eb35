import type { Clock, Job } from '../model';
import { DomainError, type ErrorCode } from '../../errors';
import { type Claim, type FlowChange, type InsertedJobs, type JobStoreMember, newJob, type NewQueuedJob, type Outcome } from '.';
import { SqliteJobStore, succeededJob } from './sqlite';

/**
 * The job store's transitions that run on the writer thread: every one that writes (and so moves the waiting counts
 * or writes events). Reads stay on this thread's connection: a transition's promise settles after its commit, so
 * what its caller reads next sees it (WAL).
 */
export const WRITER_METHODS = [
  ...['insertJobs', 'fireSchedule', 'insertFlow', 'cancelFlow', 'addNote', 'forgetQueue'],
  ...['claimJobs', 'claimJobsOfKind', 'pullJob', 'settleJobs', 'completeJob', 'heartbeat', 'progress', 'recoverExpired'],
  ...['cancelJob', 'retryJob', 'deleteJob', 'cancelMatching', 'retryMatching', 'deleteMatching', 'purgeExpiredKeys'],
] as const satisfies readonly JobStoreMember[];
export type WriterMethod = (typeof WRITER_METHODS)[number];

/** One call to the thread: the method, its arguments, and this thread's clock when it was made. */
export interface WriterCall {
  id: number;
  method: WriterMethod | 'open' | 'close';
  args: unknown[];
  now: number;
}

/** The answer to one call, with what its commit changed, for this thread's copy of the counts and its listeners. */
export interface WriterReply {
  id: number;
  value?: unknown;
  error?: { message: string; code?: ErrorCode; details?: Record<string, unknown> };
  waiting?: [string, number][];
  flowChange?: FlowChange;
  throttled?: number | null;
}

/**
 * A settle's outcomes as the thread gets them: what its statements read of each lease (id, token, attempt, start)
 * and the result or error; the jobs the successes make are built here from the leases (./sqlite.ts `succeededJob`).
 */
export type LeanOutcome = [id: number, leaseToken: string | null, attempts: number, startedAt: number | null, result: unknown, error: string | null, retryInMs: number | null];
/** A settle's answer from the thread: the ids that succeeded (in the order given), then the other jobs it changed. */
export interface LeanSettled {
  now: number;
  succeeded: number[];
  others: Job[];
}

/**
 * Jobs as one flat array of values (JOB_WIDTH a job, times in ms): a structured clone of Job objects cost the thread
 * ~4.5 µs a job to send (bench/jobs.ts, a claim of 256), and about as much to read here.
 */
export const JOB_WIDTH = 21;
const ms = (date: Date | null) => (date === null ? null : date.getTime());
const date = (ms: number | null) => (ms === null ? null : new Date(ms));

export function packJobs(jobs: Job[]): unknown[] {
  const values: unknown[] = [];
  for (const j of jobs) {
    const result = j.result === null ? null : JSON.stringify(j.result);
    values.push(j.id, j.kind, j.status, j.queue, j.ownerId, result, j.error, j.progress, j.attempts, j.maxAttempts, j.priority, j.timeoutMs);
    values.push(ms(j.runAt), j.leaseToken, ms(j.leaseExpiresAt), j.claimedBy, ms(j.createdAt), ms(j.startedAt), ms(j.finishedAt), j.idempotencyKey, j.schedule);
  }
  return values;
}

export function unpackJobs(values: unknown[]): Job[] {
  const jobs: Job[] = [];
  for (let i = 0; i < values.length; i += JOB_WIDTH) {
    const v = values as any[];
    jobs.push({
      id: v[i], kind: v[i + 1], status: v[i + 2], queue: v[i + 3], ownerId: v[i + 4], result: v[i + 5] === null ? null : JSON.parse(v[i + 5]),
      error: v[i + 6], progress: v[i + 7], attempts: v[i + 8], maxAttempts: v[i + 9], priority: v[i + 10], timeoutMs: v[i + 11],
      runAt: new Date(v[i + 12]), leaseToken: v[i + 13], leaseExpiresAt: date(v[i + 14]), claimedBy: v[i + 15], createdAt: new Date(v[i + 16]),
      startedAt: date(v[i + 17]), finishedAt: date(v[i + 18]), idempotencyKey: v[i + 19], schedule: v[i + 20],
    });
  }
  return jobs;
}

/** New jobs as one flat array (NEW_JOB_WIDTH values a job), for the same reason. */
export const NEW_JOB_WIDTH = 12;

export function packNewJobs(jobs: NewQueuedJob[]): unknown[] {
  const values: unknown[] = [];
  for (const { queue, job, inputJson, keyExpiresAt } of jobs) {
    values.push(queue.name, queue.maxLength, job.kind, job.ownerId, job.priority, job.maxAttempts, job.timeoutMs);
    values.push(job.runAt ?? null, job.idempotencyKey ?? null, job.schedule ?? null, inputJson, keyExpiresAt ?? null);
  }
  return values;
}

export function unpackNewJobs(values: unknown[]): NewQueuedJob[] {
  const jobs: NewQueuedJob[] = [];
  for (let i = 0; i < values.length; i += NEW_JOB_WIDTH) {
    const v = values as any[];
    const job = { kind: v[i + 2], ownerId: v[i + 3], priority: v[i + 4], maxAttempts: v[i + 5], timeoutMs: v[i + 6], runAt: v[i + 7], idempotencyKey: v[i + 8], schedule: v[i + 9] };
    jobs.push({ queue: { name: v[i], maxLength: v[i + 1] }, job, inputJson: v[i + 10], keyExpiresAt: v[i + 11] ?? undefined });
  }
  return jobs;
}

/**
 * insertJobs' answer from the thread: each position's job id, the positions whose key was remembered, and the stored
 * jobs those name (packed); the jobs it inserted are built here (./index.ts `newJob`, as the store builds them).
 */
export interface LeanInserted {
  now: number;
  ids: number[];
  reused: number[];
  stored: unknown[];
}

/**
 * The SQLite job store with its transitions on a thread of their own (./sqlite-writer-thread.ts: a second
 * connection to the same file running the same store): on two cores the main thread — GraphQL, the runner, the
 * pool's messages — was bound by SQLite's statements (~22 of its ~30 µs a job, docs/benchmarks.md). Calls run on the
 * thread one at a time, in the order made, so the thread's store keeps the waiting counts exact as before; each
 * answer brings what its commit changed, and this store's copy of the counts and its listeners follow it.
 */
export class ThreadedSqliteJobStore extends SqliteJobStore {
  private readonly thread: Worker & { ref(): void; unref(): void };
  private readonly calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 0;
  /** Set once the thread has failed: the transitions run here again, on this connection (see failed). */
  private inline = false;

  constructor(database: ConstructorParameters<typeof SqliteJobStore>[0] & { path: string }, private readonly writerClock: Clock) {
    super(database, writerClock);
    this.thread = new Worker(new URL('./sqlite-writer-thread.ts', import.meta.url)) as ThreadedSqliteJobStore['thread'];
    // Held only while a call waits for its answer: an idle thread never keeps the process up.
    this.thread.unref();
    this.thread.onmessage = (event: MessageEvent<WriterReply>) => this.answered(event.data);
    this.thread.onerror = (event) => this.failed(new Error(`the SQLite writer thread failed: ${event.message}`));
    void this.call('open', [database.path]);
  }

  /** `method` on the thread, or here once it has failed (`here`: this store's own). */
  private call<T>(method: WriterCall['method'], args: unknown[], here?: () => Promise<T>): Promise<T> {
    if (this.inline) return here ? here() : Promise.resolve(undefined as T);
    const id = ++this.nextId;
    if (!this.calls.size) this.thread.ref();
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.thread.postMessage({ id, method, args, now: this.writerClock.now() } satisfies WriterCall);
    });
  }

  private answered(reply: WriterReply): void {
    const call = this.calls.get(reply.id);
    if (!call) return;
    this.calls.delete(reply.id);
    if (!this.calls.size) this.thread.unref();
    if (reply.throttled !== undefined) this.throttled = reply.throttled;
    if (reply.waiting) this.committed(new Map(reply.waiting), reply.flowChange ?? { jobs: [], flows: [] });
    if (!reply.error) return call.resolve(reply.value);
    const { message, code, details } = reply.error;
    call.reject(code ? new DomainError(code, message, details) : new Error(message));
  }

  /**
   * The thread died (it cannot open the file, say): the calls waiting fail (whether they committed is unknown, as
   * for a statement cut short), and the next ones run on this thread, as without it.
   */
  private failed(error: Error): void {
    this.inline = true;
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
    this.thread.terminate();
  }

  override async claimJobs(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]> {
    this.throttled = null;
    if (!claims.length) return [];
    if (this.inline) return super.claimJobs(claims, leaseMs, budget);
    return unpackJobs(await this.call<unknown[]>('claimJobs', [claims, leaseMs, budget]));
  }

  override async insertJobs(jobs: NewQueuedJob[]): Promise<InsertedJobs> {
    if (this.inline) return super.insertJobs(jobs);
    const { now, ids, reused, stored } = await this.call<LeanInserted>('insertJobs', [packNewJobs(jobs)]);
    const reusedSet = new Set(reused);
    const byId = new Map(unpackJobs(stored).map((job) => [job.id, job]));
    const result = jobs.map(({ queue, job }, i) => {
      if (!reusedSet.has(i)) {
        const made = newJob(ids[i]!, { ...job, queue: queue.name }, now);
        byId.set(made.id, made);
        return made;
      }
      return byId.get(ids[i]!)!;
    });
    return { jobs: result, reused: reusedSet };
  }

  override async settleJobs(outcomes: Outcome[]): Promise<Job[]> {
    if (!outcomes.length) return [];
    if (this.inline) return super.settleJobs(outcomes);
    const lean = outcomes.map(({ lease, ...outcome }): LeanOutcome => {
      const error = 'error' in outcome ? outcome : null;
      return [lease.id, lease.leaseToken, lease.attempts, lease.startedAt?.getTime() ?? null, 'result' in outcome ? outcome.result : null, error?.error ?? null, error?.retryInMs ?? null];
    });
    const { now, succeeded, others } = await this.call<LeanSettled>('settleJobs', [lean]);
    const byId = new Map(outcomes.map((outcome) => [outcome.lease.id, outcome]));
    const changed = succeeded.map((id) => {
      const outcome = byId.get(id)!;
      return succeededJob(outcome.lease, 'result' in outcome ? outcome.result : null, now);
    });
    for (const job of others) changed.push(job);
    return changed;
  }

  override forgetQueue(name: string): void {
    super.forgetQueue(name);
    void this.call('forgetQueue', [name]);
  }

  override async close(): Promise<void> {
    // After the calls made before it (the thread answers in order): its connection closes before the main one.
    await this.call('close', []).catch(() => {});
    this.inline = true;
    this.thread.terminate();
    await super.close();
  }
}

// The other writing methods: the call, as it is, to the thread (this store's own method once it has failed).
for (const method of WRITER_METHODS) {
  if (Object.prototype.hasOwnProperty.call(ThreadedSqliteJobStore.prototype, method)) continue;
  const here = SqliteJobStore.prototype[method] as (...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(ThreadedSqliteJobStore.prototype, method, {
    value(this: { call(method: WriterMethod, args: unknown[], here: () => Promise<unknown>): Promise<unknown> }, ...args: unknown[]) {
      return this.call(method, args, () => here.apply(this, args));
    },
  });
}
