import type { AnalyticsService } from '../analytics/service';
import type { Database } from 'bun:sqlite';
import type { Logger } from 'pino';
import { FINAL_STATUSES, JOB_STATUSES, type JobKind, type JobStatus } from '../db/schema';
import { badInput, conflict, notFound, unavailable } from '../errors';
import type { EventBus } from '../events';
import { TaskError, type WorkerPool } from '../pool/pool';
import type { QueuesService } from '../queues/service';
import { DEFAULT_QUEUE } from '../queues/service';
import type { AuthUser } from '../users/service';
import type { JobHandler } from './handler';
import { jobHandlers } from './kinds';
import { type Job, type JobStatements, prepareJobStatements, toJob } from './queries';

export type { Job };

export interface SubmitOptions {
  queue?: string | null;
  priority?: number | null;
  maxAttempts?: number | null;
  timeoutSeconds?: number | null;
}

export interface JobsServiceOptions {
  sqlite: Database;
  log: Logger;
  events: EventBus;
  pool: WorkerPool;
  queues: QueuesService;
  analytics: AnalyticsService;
  /** How long a pool job's lease lasts; it is renewed every third of that while the job runs. */
  leaseMs: number;
  /** How long a person who pulled a job has to complete it before it goes back to the queue. */
  pullLeaseMs: number;
  /** First retry delay; each further attempt doubles it (with jitter), up to 5 minutes. */
  retryBaseMs: number;
  defaultTimeoutMs: number;
  /** Most jobs the runner keeps on the pool at once. */
  maxInFlight: number;
}

export type JobCounts = Record<Lowercase<JobStatus>, number> & { total: number };

interface ActiveJob {
  job: Job;
  controller: AbortController;
  cancelled: boolean;
  lastProgressAt: number;
}

type Succeeded = { job: Job; ok: true; result: unknown };
type Failed = { job: Job; ok: false; error: unknown };
type Finished = Succeeded | Failed;

const isFinal = (status: JobStatus) => FINAL_STATUSES.includes(status);
/** Users see their own jobs; managers and admins see all. */
export const canSeeJob = (actor: AuthUser | null, job: Pick<Job, 'ownerId'>) =>
  actor !== null && (actor.role !== 'USER' || job.ownerId === actor.id);
const poolClaim = 'pool';
const userClaim = (actor: AuthUser) => `user:${actor.id}`;

function integerIn(value: number | null | undefined, fallback: number, min: number, max: number, field: string): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) throw badInput(`${field} must be an integer from ${min} to ${max}`, { field });
  return chosen;
}

