import { filter, pipe, Repeater } from 'graphql-yoga';
import type { Logger } from 'pino';
import { z } from 'zod';
import { JOB_STATUSES } from '../db/schema';
import type { Selection } from '../db/selection';
import { badInput, conflict, DomainError, notFound, unavailable } from '../errors';
import type { EventBus } from '../events';
import { integerIn, parseInput, stringAtMost } from '../input';
import type { Clock } from '../clock';
import type { WorkerPool } from '../pool/pool';
import { type JobKind, type JobKinds, parseResult } from './kind';
import { type Actor, announce, canSeeJob, isFinal, type Job, type JobCounts, type JobKindName, type JobStatus, type QueueCatalog, requireWriter, userClaimant } from './model';
import { RetentionSweeper } from './retention';
import type { JobRunner } from './runner';
import { JobStatistics, type LatencyPercentiles, type ThroughputSample } from './statistics';
import type { EventFilter, FiredTick, InsertedJobs, JobFilter, JobStore, NewQueuedJob, ScheduleTick } from './store';
import type { EventLog } from './events/log';
import { UnfinishedJobsBound } from './unfinished-bound';
import { FlowsService } from './flows';

export interface SubmitOptions {
  queue?: string | null;
  priority?: number | null;
  maxAttempts?: number | null;
  timeoutSeconds?: number | null;
  /** Not started before this instant; or not before now + delayMs (one of the two). */
  runAt?: Date | null;
  delayMs?: number | null;
  /** Per owner: while remembered, the same key returns the job it first made and creates nothing. */
  idempotencyKey?: string | null;
}

/** One job of a bulk submission: its kind, its input and, optionally, options of its own (over the call's). */
export interface JobRequest {
  kind: JobKindName;
  input: unknown;
  options?: SubmitOptions;
}

/** The most jobs one bulk submission takes (one transaction; about a megabyte of request at most). */
export const MAX_JOBS_PER_SUBMISSION = 10_000;

/** BAD_USER_INPUT for a bulk submission of more than MAX_JOBS_PER_SUBMISSION jobs. */
export function checkSubmissionSize(count: number): void {
  if (count > MAX_JOBS_PER_SUBMISSION) {
    const most = MAX_JOBS_PER_SUBMISSION.toLocaleString('en-US');
    throw badInput(`submitJobs takes at most ${most} jobs per call; got ${count.toLocaleString('en-US')}: split them into several calls`, {
      field: 'jobs',
      maxItems: MAX_JOBS_PER_SUBMISSION,
    });
  }
}

/** An item's error as the bulk submission reports it: the same code and message, prefixed with where it is. */
export function atIndex(index: number, error: unknown): unknown {
  if (!(error instanceof DomainError)) return error;
  return new DomainError(error.code, `jobs[${index}]: ${error.message}`, { ...error.details, index });
}

export interface JobsServiceOptions {
  store: JobStore;
  runner: JobRunner;
  kinds: JobKinds;
  queues: QueueCatalog;
  /** The queue of a job submitted without one. */
  defaultQueue: string;
  pool: WorkerPool;
  events: EventBus;
  log: Logger;
  /** How long a person who pulled a job has to complete it before it goes back to the queue. */
  pullLeaseMs: number;
  defaultTimeoutMs: number;
  /** Where the throughput statistics read the time (the store stamps finished jobs with the same clock). */
  clock: Clock;
  /** How long an idempotency key is remembered (IDEMPOTENCY_TTL_SECONDS). */
  idempotencyTtlMs: number;
  /** The default retention of finished jobs (JOB_RETENTION_SECONDS; null keeps them) and how often it is applied. */
  retention: { defaultMs: number | null; sweepMs: number };
  /** MAX_QUEUED_JOBS_PER_USER: most unfinished jobs a USER may hold; 0 or unset: no bound. */
  maxUnfinishedJobsPerUser?: number;
  /** The job event log (event cursors: ./events/log.ts). */
  eventLog: EventLog;
}

/** Which jobs' events a caller asks for (every one given must match). */
export type EventsOf = Pick<EventFilter, 'queue' | 'kind' | 'jobId'>;

/** The worker pool now, and the jobs it finished over the last minutes (the dashboard's workers view). */
export interface PoolStats {
  size: number;
  busy: number;
  tasksRunning: number;
  tasksQueued: number;
  /** Jobs finished per second over the last minute. */
  jobsPerSecond: number;
  throughput(minutes: number, intervalSeconds: number): ThroughputSample[];
  runMs(minutes: number): LatencyPercentiles;
  waitMs(minutes: number): LatencyPercentiles;
}

