import type { Logger } from 'pino';
import type { EventBus } from '../events';
import { type StopSignal, TaskError, type WorkerPool } from '../pool/pool';
import type { JobKinds } from './kind';
import { announce, type Clock, type Job, type JobKindName, type QueueCatalog } from './model';
import type { Claim, JobStore, Outcome } from './store';

export interface JobRunnerOptions {
  store: JobStore;
  kinds: JobKinds;
  queues: QueueCatalog;
  pool: WorkerPool;
  events: EventBus;
  log: Logger;
  clock: Clock;
  /** How long a pool job's lease lasts; it is renewed every third of that while the job runs. */
  leaseMs: number;
  /** First retry delay; each further attempt doubles it (with jitter), up to 5 minutes. */
  retryBaseMs: number;
  /** Most jobs the runner keeps on the pool at once. */
  maxInFlight: number;
  /** Least time between two progress updates of one job (the latest value is published when it has passed); default 100. */
  progressIntervalMs?: number;
  /** Who watches jobs submitted here and the attempts run here (tracing, metrics); they never change the outcome. */
  observers?: readonly JobRunObserver[];
}

/** Sees a job's life on this instance; called in the submitter's async context, and around the attempt it runs. */
export interface JobRunObserver {
  submitted?(jobIds: number[]): void;
  /** Runs `attempt` (the kind's run) in whatever context the observer gives it (a trace span's). */
  attempt?<T>(job: Job, attempt: () => Promise<T>): Promise<T>;
  /** An attempt's outcome was written: the job now (QUEUED again for a retry, or in its final state). */
  settled?(job: Job): void;
}

/** A job this process runs: its claim as the store gave it, and how to stop its tasks. */
interface ActiveJob {
  job: Job;
  stop: RunStop;
  /** Cancelled, or its lease went to someone else: its late outcome is ignored. */
  stopped: boolean;
  lastProgressAt: number;
  /** Its run has settled: late progress of its other tasks (after one failed) is not published. */
  settled?: boolean;
  /** The latest progress not yet published, and the timer that publishes it. */
  pendingProgress?: number;
  progressTimer?: ReturnType<typeof setTimeout>;
  /** Called once this attempt's outcome is written (a run a person waits for: runQueuedOfKind). */
  onFlushed?: () => void;
}

/**
 * Outcomes written in one transaction at most, and the longest a finished job waits for others to join its batch
 * (none waits when nothing else runs here). On the SQLite store alone (one core) settling 8 jobs a transaction cost
 * 28 µs a job, 64 cost 15, 256 cost 12; a jobCompleted subscriber holds at most 512 unread (MAX_UNREAD_EVENTS), so a
 * batch is at most half of that.
 */
const SETTLE_BATCH = 256;
const SETTLE_WAIT_MS = 4;

/** How long a cancel of a job not (yet) running here is remembered: longer than a claim takes to start its jobs. */
const ABORTED_EARLY_MS = 10_000;

type Finished = { active: ActiveJob; ok: true; result: unknown } | { active: ActiveJob; ok: false; error: unknown };

