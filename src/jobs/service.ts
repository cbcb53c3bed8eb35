import { filter, pipe, Repeater } from 'graphql-yoga';
import type { Logger } from 'pino';
import { z } from 'zod';
import { JOB_STATUSES } from '../db/schema';
import type { Selection } from '../db/selection';
import { badInput, conflict, DomainError, notFound, unavailable } from '../errors';
import type { EventBus } from '../events';
import { integerIn, parseInput } from '../input';
import type { WorkerPool } from '../pool/pool';
import { type JobKind, type JobKinds, parseResult } from './kind';
import { type Actor, announce, canSeeJob, isFinal, type Job, type JobCounts, type JobKindName, type JobStatus, type QueueCatalog, userClaimant } from './model';
import type { JobRunner } from './runner';
import type { JobFilter, JobStore, NewQueuedJob } from './store';

export interface SubmitOptions {
  queue?: string | null;
  priority?: number | null;
  maxAttempts?: number | null;
  timeoutSeconds?: number | null;
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
}

const integerOption = (field: string, min: number, max: number) => integerIn(min, max, `${field} must be an integer from ${min} to ${max}`).nullish();
/** The options every submission takes, checked in this order. */
const submitOptions = z.object({
  priority: integerOption('priority', -1000, 1000),
  maxAttempts: integerOption('maxAttempts', 1, 20),
  timeoutSeconds: integerOption('timeoutSeconds', 1, 3600),
});

/**
 * Durable jobs as the API offers them: submission (inputs checked once, by their kind's schema), reads, and the
 * commands people give (cancel, retry, delete, pull, complete). The store keeps them; the runner runs them.
 */
export class JobsService {
  constructor(private readonly options: JobsServiceOptions) {}

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

  start(): Promise<void> {
    return this.runner.start();
  }

  /** Stops accepting jobs and waits (up to `timeoutMs`) for the queued and running ones to finish. */
  drain(timeoutMs: number): Promise<{ drained: boolean; left: number }> {
    return this.runner.drain(timeoutMs);
  }

  stop(): void {
    this.runner.stop();
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

  /** Checks every request (kind, queue, options, input: in that order) and inserts them all in one transaction. */
  private async insert(actor: Actor, requests: JobRequest[], options: SubmitOptions, indexed: boolean): Promise<Job[]> {
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
        return { ...setting, value, inputJson: JSON.stringify(value) };
      } catch (error) {
        throw indexed ? atIndex(index, error) : error;
      }
    });
    const jobs = await this.store.insertJobs(parsed);
    for (const job of jobs) this.options.events.publish('jobUpdated', job.id, job);
    this.runner.submitted(jobs.map((job, i) => ({ id: job.id, input: parsed[i]!.value, chars: parsed[i]!.inputJson.length })));
    return jobs;
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
    return kind.run(input, { pool: this.options.pool, signal: AbortSignal.timeout(timeoutMs), timeoutMs, progress: () => {} });
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
      for (;;) {
        const next = await Promise.race([nextUpdate, stopped]);
        if (next.done) break;
        await push(next.value);
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

  /** QUEUED jobs of a queue, every owner's (what its maxLength limits); kept by the store, not counted. */
  waitingCount(queue: string): Promise<number> {
    return this.store.waitingCount(queue);
  }

  /** Jobs queued in unpaused queues or running on the pool. */
  pendingCount(): Promise<number> {
    return this.store.pendingCount();
  }

  // ---- commands ----------------------------------------------------------------------------------------

  async cancel(actor: Actor, id: number): Promise<Job> {
    const job = await this.get(actor, id);
    if (isFinal(job.status)) throw conflict(`job ${id} is already ${job.status}`);
    const cancelled = await this.store.cancelJob(id, actor.id);
    if (!cancelled) throw conflict(`job ${id} finished before it could be cancelled`);
    this.runner.abort(id);
    announce(this.options.events, cancelled);
    this.options.log.info({ jobId: id, by: actor.id }, 'job cancelled');
    return cancelled;
  }

  async retry(actor: Actor, id: number): Promise<Job> {
    const job = await this.get(actor, id);
    if (job.status !== 'FAILED' && job.status !== 'CANCELLED') throw conflict(`job ${id} is ${job.status}; only failed or cancelled jobs can be retried`);
    if (this.isDraining) throw unavailable('shutting down: no new jobs are accepted');
    const retried = await this.store.retryJob(id, actor.id);
    if (!retried) throw conflict(`job ${id} changed before it could be retried`);
    announce(this.options.events, retried);
    this.runner.wake();
    return retried;
  }

  async delete(actor: Actor, id: number): Promise<boolean> {
    const job = await this.get(actor, id);
    if (job.status === 'RUNNING') throw conflict(`job ${id} is running; cancel it first`);
    await this.store.deleteJob(id);
    this.options.log.info({ jobId: id, by: actor.id }, 'job deleted');
    return true;
  }

  /** A person claims the oldest runnable job of a queue (the source system's pull); null when there is none. */
  async pull(actor: Actor, queueName: string): Promise<Job | null> {
    this.options.queues.get(queueName, 'queue');
    const job = await this.store.pullJob(queueName, userClaimant(actor), actor.id, this.options.pullLeaseMs);
    if (job) announce(this.options.events, job);
    return job;
  }

  /** Completes a job that `actor` pulled, with a result of its kind's shape. */
  async complete(actor: Actor, id: number, rawResult: unknown): Promise<Job> {
    const job = await this.get(actor, id);
    if (job.status !== 'RUNNING' || !job.claimedBy?.startsWith('user:')) throw conflict(`job ${id} is ${job.status} and was not pulled; only pulled jobs are completed by hand`);
    if (job.claimedBy !== userClaimant(actor) && actor.role !== 'ADMIN') throw conflict(`job ${id} was pulled by someone else`);
    const result = parseResult(this.kind(job.kind), rawResult);
    const done = await this.store.completeJob(job, result, actor.id);
    if (!done) throw conflict(`job ${id} is no longer yours to complete (its lease expired or it was cancelled)`);
    announce(this.options.events, done);
    return done;
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
  return {
    queue: own.queue ?? call.queue,
    priority: own.priority ?? call.priority,
    maxAttempts: own.maxAttempts ?? call.maxAttempts,
    timeoutSeconds: own.timeoutSeconds ?? call.timeoutSeconds,
  };
}