const integerOption = (field: string, min: number, max: number) => integerIn(min, max, `${field} must be an integer from ${min} to ${max}`).nullish();
/** A submission checked and ready to insert: its queue and settings, its parsed input and that input as JSON. */
type PreparedJob = NewQueuedJob & { value: unknown };

/** The options every submission takes, checked in this order. */
const submitOptions = z.object({
  priority: integerOption('priority', -1000, 1000),
  maxAttempts: integerOption('maxAttempts', 1, 20),
  timeoutSeconds: integerOption('timeoutSeconds', 1, 3600),
});

/** The longest delay a job may be given: a year (delayMs, or runAt that far ahead). */
export const MAX_DELAY_MS = 31_536_000_000;

/** When a job may start, and its key: checked per item (runAt differs between items where settings do not). */
const timingOptions = z.object({
  runAt: z.date({ error: 'invalid field runAt: a date and time' }).nullish(),
  delayMs: integerIn(0, MAX_DELAY_MS, `delayMs must be an integer from 0 to ${MAX_DELAY_MS}`).nullish(),
  idempotencyKey: z
    .string({ error: 'invalid field idempotencyKey: a string' })
    .min(1, { error: 'idempotencyKey must be 1 to 200 characters' })
    .max(200, { error: 'idempotencyKey must be 1 to 200 characters' })
    .nullish(),
});

/** Jobs one transaction of a bulk action (cancelJobs, retryJobs, deleteJobs) changes at most. */
export const BULK_BATCH = 5000;

/** Lets the event loop run what waits (a claim pass, requests) before the next batch. */
const yieldToOthers = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The most jobs one runQueued call takes (the rest stay queued for another call). */
export const MAX_JOBS_PER_RUN = 1000;

/** The longest note on a job, in characters (the source's free-text status had no limit; ours is a history entry). */
export const MAX_NOTE_LENGTH = 2000;
const noteInput = stringAtMost('note', MAX_NOTE_LENGTH)
  .transform((note) => note.trim())
  .refine((note) => note.length > 0, { error: 'invalid field note: it is empty' })
  // Line breaks and tabs are text; other control characters (NUL, escapes) only garble whoever reads the history.
  .refine((note) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(note), { error: 'invalid field note: it contains control characters' });

const poolStatsStreamInput = z.object({ intervalMs: integerIn(250, 60_000, 'invalid field intervalMs: an integer from 250 to 60000') });

/**
 * Durable jobs as the API offers them: submission (inputs checked once, by their kind's schema), reads, and the
 * commands people give (cancel, retry, delete, pull, complete). The store keeps them; the runner runs them.
 */
export class JobsService {
  private readonly statistics: JobStatistics;
  private readonly stopStatistics: () => void;
  private readonly unfinishedBound: UnfinishedJobsBound;
  /** Graphs of jobs (submitFlow): ./flows.ts. */
  readonly flows: FlowsService<JobRequest, SubmitOptions>;

  /** Single submissions waiting for the next group commit (see submitGrouped). */
  private grouped: { job: PreparedJob; resolve: (job: Job) => void; reject: (error: unknown) => void }[] = [];

  private readonly retention: RetentionSweeper;

  constructor(private readonly options: JobsServiceOptions) {
    this.retention = new RetentionSweeper({ ...options.retention, store: options.store, queues: options.queues, log: options.log, clock: options.clock });
    this.statistics = new JobStatistics(options.clock);
    this.stopStatistics = options.events.on('jobCompleted', (job) => this.statistics.record(job));
    this.unfinishedBound = new UnfinishedJobsBound(options.maxUnfinishedJobsPerUser ?? 0, (ownerId) => this.unfinishedOf(ownerId), () => options.clock.now());
    this.flows = new FlowsService(options.store, options.runner, options.events, {
      prepareJobs: (actor, requests, callOptions) => this.prepare(actor, requests, callOptions, true),
      announceInserted: (parsed, jobs) => this.announce(parsed, { jobs, reused: new Set() }),
      admit: (actor, count) => this.unfinishedBound.admit(actor, count),
    });
  }

  private async unfinishedOf(ownerId: number): Promise<number> {
    const counts = await this.store.countByStatus(ownerId, null);
    return counts.reduce((sum, { status, n }) => (status === 'QUEUED' || status === 'RUNNING' || status === 'WAITING' ? sum + n : sum), 0);
  }

  private get store() {
    return this.options.store;
  }

  private get runner() {
    return this.options.runner;
  }

  // ---- lifecycle (the runner's, for the server) --------------------------------------------------------

  get isDraining(): boolean {
    return this.runner.isDraining;
  }