const NO_PARENTS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Exponential backoff with jitter: base·2^(attempt−1), scaled by a random factor in [0.5, 1), capped at 5 min. */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(5 * 60_000, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/**
 * Runs queued jobs on the worker pool: claims them in passes (per queue, within its concurrency), runs their
 * kind, writes the outcomes of each tick in one transaction, retries with backoff, renews its leases, recovers
 * expired ones, and drains at shutdown. Every state change goes through the store; every time through the clock.
 */
export class JobRunner {
  private readonly active = new Map<number, ActiveJob>();
  /** Attempts (`<job>:<attempt>`) cancelled while not running here (see abort), by when: oldest first. */
  private readonly abortedEarly = new Map<string, number>();
  private readonly runningPerQueue = new Map<string, number>();
  private readonly freshInputs = new FreshInputs();
  private finished: Finished[] = [];
  private claimScheduled = false;
  /** A claim pass is awaiting the store; a wake meanwhile asks for one more pass after it. */
  private claiming = false;
  private claimAgain = false;
  private passes = 0;
  /** The next write of `finished`: at the end of this turn (`immediate`), or a timer (see finish). */
  private flushImmediate = false;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private beating = false;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  /** After the next claim pass, ask the store when the next delayed job is due and set the timer for it. */
  private rearm = false;
  private beatTimer: ReturnType<typeof setInterval> | undefined;
  private draining = false;
  /** Draining to exit (drain), not only refusing new jobs (stopAccepting): beside other instances, claim nothing more. */
  private leaving = false;
  private stopped = false;
  private drainWaiters: (() => void)[] = [];
  private drainCheckTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: JobRunnerOptions) {}

  private get store() {
    return this.options.store;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Recovers what a previous process left running (alone on the database, every pool job still running is an
   * orphan; beside other instances, only expired leases are), then starts claiming.
   */
  async start(): Promise<void> {
    const recovered = await this.recover(!this.store.shared);
    if (recovered) this.options.log.warn({ recovered }, 'recovered jobs left running by a previous process');
    const delayed = await this.store.nextRunAt();
    if (delayed !== null) this.wakeAtTime(delayed);
    // Another instance added jobs (or changed a queue): claim them here too, and look for its delayed ones' time.
    this.store.onWork((what) => {
      if (what !== 'jobs') return;
      this.rearm = true;
      this.wake();
    });
    // A running job cancelled through another instance: its attempt here stops now, its slot is freed.
    this.store.onCancelled((attempts) => {
      for (const { id, attempt } of attempts) this.abort(id, attempt);
    });
    this.beatTimer = setInterval(() => this.beat(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.wake();
  }

  /** Jobs just stored: their inputs are kept for the claim (no read back), and a claim pass is asked for. */
  submitted(jobs: { id: number; input: unknown; chars: number; runAt?: number }[]): void {
    const now = this.options.clock.now();
    let due = false;
    for (const { id, input, chars, runAt } of jobs) {
      this.freshInputs.remember(id, input, chars);
      // A delayed job: a timer to its time (the earliest one set), no claim pass before.
      if (runAt !== undefined && runAt > now) this.wakeAtTime(runAt);
      else due = true;
    }
    this.tellObservers((observer) => observer.submitted?.(jobs.map((job) => job.id)));
    if (due) this.wake();
  }

  /** An observer that fails is logged: it never changes what happens to a job. */
  private tellObservers(tell: (observer: JobRunObserver) => void): void {
    for (const observer of this.options.observers ?? []) {
      try {
        tell(observer);
      } catch (error) {
        this.options.log.warn({ err: error }, 'a job observer failed');
      }
    }
  }

  /**
   * Stops a job's tasks here (it was cancelled); its late failure is ignored. `attempt`: the attempt that was
   * running when it was cancelled, if one was.
   */
  abort(jobId: number, attempt?: number): void {
    const active = this.active.get(jobId);
    if (active) return this.stopRun(active);
    if (attempt === undefined) return;
    // Not running here, or not yet: a claim may have taken it and still be reading its input. That attempt is
    // remembered a while, so that its run stops as it starts (the cancel is written: its lease is gone already).
    const now = performance.now();
    for (const [key, at] of this.abortedEarly) {
      if (now - at < ABORTED_EARLY_MS) break;
      this.abortedEarly.delete(key);
    }
    this.abortedEarly.set(`${jobId}:${attempt}`, now);
  }

  /** Stops the tasks of every job of a queue (it was deleted, with its jobs). */
  abortQueue(name: string): void {
    for (const active of this.active.values()) if (active.job.queue === name) this.stopRun(active);
  }

  /** Asks for a claim pass soon; many calls in one tick make one pass. */
  wake(): void {
    if (this.claimScheduled || this.stopped) return;
    this.claimScheduled = true;
    setImmediate(() => {
      this.claimScheduled = false;
      if (this.claiming) {
        this.claimAgain = true;
        return;
      }
      this.claiming = true;
      this.claimPass()
        .catch((error) => this.stopped || this.options.log.error({ err: error }, 'claim pass failed'))
        .finally(() => {
          this.claiming = false;
          if (this.draining) void this.checkDrained();
          if (this.rearm) {
            this.rearm = false;
            this.store
              .nextRunAt()
              .then((at) => at !== null && this.wakeAtTime(at))
              .catch((error) => this.stopped || this.options.log.error({ err: error }, 'reading the next due job failed'));
          }
          if (this.claimAgain) {
            this.claimAgain = false;
            this.wake();
          }
        });
    });
  }

  private async claimPass(): Promise<void> {
    // Instances sharing a database drain only their own work: one leaving leaves the queue to the others. One that
    // only stopped accepting (REST graceful_shutdown) stays up and runs what is queued: on PostgreSQL it claimed
    // nothing more, and jobs submitted just before waited forever while the drain said `running`.
    if (this.stopped || (this.leaving && this.store.shared)) return;
    const budget = this.options.maxInFlight - this.active.size;
    // While more than three quarters of the budget is held there is plenty to run: the pass waits until a quarter is
    // free, so claims (and their settles) come in batches rather than one per finished handful.
    if (budget <= 0 || budget < this.options.maxInFlight / 4) return;
    // The store's hint says which queues may have anything to claim: a pass with none opens no transaction.
    const claims: Claim[] = [];
    const queues = this.options.queues.list();
    // Each pass starts one queue further, so a full budget never starves the last queues.
    const first = this.passes++ % Math.max(1, queues.length);
    for (const queue of [...queues.slice(first), ...queues.slice(0, first)]) {
      if (queue.paused || !this.store.mayHaveWaiting(queue.name)) continue;
      const free = Math.min(budget, queue.concurrency - (this.runningPerQueue.get(queue.name) ?? 0));
      const rateLimit = queue.rateLimitJobs != null && queue.rateLimitPerSeconds != null ? { jobs: queue.rateLimitJobs, perMs: queue.rateLimitPerSeconds * 1000 } : null;
      if (free > 0) claims.push({ queue: queue.name, limit: free, rateLimit, order: queue.order });
    }
    const claimed = await this.store.claimJobs(claims, this.options.leaseMs, budget);
    // A rate-limited queue held back: a pass when its window has room again.
    const throttledUntil = this.store.throttledUntil();
    if (throttledUntil !== null) this.wakeAtTime(throttledUntil);
    if (!claimed.length) return;
    // Counted as running at once (before the inputs are read), so the next pass stays within each queue's concurrency.
    for (const job of claimed) this.runningPerQueue.set(job.queue, (this.runningPerQueue.get(job.queue) ?? 0) + 1);
    const { inputs, parents } = await this.inputsOfClaimed(claimed);
    for (const job of claimed) {
      this.options.events.publish('jobUpdated', job.id, job);
      this.execute(job, inputs.get(job.id), parents.get(job.id));
    }
  }

  /**
   * The inputs of jobs just claimed. If they cannot be read (the database went away), the claims stand — their leases
   * run out and recovery queues them again — but this instance stops counting them as running, or the queue's
   * concurrency here would shrink for good.
   */
  private async inputsOfClaimed(claimed: Job[]): Promise<{ inputs: Map<number, unknown>; parents: Map<number, Record<string, unknown>> }> {
    try {
      const ids = claimed.map((job) => job.id);
      const [inputs, parents] = await Promise.all([this.freshInputs.take(ids, (missing) => this.store.inputsOf(missing)), this.parentResults(ids)]);
      return { inputs, parents };
    } catch (error) {
      for (const job of claimed) this.runningPerQueue.set(job.queue, (this.runningPerQueue.get(job.queue) ?? 1) - 1);
      throw error;
    }
  }

  /**
   * The one place a flow node's run learns its parents: their results by key (null for a parent that did not
   * succeed, under policy RUN). Jobs outside flows have none.
   */
  private async parentResults(ids: number[]): Promise<Map<number, Record<string, unknown>>> {
    const byChild = await this.store.parentsOf(ids);
    return new Map([...byChild].map(([id, parents]) => [id, Object.fromEntries(parents.map((parent) => [parent.key, parent.status === 'SUCCEEDED' ? parent.result : null]))]));
  }

  /**
   * Claims every QUEUED job of one kind in a queue (up to `limit`) and runs them on the pool as a claim pass would,
   * now: the queue's pause, concurrency and the jobs' retry times do not hold them back (a person asked). Resolves
   * once each attempt's outcome is written, with the jobs as they then are (a job deleted meanwhile is left out).
   */
  async runQueuedOfKind(queue: string, kind: JobKindName, limit: number): Promise<Job[]> {
    if (this.draining) return [];
    const claimed = await this.store.claimJobsOfKind(queue, kind, limit, this.options.leaseMs);
    if (!claimed.length) return [];
    for (const job of claimed) this.runningPerQueue.set(job.queue, (this.runningPerQueue.get(job.queue) ?? 0) + 1);
    const { inputs, parents } = await this.inputsOfClaimed(claimed);
    const flushed = claimed.map((job) => {
      this.options.events.publish('jobUpdated', job.id, job);
      return new Promise<void>((resolve) => this.execute(job, inputs.get(job.id), parents.get(job.id), resolve));
    });
    await Promise.all(flushed);
    const now = await Promise.all(claimed.map((job) => this.store.jobById(job.id)));
    return now.filter((job) => job !== undefined);
  }

  /**
   * A job waits (a delay, a retry backoff) until `runAt`: a claim pass happens then, and after it the timer is set
   * again for the next due job (the store says which): no polling interval bounds how late a job starts.
   */
  private wakeAtTime(runAt: number): void {
    if (runAt >= this.wakeAt || this.stopped) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = runAt;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.rearm = true;
        this.wake();
      },
      Math.max(0, runAt - this.options.clock.now()),
    );
  }

  private execute(job: Job, input: unknown, parents: Record<string, unknown> | undefined, onFlushed?: () => void): void {
    const active: ActiveJob = { job, stop: new RunStop(), stopped: false, lastProgressAt: 0, onFlushed };
    this.active.set(job.id, active);
    // Cancelled between its claim and now: it stops at once, through the same path as a run stopped later.
    if (this.abortedEarly.size && this.abortedEarly.delete(`${job.id}:${job.attempts}`)) this.stopRun(active);
    let run: Promise<unknown>;
    try {
      const kind = this.options.kinds.get(job.kind);
      if (!kind) throw new Error(`jobs of kind ${job.kind} are not available in this version`);
      // The stored input is the checked form its kind's schema gave at submission: it runs as it is.
      const { stop } = active;
      const attempt = () =>
        Promise.resolve(
          kind.run(input, {
            pool: this.options.pool,
            get signal() {
              return stop.signal;
            },
            stop,
            timeoutMs: job.timeoutMs,
            progress: (fraction) => this.reportProgress(active, fraction),
            jobId: String(job.id),
            attempt: job.attempts,
            parents: parents ?? NO_PARENTS,
          }),
        );
      const observers = this.options.observers;
      run = observers?.length ? observers.reduce<() => Promise<unknown>>((inner, observer) => (observer.attempt ? () => observer.attempt!(job, inner) : inner), attempt)() : attempt();
    } catch (error) {
      run = Promise.reject(error);
    }
    run.then(
      (result) => this.finish({ active, ok: true, result }),
      (error) => this.finish({ active, ok: false, error }),
    );
  }

  /**
   * At most one update per interval (10 a second by default) per job reaches the database and the subscribers;
   * one that comes too soon is not dropped but published when the interval has passed, so the bar keeps moving.
   */
  private reportProgress(active: ActiveJob, fraction: number): void {
    if (active.stopped || active.settled) return;
    active.pendingProgress = fraction;
    if (active.progressTimer) return;
    const wait = active.lastProgressAt + (this.options.progressIntervalMs ?? 100) - performance.now();
    if (wait <= 0) return this.publishProgress(active);
    active.progressTimer = setTimeout(() => {
      active.progressTimer = undefined;
      this.publishProgress(active);
    }, wait);
  }

  private publishProgress(active: ActiveJob): void {
    const fraction = active.pendingProgress;
    active.pendingProgress = undefined;
    if (active.stopped || this.stopped || fraction === undefined) return;
    active.lastProgressAt = performance.now();
    this.store.progress(active.job, fraction).catch((error) => this.options.log.warn({ err: error, jobId: active.job.id }, 'progress not stored'));
    active.job = { ...active.job, progress: fraction };
    this.options.events.publish('jobUpdated', active.job.id, active.job);
  }

  private finish(entry: Finished): void {
    // Its final state follows: a progress update still waiting would only come after it.
    entry.active.settled = true;
    clearTimeout(entry.active.progressTimer);
    this.finished.push(entry);
    // Outcomes are written in batches (a transaction's commit costs as much as many rows): at the end of this turn
    // when every job running here has finished or the batch is full, else within SETTLE_WAIT_MS of the first.
    if (this.finished.length >= SETTLE_BATCH || this.finished.length >= this.active.size) {
      if (this.flushImmediate) return;
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.flushImmediate = true;
      setImmediate(() => {
        this.flushImmediate = false;
        this.flushNow();
      });
    } else if (!this.flushTimer && !this.flushImmediate) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flushNow();
      }, SETTLE_WAIT_MS);
    }
  }

  private flushNow(): void {
    if (!this.finished.length) return;
    this.flushFinished().catch((error) => this.stopped || this.options.log.error({ err: error }, 'writing finished jobs failed; their leases will expire and recovery runs them again'));
  }

  /** Writes every finished job not written yet in one transaction, then tells subscribers. */
  private async flushFinished(): Promise<void> {
    const batch = this.finished;
    this.finished = [];
    try {
      await this.writeFinished(batch);
    } finally {
      // Whatever happened to the write (or after the shutdown deadline, no write), whoever waits hears it.
      for (const { active } of batch) active.onFlushed?.();
    }
  }

  private async writeFinished(batch: Finished[]): Promise<void> {
    for (const { active } of batch) {
      const { id, queue } = active.job;
      // A job recovered from this run may already run again here, under a new lease: that one stays.
      if (this.active.get(id) === active) this.active.delete(id);
      this.runningPerQueue.set(queue, (this.runningPerQueue.get(queue) ?? 1) - 1);
    }
    // After the shutdown deadline, what was still running is left to recovery at the next start.
    if (this.stopped) return;
    // Cancelled meanwhile, or a lease taken over after a recovery: a late answer is dropped by the store.
    const outcomes = batch.flatMap((entry): Outcome[] =>
      entry.ok ? [{ lease: entry.active.job, result: entry.result }] : this.failureOutcome(entry.active, entry.error),
    );
    try {
      const changed = await this.store.settleJobs(outcomes);
      for (const job of changed) {
        if (job.status === 'QUEUED') {
          this.wakeAtTime(job.runAt.getTime());
          this.options.log.warn({ jobId: job.id, attempt: job.attempts, error: job.error }, 'job attempt failed; retry scheduled');
        } else if (job.status === 'FAILED') {
          this.options.log.warn({ jobId: job.id, attempt: job.attempts, error: job.error }, 'job failed');
        }
        announce(this.options.events, job);
        if (this.options.observers?.length) this.tellObservers((observer) => observer.settled?.(job));
      }
    } finally {
      this.wake();
      void this.checkDrained();
    }
  }

  /** A failed run: nothing (it was stopped here), a retry after a backoff, or a failure for good. */
  private failureOutcome({ job, stopped }: ActiveJob, error: unknown): Outcome[] {
    if (stopped || (error instanceof TaskError && error.reason === 'cancelled')) return [];
    const message = error instanceof Error ? error.message : String(error);
    const retryable = error instanceof TaskError ? error.retryable : false;
    if (retryable && job.attempts < job.maxAttempts) return [{ lease: job, error: message, retryInMs: retryDelayMs(job.attempts, this.options.retryBaseMs) }];
    return [{ lease: job, error: message }];
  }

  /** Every third of a lease: recover what expired, renew what this process holds, and claim what became due. */
  private beat(): void {
    // A beat still waiting on the database (PostgreSQL under load) is not stacked with another.
    if (this.beating || this.stopped) return;
    this.beating = true;
    (async () => {
      const recovered = await this.recover(false);
      if (recovered) this.options.log.warn({ recovered }, 'recovered jobs whose lease ran out');
      await this.renewLeases();
    })()
      .catch((error) => this.stopped || this.options.log.error({ err: error }, 'lease upkeep failed'))
      .finally(() => {
        this.beating = false;
        // Also catches a job whose retry time came while no timer was set for it (the clock moved).
        this.wake();
      });
  }

  /**
   * Puts jobs whose lease ran out back in their queue (or fails them when out of attempts); one of this
   * process's own runs among them is stopped, since its lease is no longer its own. At start-up, every pool job
   * still RUNNING belonged to a dead process, lease or not.
   */
  private async recover(atStartup: boolean): Promise<number> {
    const changed = await this.store.recoverExpired(atStartup);
    for (const job of changed) {
      this.abort(job.id);
      announce(this.options.events, job);
    }
    if (changed.length) this.wake();
    return changed.length;
  }

  /** Renews the leases of the jobs running here; one that could not be renewed is no longer ours to finish. */
  private async renewLeases(): Promise<void> {
    const held = [...this.active.values()].filter((active) => !active.stopped);
    const renewed = await this.store.heartbeat(
      held.map((active) => active.job),
      this.options.leaseMs,
    );
    for (const active of held) {
      if (renewed.has(active.job.id)) continue;
      this.options.log.warn({ jobId: active.job.id }, 'job lease lost; its run here is stopped');
      this.stopRun(active);
    }
  }

  private stopRun(active: ActiveJob): void {
    // Its tasks are stopped (their workers replaced); the late outcome is then ignored.
    active.stopped = true;
    active.stop.abort();
  }

  // ---- shutdown ----------------------------------------------------------------------------------------

  /**
   * Stops accepting jobs and resolves once every queued job (of unpaused queues) and running pool job has
   * finished, or when `timeoutMs` passes; whatever still runs then is left to recovery.
   */
  async drain(timeoutMs: number): Promise<{ drained: boolean; left: number }> {
    this.leaving = true;
    this.stopAccepting();
    this.options.log.info({ timeoutMs }, 'draining jobs');
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiter: (() => void) | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        waiter = () => resolve(true);
        this.drainWaiters.push(waiter);
        void this.checkDrained();
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    // A drain that timed out stops waiting (and so stops the re-check below).
    this.drainWaiters = this.drainWaiters.filter((pending) => pending !== waiter);
    const left = this.store.shared ? this.active.size : await this.store.pendingCount();
    if (!drained) this.options.log.warn({ left }, 'shutdown timeout: unfinished jobs are left to recovery at the next start');
    return { drained, left };
  }

  /** New jobs are refused from now on; queued and running ones still run, and the process keeps serving reads. */
  stopAccepting(): void {
    if (this.draining) return;
    this.draining = true;
    this.options.log.info('no longer accepting new jobs');
    this.wake();
  }

  private async checkDrained(): Promise<void> {
    clearTimeout(this.drainCheckTimer);
    // A claim pass in flight may have jobs committed RUNNING whose inputs it still reads (PostgreSQL awaits them):
    // they are not in `active` yet, so the drain looks again once the pass ends.
    if (this.stopped || !this.draining || !this.drainWaiters.length || this.active.size > 0 || this.claiming) return;
    if (this.store.shared) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
      return;
    }
    let pending: number;
    try {
      pending = await this.store.pendingCount();
    } catch (error) {
      this.options.log.warn({ err: error }, 'drain check failed');
      pending = -1;
    }
    if (this.stopped || this.active.size > 0 || this.claiming) return;
    if (pending === 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    } else {
      // Nothing running here but jobs wait (a retry delay; on PostgreSQL, jobs other instances run): look again then.
      clearTimeout(this.drainCheckTimer);
      this.drainCheckTimer = setTimeout(() => void this.checkDrained(), 100);
    }
  }

  /** Stops claiming and timers; jobs still running stay RUNNING in the store for recovery. */
  stop(): void {
    this.stopped = true;
    this.draining = true;
    clearInterval(this.beatTimer);
    clearTimeout(this.wakeTimer);
    // Outcomes waiting for their batch are not written (left to recovery, as what still runs), but whoever waits hears.
    clearTimeout(this.flushTimer);
    this.flushNow();
    clearTimeout(this.drainCheckTimer);
  }
}