/** Exponential backoff with jitter: base·2^(attempt−1), scaled by a random factor in [0.5, 1), capped at 5 min. */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(5 * 60_000, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/**
 * Durable jobs: submission, the claim/run/complete lifecycle on the worker pool, manual pulls, cancel, retry,
 * recovery and draining. SQLite holds the truth; this process is its only writer, and every state change is
 * written with its job_events row in one transaction before anyone is told about it.
 */
export class JobsService {
  private readonly sql: JobStatements;
  private readonly active = new Map<number, ActiveJob>();
  private readonly runningPerQueue = new Map<string, number>();
  private finished: Finished[] = [];
  private claimScheduled = false;
  private flushScheduled = false;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private timers: ReturnType<typeof setInterval>[] = [];
  private draining = false;
  private stopped = false;
  private drainWaiters: (() => void)[] = [];
  /**
   * Inputs of jobs just submitted, by job id, so the pool's claim need not read them back (a calc job's input is
   * megabytes). Bounded by size; the oldest go first, and a job not found here is read from job_inputs.
   */
  private readonly freshInputs = new Map<number, { input: unknown; chars: number }>();
  private freshInputChars = 0;

  constructor(private readonly options: JobsServiceOptions) {
    this.sql = prepareJobStatements(options.sqlite);
  }

  private get log() {
    return this.options.log;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Recovers what a previous process left running, then starts claiming. */
  start(): void {
    const recovered = this.recover(true);
    if (recovered) this.log.warn({ recovered }, 'recovered jobs left running by a previous process');
    const delayed = this.sql.nextRunAt.get({ now: Date.now() })?.at;
    if (delayed) this.wakeAtTime(delayed);
    const beat = Math.max(50, Math.floor(this.options.leaseMs / 3));
    this.timers.push(
      setInterval(() => {
        this.sql.heartbeat.run({ leaseExpiresAt: Date.now() + this.options.leaseMs });
        this.recover(false);
      }, beat),
    );
    this.wake();
  }

  // ---- submission -------------------------------------------------------------------------------------

  submit(actor: AuthUser, kind: JobKind, input: Record<string, unknown>, options: SubmitOptions = {}): Job {
    return this.submitMany(actor, kind, [input], options)[0]!;
  }

  /** Submits several jobs of one kind in one transaction (all or none). */
  submitMany(actor: AuthUser, kind: JobKind, inputs: Record<string, unknown>[], options: SubmitOptions = {}): Job[] {
    if (this.draining) throw unavailable('shutting down: no new jobs are accepted');
    const handler = this.handler(kind);
    const queueName = options.queue ?? DEFAULT_QUEUE;
    const queue = this.options.queues.find(queueName, 'queue');
    if (!queue) throw badInput(`no queue named "${queueName}"`, { field: 'queue' });
    const common = {
      kind,
      queue: queueName,
      ownerId: actor.id,
      priority: integerIn(options.priority, 0, -1000, 1000, 'priority'),
      maxAttempts: integerIn(options.maxAttempts, 3, 1, 20, 'maxAttempts'),
      timeoutMs: integerIn(options.timeoutSeconds, Math.round(this.options.defaultTimeoutMs / 1000), 1, 3600, 'timeoutSeconds') * 1000,
    };
    const parsed = inputs.map((input) => handler.parseInput(input));
    const jobs = this.options.sqlite.transaction(() => {
      const waiting = this.sql.queuedCount.get({ queue: queueName })!.n;
      if (waiting + parsed.length > queue.maxLength) {
        throw conflict(`queue "${queueName}" is full: ${waiting} jobs waiting, at most ${queue.maxLength}`);
      }
      const now = Date.now();
      return parsed.map((input) => {
        const { id } = this.sql.insert.get({ ...common, now })!;
        const json = JSON.stringify(input);
        this.sql.insertInput.run({ id, input: json });
        this.rememberInput(id, input, json.length);
        const job = newJob(id, common, input, now);
        this.recordEvent(job.id, 'queued', null, now);
        return job;
      });
    }).immediate();
    for (const job of jobs) this.options.events.publish('jobUpdated', job.id, job);
    this.wake();
    return jobs;
  }

  // ---- reads -------------------------------------------------------------------------------------------

  /** The job, if `actor` may see it (their own, or any for managers and admins); NOT_FOUND otherwise. */
  get(actor: AuthUser, id: number): Job {
    const job = this.find(actor, id);
    if (!job) throw notFound(`no job with id ${id}`);
    return job;
  }

  /** The job, if it exists and `actor` may see it; null otherwise. */
  find(actor: AuthUser, id: number): Job | null {
    const row = this.sql.byId.get({ id });
    const job = row && toJob(row);
    return job && canSeeJob(actor, job) ? job : null;
  }

  /** A job's input (for fields that need it when the job was read without it). */
  inputOf(id: number): unknown {
    const row = this.sql.inputOf.get({ id });
    return row ? JSON.parse(row.input) : null;
  }

  /** The ids and statuses of the jobs of one kind that `actor` may see, oldest first. */
  statusesOfKind(actor: AuthUser, kind: JobKind): { id: number; status: JobStatus }[] {
    return this.sql.statusesOfKind.all({ kind, ownerId: actor.role === 'USER' ? actor.id : null });
  }

  counts(actor: AuthUser | null, queue?: string | null): JobCounts {
    const ownerId = actor && actor.role === 'USER' ? actor.id : null;
    const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status.toLowerCase(), 0])) as JobCounts;
    counts.total = 0;
    for (const { status, n } of this.sql.counts.all({ ownerId, queue: queue ?? null })) {
      counts[status.toLowerCase() as Lowercase<JobStatus>] = n;
      counts.total += n;
    }
    return counts;
  }

  // ---- commands ----------------------------------------------------------------------------------------

  cancel(actor: AuthUser, id: number): Job {
    const job = this.get(actor, id);
    if (isFinal(job.status)) throw conflict(`job ${id} is already ${job.status}`);
    const cancelled = this.transact(() => {
      const row = this.sql.cancel.get({ id, now: Date.now() });
      if (row) this.recordEvent(id, 'cancelled', { by: actor.id });
      return row ? toJob(row) : undefined;
    });
    if (!cancelled) throw conflict(`job ${id} finished before it could be cancelled`);
    const active = this.active.get(id);
    if (active) {
      // Its tasks are stopped (their workers replaced); the late failure is then ignored.
      active.cancelled = true;
      active.controller.abort();
    }
    this.announce(cancelled);
    this.log.info({ jobId: id, by: actor.id }, 'job cancelled');
    return cancelled;
  }

  retry(actor: AuthUser, id: number): Job {
    const job = this.get(actor, id);
    if (job.status !== 'FAILED' && job.status !== 'CANCELLED') throw conflict(`job ${id} is ${job.status}; only failed or cancelled jobs can be retried`);
    if (this.draining) throw unavailable('shutting down: no new jobs are accepted');
    const retried = this.transact(() => {
      const row = this.sql.retry.get({ id, now: Date.now() });
      if (row) this.recordEvent(id, 'retried', { by: actor.id });
      return row ? toJob(row) : undefined;
    });
    if (!retried) throw conflict(`job ${id} changed before it could be retried`);
    this.announce(retried);
    this.wake();
    return retried;
  }

  delete(actor: AuthUser, id: number): boolean {
    const job = this.get(actor, id);
    if (job.status === 'RUNNING') throw conflict(`job ${id} is running; cancel it first`);
    this.sql.delete.run({ id });
    this.log.info({ jobId: id, by: actor.id }, 'job deleted');
    return true;
  }

  /** A person claims the oldest runnable job of a queue (the source system's pull); null when there is none. */
  pull(actor: AuthUser, queueName: string): Job | null {
    this.options.queues.get(queueName, 'queue');
    const now = Date.now();
    const job = this.transact(() => {
      const row = this.sql.claim.get({
        queue: queueName,
        now,
        limit: 1,
        leasePrefix: `${crypto.randomUUID()}:`,
        leaseExpiresAt: now + this.options.pullLeaseMs,
        claimedBy: userClaim(actor),
      });
      if (row) this.recordEvent(row.id, 'pulled', { by: actor.id, attempt: row.attempts }, now);
      return row ? toJob(row) : null;
    });
    if (job) this.announce(job);
    return job;
  }

  /** Completes a job that `actor` pulled, with a result of its kind's shape. */
  complete(actor: AuthUser, id: number, rawResult: unknown): Job {
    const job = this.get(actor, id);
    if (job.status !== 'RUNNING' || !job.claimedBy?.startsWith('user:')) throw conflict(`job ${id} is ${job.status} and was not pulled; only pulled jobs are completed by hand`);
    if (job.claimedBy !== userClaim(actor) && actor.role !== 'ADMIN') throw conflict(`job ${id} was pulled by someone else`);
    const result = this.handler(job.kind).parseResult(rawResult);
    const done = this.transact(() => {
      const row = this.sql.succeed.get({ id, leaseToken: job.leaseToken, result: JSON.stringify(result), now: Date.now() });
      if (row) this.recordEvent(id, 'succeeded', { by: actor.id });
      return row ? toJob(row) : undefined;
    });
    if (!done) throw conflict(`job ${id} is no longer yours to complete (its lease expired or it was cancelled)`);
    this.announce(done);
    return done;
  }

  /** Deletes a queue with its jobs; any of them still running are stopped. */
  deleteQueue(name: string): boolean {
    this.options.queues.delete(name);
    for (const active of this.active.values()) {
      if (active.job.queue !== name) continue;
      active.cancelled = true;
      active.controller.abort();
    }
    return true;
  }

  // ---- the runner --------------------------------------------------------------------------------------

  /** Asks for a claim pass soon; many calls in one tick make one pass. */
  wake(): void {
    if (this.claimScheduled || this.stopped) return;
    this.claimScheduled = true;
    setImmediate(() => {
      this.claimScheduled = false;
      this.claimPass();
    });
  }

  private claimPass(): void {
    if (this.stopped) return;
    let budget = this.options.maxInFlight - this.active.size;
    if (budget <= 0) return;
    const now = Date.now();
    const leasePrefix = `${crypto.randomUUID()}:`;
    const claimed = this.transact(() => {
      const jobs: Job[] = [];
      for (const queue of this.options.queues.list()) {
        if (queue.paused || budget <= 0) continue;
        const free = Math.min(budget, queue.concurrency - (this.runningPerQueue.get(queue.name) ?? 0));
        if (free <= 0) continue;
        const rows = this.sql.claimForPool.all({ queue: queue.name, now, limit: free, leasePrefix, leaseExpiresAt: now + this.options.leaseMs, claimedBy: poolClaim });
        if (!rows.length) continue;
        const started = rows.map((row) => ({ jobId: row.id, payload: { attempt: row.attempts } }));
        this.sql.eventMany.run({ type: 'started', at: now, batch: JSON.stringify(started) });
        for (const row of rows) jobs.push(toJob(row, this.takeInput(row.id)));
        budget -= rows.length;
      }
      return jobs;
    });
    for (const job of claimed) {
      this.options.events.publish('jobUpdated', job.id, job);
      this.execute(job);
    }
  }

  /** A job waits for a retry delay until `runAt`: make sure a claim pass happens then. */
  private wakeAtTime(runAt: number): void {
    if (runAt >= this.wakeAt || this.stopped) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = runAt;
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.wake();
    }, Math.max(0, runAt - Date.now()) + 1);
  }

  private execute(job: Job): void {
    const controller = new AbortController();
    const active: ActiveJob = { job, controller, cancelled: false, lastProgressAt: 0 };
    this.active.set(job.id, active);
    this.runningPerQueue.set(job.queue, (this.runningPerQueue.get(job.queue) ?? 0) + 1);
    let run: Promise<unknown>;
    try {
      const handler = this.handler(job.kind);
      run = handler.run(handler.parseInput(job.input as Record<string, unknown>), {
        pool: this.options.pool,
        analytics: this.options.analytics,
        signal: controller.signal,
        timeoutMs: job.timeoutMs,
        progress: (fraction) => this.reportProgress(active, fraction),
      });
    } catch (error) {
      run = Promise.reject(error);
    }
    run.then(
      (result) => this.finish({ job, ok: true, result }),
      (error) => this.finish({ job, ok: false, error }),
    );
  }

  private reportProgress(active: ActiveJob, fraction: number): void {
    const now = performance.now();
    // At most 10 updates a second per job reach the database and the subscribers.
    if (active.cancelled || now - active.lastProgressAt < 100) return;
    active.lastProgressAt = now;
    const { job } = active;
    this.sql.progress.run({ id: job.id, leaseToken: job.leaseToken, progress: fraction });
    active.job = { ...job, progress: fraction };
    this.options.events.publish('jobUpdated', job.id, active.job);
  }

  private finish(entry: Finished): void {
    this.finished.push(entry);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushFinished();
    });
  }

  /** Writes every finished job of this tick in one transaction, then tells subscribers. */
  private flushFinished(): void {
    const batch = this.finished;
    this.finished = [];
    for (const { job } of batch) {
      this.active.delete(job.id);
      this.runningPerQueue.set(job.queue, (this.runningPerQueue.get(job.queue) ?? 1) - 1);
    }
    // After the shutdown deadline, what was still running is left to recovery at the next start.
    if (this.stopped) return;
    const now = Date.now();
    const changed = this.transact(() => [
      ...this.recordSuccesses(batch.filter((entry): entry is Succeeded => entry.ok), now),
      ...batch.filter((entry): entry is Failed => !entry.ok).flatMap((entry) => this.recordFailure(entry, now)),
    ]);
    for (const job of changed) this.announce(job);
    this.wake();
    this.checkDrained();
  }

  /** All successes of a flush in two statements: the guarded update, then the events of those that counted. */
  private recordSuccesses(entries: Succeeded[], now: number): Job[] {
    if (!entries.length) return [];
    const batch = entries.map(({ job, result }) => ({ id: job.id, leaseToken: job.leaseToken, result: result ?? null }));
    // Cancelled meanwhile, or a lease taken over after a recovery: a late answer is dropped.
    const counted = new Set(this.sql.succeedMany.all({ now, batch: JSON.stringify(batch) }).map((row) => row.id));
    const succeeded = entries
      .filter((entry) => counted.has(entry.job.id))
      .map(({ job, result }): Job => ({
        ...job,
        status: 'SUCCEEDED',
        result: result ?? null,
        error: null,
        progress: 1,
        finishedAt: new Date(now),
        leaseToken: null,
        leaseExpiresAt: null,
      }));
    const events = succeeded.map((job) => ({ jobId: job.id, payload: { attempt: job.attempts, durationMs: now - (job.startedAt?.getTime() ?? now) } }));
    this.sql.eventMany.run({ type: 'succeeded', at: now, batch: JSON.stringify(events) });
    return succeeded;
  }

  private recordFailure({ job, error }: Failed, now: number): Job[] {
    const event = (type: string, payload: unknown) => this.recordEvent(job.id, type, payload, now);
    if (error instanceof TaskError && error.reason === 'cancelled') return [];
    const message = error instanceof Error ? error.message : String(error);
    const retryable = error instanceof TaskError ? error.retryable : false;
    if (retryable && job.attempts < job.maxAttempts) {
      const runAt = now + retryDelayMs(job.attempts, this.options.retryBaseMs);
      const row = this.sql.requeue.get({ id: job.id, leaseToken: job.leaseToken, error: message, runAt });
      if (!row) return [];
      event('retry_scheduled', { attempt: job.attempts, error: message, runAt });
      this.wakeAtTime(runAt);
      this.log.warn({ jobId: job.id, attempt: job.attempts, error: message }, 'job attempt failed; retry scheduled');
      return [toJob(row)];
    }
    const row = this.sql.fail.get({ id: job.id, leaseToken: job.leaseToken, error: message, now });
    if (!row) return [];
    event('failed', { attempt: job.attempts, error: message });
    this.log.warn({ jobId: job.id, attempt: job.attempts, error: message }, 'job failed');
    return [toJob(row)];
  }

  /**
   * Puts jobs whose lease ran out back in their queue (or fails them when out of attempts). At start-up,
   * every pool job still RUNNING belonged to a dead process, lease or not.
   */
  recover(atStartup: boolean): number {
    const now = Date.now();
    const changed = this.transact(() =>
      this.sql.orphans.all({ now, allPool: atStartup ? 1 : 0 }).flatMap((row) => {
        if (this.active.has(row.id)) return [];
        const outOfAttempts = row.attempts >= row.max_attempts;
        const updated = outOfAttempts
          ? this.sql.fail.get({ id: row.id, leaseToken: row.lease_token, now, error: 'its worker or claimant went away and it has no attempts left' })
          : this.sql.requeue.get({ id: row.id, leaseToken: row.lease_token, runAt: now, error: 'its worker or claimant went away; re-queued' });
        if (!updated) return [];
        this.recordEvent(row.id, outOfAttempts ? 'failed' : 'recovered', { attempt: row.attempts, claimedBy: row.claimed_by }, now);
        return [toJob(updated)];
      }),
    );
    for (const job of changed) this.announce(job);
    if (changed.length) this.wake();
    return changed.length;
  }

  // ---- shutdown ----------------------------------------------------------------------------------------

  /**
   * Stops accepting jobs and resolves once every queued job (of unpaused queues) and running pool job has
   * finished, or when `timeoutMs` passes; whatever still runs then is left to recovery.
   */
  async drain(timeoutMs: number): Promise<{ drained: boolean; left: number }> {
    this.draining = true;
    this.log.info({ timeoutMs }, 'draining jobs');
    this.wake();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.drainWaiters.push(() => resolve(true));
        this.checkDrained();
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const left = this.pendingCount();
    if (!drained) this.log.warn({ left }, 'shutdown timeout: unfinished jobs are left to recovery at the next start');
    return { drained, left };
  }

  pendingCount(): number {
    return this.sql.pendingInActiveQueues.get({})!.n;
  }

  private checkDrained(): void {
    if (!this.draining || !this.drainWaiters.length) return;
    if (this.active.size === 0 && this.pendingCount() === 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    } else if (this.active.size === 0) {
      // Nothing running but jobs wait for a retry delay: look again then.
      setTimeout(() => this.checkDrained(), 100);
    }
  }

  /** Stops claiming and timers; jobs still running stay RUNNING in the database for recovery. */
  stop(): void {
    this.stopped = true;
    this.draining = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.wakeTimer);
  }

  // ---- helpers -----------------------------------------------------------------------------------------

  private handler(kind: JobKind): JobHandler {
    const handler = jobHandlers[kind];
    if (!handler) throw badInput(`jobs of kind ${kind} are not available yet`, { field: 'kind' });
    return handler;
  }

  private rememberInput(id: number, input: unknown, chars: number): void {
    if (chars > FRESH_INPUT_CHARS) return;
    this.freshInputs.set(id, { input, chars });
    this.freshInputChars += chars;
    for (const [oldId, entry] of this.freshInputs) {
      if (this.freshInputChars <= FRESH_INPUT_CHARS) break;
      this.freshInputs.delete(oldId);
      this.freshInputChars -= entry.chars;
    }
  }

  private takeInput(id: number): unknown {
    const entry = this.freshInputs.get(id);
    if (!entry) return JSON.parse(this.sql.inputOf.get({ id })!.input);
    this.freshInputs.delete(id);
    this.freshInputChars -= entry.chars;
    return entry.input;
  }

  /** Appends to a job's history; called inside the transaction of the change it records. */
  private recordEvent(jobId: number, type: string, payload: unknown, at = Date.now()): void {
    this.sql.event.run({ jobId, type, payload: payload === null ? null : JSON.stringify(payload), at });
  }

  private transact<T>(work: () => T): T {
    return this.options.sqlite.transaction(work).immediate();
  }

  /** Tells subscribers about a committed change. */
  private announce(job: Job): void {
    this.options.events.publish('jobUpdated', job.id, job);
    if (isFinal(job.status)) this.options.events.publish('jobCompleted', job);
  }
}

/** At most this much (in JSON characters) of fresh inputs is kept in memory for the claim. */
const FRESH_INPUT_CHARS = 64 * 1024 * 1024;

/** The row a fresh INSERT makes (the table's defaults included), without reading it back. */
function newJob(
  id: number,
  common: Pick<Job, 'kind' | 'queue' | 'ownerId' | 'priority' | 'maxAttempts' | 'timeoutMs'>,
  input: unknown,
  now: number,
): Job {
  return {
    ...common,
    id,
    status: 'QUEUED',
    input,
    result: null,
    error: null,
    progress: 0,
    attempts: 0,
    runAt: new Date(now),
    leaseToken: null,
    leaseExpiresAt: null,
    claimedBy: null,
    createdAt: new Date(now),
    startedAt: null,
    finishedAt: null,
  };
}