  async start(): Promise<void> {
    await this.runner.start();
    this.retention.start();
  }

  /** Stops accepting jobs and waits (up to `timeoutMs`) for the queued and running ones to finish. */
  drain(timeoutMs: number): Promise<{ drained: boolean; left: number }> {
    return this.runner.drain(timeoutMs);
  }

  /** Refuses new jobs (as a drain does) but keeps running the queued ones and serving reads: the REST graceful_shutdown. */
  stopAccepting(): void {
    this.runner.stopAccepting();
  }

  stop(): void {
    this.retention.stop();
    this.runner.stop();
    this.stopStatistics();
  }

  /** Asks the runner for a claim pass (a queue was resumed or widened). */
  wake(): void {
    this.runner.wake();
  }

  // ---- submission -------------------------------------------------------------------------------------

  async submit(actor: Actor, kind: JobKindName, input: unknown, options: SubmitOptions = {}): Promise<Job> {
    return (await this.insert(actor, [{ kind, input }], options, false))[0]!;
  }

  /** Submits several jobs of one kind in one transaction (all or none). */
  submitMany(actor: Actor, kind: JobKindName, inputs: unknown[], options: SubmitOptions = {}): Promise<Job[]> {
    return this.insert(
      actor,
      inputs.map((input) => ({ kind, input })),
      options,
      false,
    );
  }

  /**
   * Submits jobs of any kinds and queues in one transaction, all or none: an item's own options win over `options`;
   * a bad item fails the whole call with its error prefixed `jobs[i]: ` (and `index: i` in its details).
   */
  submitJobs(actor: Actor, requests: JobRequest[], options: SubmitOptions = {}): Promise<Job[]> {
    checkSubmissionSize(requests.length);
    return this.insert(actor, requests, options, true);
  }

  /**
   * One job, like submit, checked now (a bad input is refused at once) but inserted with the other single submissions
   * made in the same turn of the event loop, in one transaction: one commit for all of them, which is most of what a
   * lone insert costs. Resolves once its job is committed. If the group fails (a queue filled up within it), each of
   * its jobs is inserted alone, so one job's refusal is never another's.
   */
  async submitGrouped(actor: Actor, kind: JobKindName, input: unknown, options: SubmitOptions = {}): Promise<Job> {
    const [job] = this.prepare(actor, [{ kind, input }], options, false);
    const settled = await this.unfinishedBound.admit(actor, 1);
    return new Promise<Job>((resolve, reject) => {
      this.grouped.push({ job: job!, resolve, reject });
      if (this.grouped.length === 1) setImmediate(() => void this.commitGrouped());
    }).finally(settled);
  }

  private async commitGrouped(): Promise<void> {
    const group = this.grouped;
    this.grouped = [];
    if (this.isDraining) {
      for (const { reject } of group) reject(unavailable('shutting down: no new jobs are accepted'));
      return;
    }
    let inserted: InsertedJobs;
    try {
      inserted = await this.store.insertJobs(group.map(({ job }) => job));
    } catch (error) {
      // Nothing was inserted (the transaction rolled back): each job alone, in order, so one refusal stays its own.
      if (group.length === 1) return group[0]!.reject(error);
      for (const { job, resolve, reject } of group) {
        try {
          resolve((await this.commit([job]))[0]!);
        } catch (alone) {
          reject(alone);
        }
      }
      return;
    }
    this.announce(group.map(({ job }) => job), inserted);
    group.forEach(({ resolve }, i) => resolve(inserted.jobs[i]!));
  }

  /** Checks a request as a submission would (kind, queue, options, input) without storing it; its queue's name. */
  checkRequest(actor: Actor, request: JobRequest): string {
    return this.prepare(actor, [request], {}, false)[0]!.queue.name;
  }

  /**
   * Takes a schedule's due tick (see JobStore.fireSchedule) with its job, submitted as `owner`; `request` null (a
   * missed tick, an owner gone) only moves the schedule on. A job that can no longer be submitted (its queue
   * deleted, the server draining) is logged and its tick passed over.
   */
  async fireSchedule(owner: Actor | null, request: JobRequest | null, tick: ScheduleTick): Promise<FiredTick> {
    let job: PreparedJob | null = null;
    if (owner && request) {
      try {
        job = this.prepare(owner, [request], {}, false)[0]!;
      } catch (error) {
        this.options.log.warn({ err: error, schedule: tick.name }, 'a scheduled job could not be submitted; its tick is passed over');
      }
    }
    const fired = await this.store.fireSchedule(tick, job);
    if (fired.job && job) this.announce([job], { jobs: [fired.job], reused: new Set() });
    return fired;
  }