/**
 * A run's stop: the pool's tasks listen to it directly, and a kind that reads `signal` gets an AbortSignal made then
 * (aborted already if the run was stopped first). An AbortController and an `abort` listener on its signal cost ~2.5
 * µs a job (docs/benchmarks.md), and most runs (runTasks) never read `signal`. As an AbortSignal does, it aborts
 * once, calls each listener once in the order they came (then aborts `signal`, if made), never calls one added after
 * it aborted, and reports a listener that throws without keeping the others from hearing.
 */
class RunStop implements StopSignal {
  aborted = false;
  private listeners: (() => void)[] | undefined;
  private controller: AbortController | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.listeners!.splice(index, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        reportError(error);
      }
    }
    this.controller?.abort();
  }
}

/** At most this much (in JSON characters) of fresh inputs is kept in memory for the claim. */
const FRESH_INPUT_CHARS = 64 * 1024 * 1024;

/**
 * Inputs of jobs just submitted, by job id, so the claim need not read them back (a calc job's input is
 * megabytes). Bounded by size; the oldest go first, and a job not found here is read from the store.
 */
class FreshInputs {
  private readonly inputs = new Map<number, { input: unknown; chars: number }>();
  private chars = 0;

  remember(id: number, input: unknown, chars: number): void {
    if (chars > FRESH_INPUT_CHARS) return;
    this.inputs.set(id, { input, chars });
    this.chars += chars;
    // Checked first: an iterator per job (20,000 in a bulk submit) for nothing cost ~3% of a bulk run.
    if (this.chars <= FRESH_INPUT_CHARS) return;
    for (const [oldId, entry] of this.inputs) {
      if (this.chars <= FRESH_INPUT_CHARS) break;
      this.inputs.delete(oldId);
      this.chars -= entry.chars;
    }
  }

  /** The inputs of these jobs: from memory, and the others in one read. */
  async take(ids: number[], read: (ids: number[]) => Promise<Map<number, unknown>>): Promise<Map<number, unknown>> {
    const found = new Map<number, unknown>();
    const missing: number[] = [];
    for (const id of ids) {
      const entry = this.inputs.get(id);
      if (!entry) {
        missing.push(id);
        continue;
      }
      this.inputs.delete(id);
      this.chars -= entry.chars;
      found.set(id, entry.input);
    }
    if (missing.length) for (const [id, input] of await read(missing)) found.set(id, input);
    return found;
  }
}