  /** Checks every request (kind, queue, options, input: in that order) and inserts them all in one transaction. */
  private async insert(actor: Actor, requests: JobRequest[], options: SubmitOptions, indexed: boolean): Promise<Job[]> {
    const prepared = this.prepare(actor, requests, options, indexed);
    const settled = await this.unfinishedBound.admit(actor, prepared.length);
    try {
      return await this.commit(prepared);
    } finally {
      settled();
    }
  }

  /** Each request checked (kind, queue, options, input: in that order) and its input serialised, ready to insert. */
  private prepare(actor: Actor, requests: JobRequest[], options: SubmitOptions, indexed: boolean): PreparedJob[] {
    requireWriter(actor);
    if (this.isDraining) throw unavailable('shutting down: no new jobs are accepted');
    // Most items share their settings: each distinct (kind, options) is resolved and checked once.
    const settings = new Map<string, Omit<NewQueuedJob, 'inputJson'>>();
    const parsed = requests.map((request, index) => {
      try {
        const merged = request.options ? mergeOptions(request.options, options) : options;
        const key = `${request.kind}\0${merged.queue ?? ''}\0${merged.priority ?? ''}\0${merged.maxAttempts ?? ''}\0${merged.timeoutSeconds ?? ''}`;
        let setting = settings.get(key);
        if (!setting) settings.set(key, (setting = this.settingsOf(actor, request.kind, merged)));
        const value = parseInput(this.kind(request.kind).input, request.input);
        const timing = this.timingOf(merged);
        const job = timing ? { ...setting.job, ...timing } : setting.job;
        const keyExpiresAt = timing?.idempotencyKey == null ? undefined : this.options.clock.now() + this.options.idempotencyTtlMs;
        return { ...setting, job, value, inputJson: JSON.stringify(value), keyExpiresAt };
      } catch (error) {
        throw indexed ? atIndex(index, error) : error;
      }
    });
    return parsed;
  }

  /** Inserts prepared jobs in one transaction (all or none), then tells subscribers and the runner. */
  private async commit(parsed: PreparedJob[]): Promise<Job[]> {
    const inserted = await this.store.insertJobs(parsed);
    this.announce(parsed, inserted);
    return inserted.jobs;
  }

  /** Subscribers and the runner learn of jobs just inserted (not of those an idempotency key returned). */
  private announce(parsed: PreparedJob[], { jobs, reused }: InsertedJobs): void {
    const fresh = reused.size ? jobs.filter((_job, i) => !reused.has(i)) : jobs;
    for (const job of fresh) this.options.events.publish('jobUpdated', job.id, job);
    const made = reused.size ? jobs.flatMap((job, i) => (reused.has(i) ? [] : [{ job, i }])) : jobs.map((job, i) => ({ job, i }));
    this.runner.submitted(made.map(({ job, i }) => ({ id: job.id, input: parsed[i]!.value, chars: parsed[i]!.inputJson.length, runAt: job.runAt.getTime() })));
  }

  /** A job's start time and idempotency key, checked; undefined when neither is asked for (the common case). */
  private timingOf(options: SubmitOptions): { runAt: number | null; idempotencyKey: string | null } | undefined {
    if (options.runAt == null && options.delayMs == null && options.idempotencyKey == null) return undefined;
    const { runAt, delayMs, idempotencyKey } = parseInput(timingOptions, {
      runAt: options.runAt,
      delayMs: options.delayMs,
      idempotencyKey: options.idempotencyKey,
    });
    if (runAt != null && delayMs != null) throw badInput('give runAt or delayMs, not both', { field: 'delayMs' });
    if (runAt != null && Number.isNaN(runAt.getTime())) throw badInput('invalid field runAt: a date and time', { field: 'runAt' });
    const at = runAt != null ? runAt.getTime() : delayMs != null ? this.options.clock.now() + delayMs : null;
    if (at !== null && at - this.options.clock.now() > MAX_DELAY_MS) throw badInput('runAt must be at most a year from now', { field: 'runAt' });
    return { runAt: at, idempotencyKey: idempotencyKey ?? null };
  }

  /** The queue and settings of a job of `kindName` submitted with `options`, checked. */
  private settingsOf(actor: Actor, kindName: JobKindName, options: SubmitOptions): Omit<NewQueuedJob, 'inputJson'> {
    this.kind(kindName);
    const queueName = options.queue ?? this.options.defaultQueue;
    const queue = this.options.queues.find(queueName, 'queue');
    if (!queue) throw badInput(`no queue named "${queueName}"`, { field: 'queue' });
    const checked = parseInput(submitOptions, options);
    const job = {
      kind: kindName,
      ownerId: actor.id,
      priority: checked.priority ?? 0,
      maxAttempts: checked.maxAttempts ?? 3,
      timeoutMs: (checked.timeoutSeconds ?? Math.round(this.options.defaultTimeoutMs / 1000)) * 1000,
    };
    return { queue: { name: queue.name, maxLength: queue.maxLength }, job };
  }

  /** Runs a kind's computation now, on the pool, without storing a job (estimatePi, forecast). */
  runNow<Input, Result>(kind: JobKind<Input, Result>, raw: unknown): Promise<Result> {
    const input = parseInput(kind.input, raw);
    const timeoutMs = this.options.defaultTimeoutMs;
    // Not a job: no id, one attempt, no parents.
    const signal = AbortSignal.timeout(timeoutMs);
    return Promise.resolve(kind.run(input, { pool: this.options.pool, signal, stop: signal, timeoutMs, progress: () => {}, jobId: '', attempt: 1, parents: {} }));
  }

  /**
   * Runs now every QUEUED job of `kind` in a queue (up to MAX_JOBS_PER_RUN, oldest first), through the runner and
   * the pool as any job runs, and gives them back once each attempt has ended (SUCCEEDED with its result, FAILED,
   * or QUEUED again for a retry), with how many of that kind still wait. A paused queue's jobs run too (a person
   * asked, as with pullJob); other kinds in the queue are left alone.
   */
  async runQueued(actor: Actor, queueName: string, kind: JobKindName): Promise<{ queue: string; jobs: Job[]; remaining: number }> {
    requireWriter(actor);
    this.kind(kind);
    const queue = this.options.queues.get(queueName, 'queue');
    if (this.isDraining) throw unavailable('shutting down: no new runs are started');
    const jobs = await this.runner.runQueuedOfKind(queue.name, kind, MAX_JOBS_PER_RUN);
    this.options.log.info({ queue: queue.name, kind, jobs: jobs.length, by: actor.id }, 'queued jobs run on request');
    return { queue: queue.name, jobs, remaining: await this.store.queuedOfKind(queue.name, kind) };
  }

  // ---- reads -------------------------------------------------------------------------------------------

  /** The job, if `actor` may see it (their own, or any for managers and admins); NOT_FOUND otherwise. */
  async get(actor: Actor, id: number): Promise<Job> {
    const job = await this.find(actor, id);
    if (!job) throw notFound(`no job with id ${id}`);
    return job;
  }

  /** The job, if it exists and `actor` may see it; null otherwise. */
  async find(actor: Actor, id: number): Promise<Job | null> {
    const job = await this.store.jobById(id);
    return job && canSeeJob(actor, job) ? job : null;
  }

  /** The job as the reader selects it (see Selection), if `actor` may see it: another user's job reads as missing. */
  async findSelected(actor: Actor, id: number, select?: Selection): Promise<Job | null> {
    return (await this.store.selectJob(id, actor.role === 'USER' ? actor.id : null, select)) ?? null;
  }

  /** Of these jobs, those `actor` may see, by id, in one read (nested fields that name many jobs: a flow's nodes, parents). */
  async visibleByIds(actor: Actor, ids: number[]): Promise<Map<number, Job>> {
    const jobs = await this.store.selectJobs({ ids, ownerId: actor.role === 'USER' ? actor.id : undefined });
    return new Map(jobs.map((job) => [job.id, job]));
  }

  /** The jobs matching `filter` that `actor` may see, newest first: a user's list holds only their own, whatever owner is asked. */
  list(actor: Actor, filter: JobFilter, select?: Selection): Promise<Job[]> {
    return this.store.selectJobs({ ...filter, ownerId: actor.role === 'USER' ? actor.id : filter.ownerId }, select);
  }

  /** The job now, then every change of it (status, progress), ending after its final state; NOT_FOUND if `actor` may not see it. */
  async watch(actor: Actor, id: number): Promise<AsyncIterable<Job>> {
    const seen = await this.get(actor, id);
    return new Repeater<Job>(async (push, stop) => {
      const updates = this.options.events.subscribe('jobUpdated', id)[Symbol.asyncIterator]();
      void stop.then(() => updates.return?.());
      // The pub/sub listens from its first pull; the job is read again after it, so no change falls between the two.
      let nextUpdate = updates.next();
      const current = (await this.store.jobById(id)) ?? seen;
      const stopped = stop.then(() => ({ done: true as const, value: undefined }));
      await push(current);
      if (isFinal(current.status)) return stop();
      let last = current;
      for (;;) {
        const next = await Promise.race([nextUpdate, stopped]);
        if (next.done) break;
        // Updates published between the first pull and the read above are queued, and the read may already show a
        // later one: a progress the stream has passed (same attempt, same status, lower) would move the bar back.
        const stale = next.value.status === last.status && next.value.attempts === last.attempts && next.value.progress < last.progress;
        if (!stale) await push((last = next.value));
        if (isFinal(next.value.status)) break;
        nextUpdate = updates.next();
      }
      stop();
    });
  }

  /** Every job that reaches a final state from now on that `actor` may see, of one queue and kind when they are given. */
  completions(actor: Actor, only: { queue?: string | null; kind?: JobKindName | null } = {}): AsyncIterable<Job> {
    return pipe(
      this.options.events.subscribe('jobCompleted'),
      filter((job: Job) => canSeeJob(actor, job) && (!only.queue || job.queue === only.queue) && (!only.kind || job.kind === only.kind)),
    );
  }

  /** Up to `first` events after the cursor `after` of the jobs `actor` may see (a USER: their own), and whether more follow. */
  async eventsPage(actor: Actor, after: string | null | undefined, first: number, only: EventsOf) {
    const position = await this.options.eventLog.positionOf(after);
    return this.options.eventLog.page(position, { ...only, ownerId: actor.role === 'USER' ? actor.id : null }, first);
  }

  /** The events after the cursor `after` (all kept, when null) of the jobs `actor` may see, then every new one, each once. */
  async followEvents(actor: Actor, after: string | null | undefined, only: EventsOf) {
    const position = await this.options.eventLog.positionOf(after);
    return this.options.eventLog.follow(position, { ...only, ownerId: actor.role === 'USER' ? actor.id : null });
  }

  /** The cursors of events read by id (a job's history). */
  eventCursors(ids: number[]): Promise<Map<number, string>> {
    return this.options.eventLog.cursorsOf(ids);
  }

  /** The stored inputs of jobs of one kind, by id, in one read (for result fields that show them, e.g. a calc job's expressions). */
  inputsOf<Input>(_kind: JobKind<Input, unknown>, ids: number[]): Promise<Map<number, Input>> {
    // What is stored is what the kind's input schema gave at submission.
    return this.store.inputsOf(ids) as Promise<Map<number, Input>>;
  }

  /** The ids and statuses of the jobs of one kind that `actor` may see, oldest first. */
  statusesOfKind(actor: Actor, kind: JobKindName): Promise<{ id: number; status: JobStatus }[]> {
    return this.store.statusesOfKind(kind, actor.role === 'USER' ? actor.id : null);
  }

  async counts(actor: Actor | null, queue?: string | null): Promise<JobCounts> {
    const ownerId = actor && actor.role === 'USER' ? actor.id : null;
    const counts = Object.fromEntries(JOB_STATUSES.map((status) => [status.toLowerCase(), 0])) as JobCounts;
    counts.total = 0;
    for (const { status, n } of await this.store.countByStatus(ownerId, queue ?? null)) {
      counts[status.toLowerCase() as Lowercase<JobStatus>] = n;
      counts.total += n;
    }
    return counts;
  }

  /** A queue's waiting and running jobs by owner, the most waiting first: a user sees only their own. */
  ownerCounts(actor: Actor, queue: string, limit: number) {
    return this.store.countByOwner(queue, actor.role === 'USER' ? actor.id : null, limit);
  }

  /** Jobs waiting or running, by status, queue and kind, for the operator's metrics (not a user's view: no owner filter). */
  countActiveByQueueKind() {
    return this.store.countActiveByQueueKind();
  }

  /** QUEUED jobs not yet due (runAt, delayMs, retry backoff), by queue: the operator's metrics. */
  countDelayedByQueue() {
    return this.store.countDelayedByQueue();
  }

  /** QUEUED jobs of a queue, every owner's (what its maxLength limits); kept by the store, not counted. */
  waitingCount(queue: string): Promise<number> {
    return this.store.waitingCount(queue);
  }

  /** Jobs queued in unpaused queues or running on the pool. */
  pendingCount(): Promise<number> {
    return this.store.pendingCount();
  }

  /** How many jobs `list` would page through with the same filter and actor. */
  countMatching(actor: Actor, filter: JobFilter): Promise<number> {
    return this.store.countJobs({ ...filter, ownerId: actor.role === 'USER' ? actor.id : filter.ownerId });
  }

  /** The pool's statistics now, then every `intervalMs` (250..60000) until the reader stops. */
  poolStatsEvery(intervalMsInput: number): AsyncIterable<PoolStats> {
    const { intervalMs } = parseInput(poolStatsStreamInput, { intervalMs: intervalMsInput });
    return new Repeater<PoolStats>(async (push, stop) => {
      // A reader slower than the interval skips samples instead of piling them up.
      let pending: Promise<unknown> | null = null;
      const sample = () => {
        if (!pending) pending = push(this.poolStats()).finally(() => (pending = null));
      };
      sample();
      const timer = setInterval(sample, intervalMs);
      await stop;
      clearInterval(timer);
    });
  }

  poolStats(): PoolStats {
    const { statistics } = this;
    const lastMinute = statistics.throughput(1, 60)[0]!;
    return {
      ...this.options.pool.stats(),
      jobsPerSecond: lastMinute.jobsPerSecond,
      throughput: (minutes, intervalSeconds) => statistics.throughput(minutes, intervalSeconds),
      runMs: (minutes) => statistics.latency('run', minutes),
      waitMs: (minutes) => statistics.latency('wait', minutes),
    };
  }

  // ---- commands ----------------------------------------------------------------------------------------

  async cancel(actor: Actor, id: number): Promise<Job> {
    requireWriter(actor);
    const job = await this.get(actor, id);
    if (isFinal(job.status)) throw conflict(`job ${id} is already ${job.status}`);
    const cancelled = await this.store.cancelJob(id, actor.id);
    if (!cancelled) throw conflict(`job ${id} finished before it could be cancelled`);
    this.runner.abort(id, cancelled.claimedBy === 'pool' ? cancelled.attempts : undefined);
    announce(this.options.events, cancelled);
    this.options.log.info({ jobId: id, by: actor.id }, 'job cancelled');
    return cancelled;
  }

  async retry(actor: Actor, id: number): Promise<Job> {
    requireWriter(actor);
    const job = await this.get(actor, id);
    if (job.status !== 'FAILED' && job.status !== 'CANCELLED') throw conflict(`job ${id} is ${job.status}; only failed or cancelled jobs can be retried`);
    // A flow's counts took its end once: a node run again would count twice (submit a new flow instead).
    if ((await this.store.flowOfJobs([id])).size) throw conflict(`job ${id} is a node of a flow; flow nodes are not retried one by one`);
    if (this.isDraining) throw unavailable('shutting down: no new jobs are accepted');
    const retried = await this.store.retryJob(id, actor.id);
    if (!retried) throw conflict(`job ${id} changed before it could be retried`);
    announce(this.options.events, retried);
    this.runner.wake();
    return retried;
  }

  async delete(actor: Actor, id: number): Promise<boolean> {
    requireWriter(actor);
    const job = await this.get(actor, id);
    if (job.status === 'RUNNING') throw conflict(`job ${id} is running; cancel it first`);
    if (!isFinal(job.status) && (await this.store.flowOfJobs([id])).size) throw conflict(`job ${id} is an unfinished node of a flow; cancel it (or its flow) first`);
    await this.store.deleteJob(id);
    this.options.log.info({ jobId: id, by: actor.id }, 'job deleted');
    return true;
  }

  /**
   * Adds a free-text note to a job (the source's `updateJobStatus(id, note)`), kept in its history as a `note` event
   * with its author. The owner, managers and admins may; the status stays the engine's.
   */
  async addNote(actor: Actor & { username: string }, id: number, rawNote: unknown): Promise<Job> {
    requireWriter(actor);
    const job = await this.get(actor, id);
    const note = parseInput(noteInput, rawNote);
    if (!(await this.store.addNote(id, { note, by: actor.id, username: actor.username }))) throw notFound(`no job with id ${id}`);
    this.options.log.info({ jobId: id, by: actor.id, chars: note.length }, 'job note added');
    return job;
  }

  /** A person claims the oldest runnable job of a queue (the source system's pull); null when there is none. */
  async pull(actor: Actor, queueName: string): Promise<Job | null> {
    requireWriter(actor);
    this.options.queues.get(queueName, 'queue');
    const job = await this.store.pullJob(queueName, userClaimant(actor), actor.id, this.options.pullLeaseMs);
    if (job) announce(this.options.events, job);
    return job;
  }

  /** Completes a job that `actor` pulled, with a result of its kind's shape. */
  async complete(actor: Actor, id: number, rawResult: unknown): Promise<Job> {
    requireWriter(actor);
    const job = await this.get(actor, id);
    if (job.status !== 'RUNNING' || !job.claimedBy?.startsWith('user:')) throw conflict(`job ${id} is ${job.status} and was not pulled; only pulled jobs are completed by hand`);
    if (job.claimedBy !== userClaimant(actor) && actor.role !== 'ADMIN') throw conflict(`job ${id} was pulled by someone else`);
    const result = parseResult(this.kind(job.kind), rawResult);
    const done = await this.store.completeJob(job, result, actor.id);
    if (!done) throw conflict(`job ${id} is no longer yours to complete (its lease expired or it was cancelled)`);
    announce(this.options.events, done);
    return done;
  }

  // ---- many jobs at once ------------------------------------------------------------------------------

  /** Cancels every QUEUED or RUNNING job matching (a USER's filter matches only their own), batch by batch; how many. */
  async cancelMatching(actor: Actor, filter: JobFilter): Promise<number> {
    requireWriter(actor);
    // Jobs submitted while it runs are not its own: the filter ends where the call began.
    const own = { ...this.ownFilter(actor, filter), createdBefore: Math.min(filter.createdBefore ?? Infinity, this.options.clock.now() + 1) };
    return this.inBatches((batch) => this.store.cancelMatching(own, actor.id, batch), (jobs) => {
      for (const job of jobs) {
        // A pool job keeps its claimant when cancelled: it was running (a requeued one has none).
        this.runner.abort(job.id, job.claimedBy === 'pool' ? job.attempts : undefined);
        announce(this.options.events, job);
      }
      this.options.log.info({ jobs: jobs.length, by: actor.id }, 'jobs cancelled');
    });
  }

  /** Queues again every FAILED or CANCELLED job matching (the dead letters), with fresh attempts; how many. */
  async retryMatching(actor: Actor, filter: JobFilter): Promise<number> {
    requireWriter(actor);
    if (this.isDraining) throw unavailable('shutting down: no new jobs are accepted');
    // A job that fails again during the call (its finished_at is new) is not retried twice.
    const own = { ...this.ownFilter(actor, filter), finishedBefore: this.options.clock.now() + 1 };
    return this.inBatches((batch) => this.store.retryMatching(own, actor.id, batch), (jobs) => {
      for (const job of jobs) announce(this.options.events, job);
      this.runner.wake();
    });
  }

  /** Deletes every finished job matching, with its input, result and events; how many. */
  async deleteMatching(actor: Actor, filter: JobFilter): Promise<number> {
    requireWriter(actor);
    let deleted = 0;
    const own = this.ownFilter(actor, filter);
    for (;;) {
      const ids = await this.store.deleteMatching(own, BULK_BATCH);
      deleted += ids.length;
      if (ids.length < BULK_BATCH) break;
      await yieldToOthers();
    }
    if (deleted) this.options.log.info({ jobs: deleted, by: actor.id }, 'jobs deleted');
    return deleted;
  }

  /** A filter as `actor` may apply it: a USER's matches only their own jobs, whatever owner it names. */
  private ownFilter(actor: Actor, filter: JobFilter): JobFilter {
    return { ...filter, ownerId: actor.role === 'USER' ? actor.id : filter.ownerId };
  }

  /** Runs a bulk transition batch after batch (each its own transaction) until one comes back short. */
  private async inBatches(batch: (limit: number) => Promise<Job[]>, changed: (jobs: Job[]) => void): Promise<number> {
    let total = 0;
    for (;;) {
      const jobs = await batch(BULK_BATCH);
      total += jobs.length;
      if (jobs.length) changed(jobs);
      if (jobs.length < BULK_BATCH) return total;
      // Between batches the claim loop, and every other request, get their turn.
      await yieldToOthers();
    }
  }

  /** Deletes a queue with its jobs; any of them still running are stopped. */
  async deleteQueue(name: string): Promise<boolean> {
    await this.options.queues.delete(name);
    this.store.forgetQueue(name);
    this.runner.abortQueue(name);
    return true;
  }

  private kind(name: JobKindName): JobKind<unknown, unknown> {
    const kind = this.options.kinds.get(name);
    if (!kind) throw badInput(`jobs of kind ${name} are not available yet`, { field: 'kind' });
    return kind;
  }
}

/** An item's options over the call's, option by option. */
function mergeOptions(own: SubmitOptions, call: SubmitOptions): SubmitOptions {
  // runAt and delayMs say one thing (when): an item's own, either, wins over the call's as a pair.
  const when = own.runAt != null || own.delayMs != null ? own : call;
  return {
    queue: own.queue ?? call.queue,
    priority: own.priority ?? call.priority,
    maxAttempts: own.maxAttempts ?? call.maxAttempts,
    timeoutSeconds: own.timeoutSeconds ?? call.timeoutSeconds,
    runAt: when.runAt,
    delayMs: when.delayMs,
    idempotencyKey: own.idempotencyKey,
  };
}
