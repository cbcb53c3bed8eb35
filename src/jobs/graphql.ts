import type { InputObjectRef, ObjectRef } from '@pothos/core';
import { JOB_KINDS, JOB_STATUSES } from '../db/schema';
import { builder, describedValues } from '../graphql/builder';
import type { SignedInContext } from '../graphql/context';
import { fanOutExtension } from '../graphql/fan-out';
import { connectionComplexity } from '../graphql/limits';
import { badInput } from '../errors';
import { checkLength } from '../input';
import { checkPaging, parseId } from '../graphql/ids';
import { canSeeJob, type Job, type JobCounts, type JobKindName, type JobStatus, jobVisibility } from './model';
import { atIndex, checkSubmissionSize, type JobRequest, MAX_JOBS_PER_SUBMISSION, MAX_NOTE_LENGTH, type PoolStats, type SubmitOptions } from './service';
import type { LatencyPercentiles, ThroughputSample } from './statistics';
import { SEARCH_MAX } from './search';
import type { JobFilter } from './store';

export const JobKindEnum = builder.enumType('JobKind', {
  description: 'What a job computes; each kind has its own submit mutation, input and result type.',
  values: describedValues(JOB_KINDS, {
    PI: 'A Monte Carlo estimate of π (submitPiJob → PiResult).',
    FORECAST: 'A seeded portfolio forecast over a date range (submitForecastJob → ForecastResult).',
    CALC: 'A file of calculator expressions, one per line, evaluated in chunks on the pool (submitCalcJob → CalcBatchResult).',
    ANALYTICS: 'One statistic of the CDC dataset, kept as a durable answer (submitAnalyticsJob → AnalyticsResult).',
    DIAGNOSTIC: 'An admin’s test of the worker pool: succeed, sleep, throw, exit or hang (submitDiagnosticJobs → DiagnosticResult).',
  }),
});
/** Adds a kind from a kind file to JobKind (src/kinds/graphql.ts), before the schema is built. */
export function registerJobKindValue(value: JobKindName, description: string): void {
  JobKindEnum.updateConfig((config) => ({ ...config, values: { ...config.values, [value]: { value, description, pothosOptions: {} } } }));
}

export const JobStatusEnum = builder.enumType('JobStatus', {
  description: 'Where a job is in its life: QUEUED → RUNNING → SUCCEEDED, FAILED or CANCELLED (the last three are final).',
  values: describedValues(JOB_STATUSES, {
    QUEUED: 'Waiting in its queue: for a free slot, for its queue to be resumed, or for its retry time (`runAt`).',
    RUNNING: 'Claimed under a lease, by the worker pool or by a person who pulled it (`claimedBy`).',
    SUCCEEDED: 'Finished with a result (final).',
    FAILED: 'Out of attempts, or failed with an error no retry can fix; `error` says why (final; retryJob queues it again).',
    CANCELLED: 'Stopped by cancelJob before it finished (final; retryJob queues it again).',
    WAITING: 'A flow node waiting for its parents to finish; it becomes QUEUED when the last one does (see submitFlow).',
  }),
});

export const JobCountsType = builder.objectRef<JobCounts>('JobCounts').implement({
  description: 'Jobs by status. Users count their own jobs; managers and admins count all.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    queued: t.exposeInt('queued', { description: 'Waiting to run (QUEUED).' }),
    running: t.exposeInt('running', { description: 'Running now (RUNNING), on the pool or pulled by a person.' }),
    succeeded: t.exposeInt('succeeded', { description: 'Finished with a result (SUCCEEDED).' }),
    failed: t.exposeInt('failed', { description: 'Given up on (FAILED).' }),
    cancelled: t.exposeInt('cancelled', { description: 'Stopped by cancelJob (CANCELLED).' }),
    waiting: t.exposeInt('waiting', { description: 'Flow nodes waiting for their parents (WAITING).' }),
    total: t.exposeInt('total', { description: 'All of the above.' }),
  }),
});

/** The result type of each job kind; each domain's GraphQL module registers its own. */
const resultTypes = new Map<JobKindName, ObjectRef<any, any>>();

export function registerJobResult(kind: JobKindName, type: ObjectRef<any, any>): void {
  resultTypes.set(kind, type);
}

/** Which job a result belongs to, carried by the result value itself: the union resolves by its kind. */
const RESULT_OF = Symbol('the job of this result');
type ResultOf = Pick<Job, 'id' | 'kind'>;

/** The job a result value came from (for result fields that read the job's input). */
export const jobOfResult = (result: object): ResultOf | undefined => (result as { [RESULT_OF]?: ResultOf })[RESULT_OF];

const JobResultUnion = builder.unionType('JobResult', {
  description: 'A finished job’s result; its type follows the job’s kind.',
  types: () => [...resultTypes.values()],
  resolveType: (value) => resultTypes.get(jobOfResult(value as object)!.kind)!.name,
});

export const JobEventType = builder.drizzleObject('jobEvents', {
  name: 'JobEvent',
  description:
    "One entry of a job's history: queued, started, pulled, retry_scheduled, recovered, succeeded, failed, cancelled, retried, or note (a person's note: payload { note, by, username }).",
  authScopes: { loggedIn: true },
  fields: (t) => ({
    // Read from the row given, like Job's columns (see JobType): an exposed column carries a select, and an event a
    // jobEvents stream gives (not read by the planner) would be read again from the database, one query per event.
    type: t.string({ description: 'What happened: queued, started, pulled, retry_scheduled, recovered, succeeded, failed, cancelled or retried.', resolve: (event) => event.type }),
    payload: t.field({ type: 'JSON', nullable: true, description: 'Its details, e.g. the attempt and error of a failure, or who cancelled.', resolve: (event) => event.payload }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (event) => event.at }),
  }),
});

/**
 * Job's column fields read the row they are given, with no `select` of their own (the type selects whole rows, so the
 * planner loads every column anyway): declared with `t.expose…`, each would carry a one-column select, and a job a
 * mutation returns (which has every column already) would be read again from the database by the Drizzle plugin's
 * loader, one query per submitted job. Relations and `input` keep their selects: those are loaded when asked for.
 */
export const JobType = builder.drizzleObject('jobs', {
  name: 'Job',
  description: 'A durable unit of work. Users see their own jobs; managers, admins and secretaries see all.',
  // The owner, or a role that sees every job (so a refusal names those roles); the same rule as canSeeJob.
  authScopes: (job, ctx) => canSeeJob(ctx.user, job) || { readAll: true },
  fields: (t) => ({
    id: t.id({ description: 'Stable and unique; what `job`, `jobUpdated` and the job mutations take.', resolve: (job) => job.id }),
    kind: t.field({ type: JobKindEnum, description: 'What it computes.', resolve: (job) => job.kind }),
    status: t.field({ type: JobStatusEnum, description: 'Where it is in its life.', resolve: (job) => job.status }),
    queue: t.string({ description: 'The name of the queue it runs in.', resolve: (job) => job.queue }),
    owner: t.relation('owner', { nullable: true, description: 'Who submitted it; null once that account is deleted.' }),
    progress: t.float({ description: 'From 0 to 1.', resolve: (job) => job.progress }),
    input: t.field({
      type: 'JSON',
      description: 'The input as its kind’s schema checked it at submission (a calc file’s text included).',
      select: { with: { inputRow: { columns: { input: true } } } },
      resolve: (job) => job.inputRow.input,
    }),
    result: t.field({
      type: JobResultUnion,
      nullable: true,
      description: 'The result once SUCCEEDED, typed by kind; null before that and for failed or cancelled jobs.',
      resolve: (job) => {
        if (!job.result || typeof job.result !== 'object') return null;
        // A shallow copy that knows its job (its fields, a calc job's megabytes of output, are shared, not copied).
        return { ...job.result, [RESULT_OF]: { id: job.id, kind: job.kind } } as never;
      },
    }),
    error: t.string({ nullable: true, description: 'Why the last attempt failed; null when none has.', resolve: (job) => job.error }),
    attempts: t.int({ description: 'Attempts started so far.', resolve: (job) => job.attempts }),
    maxAttempts: t.int({ description: 'Attempts allowed before it FAILS for good.', resolve: (job) => job.maxAttempts }),
    priority: t.int({ description: 'Lower runs first.', resolve: (job) => job.priority }),
    claimedBy: t.string({ nullable: true, description: '`pool`, or `user:<id>` for a pulled job.', resolve: (job) => job.claimedBy }),
    runAt: t.field({ type: 'DateTime', description: 'Not started before this time: its `runAt`/`delayMs`, or a retry’s backoff.', resolve: (job) => job.runAt }),
    idempotencyKey: t.string({ nullable: true, description: 'The idempotency key it was submitted with; null when none.', resolve: (job) => job.idempotencyKey }),
    schedule: t.string({ nullable: true, description: 'The name of the schedule whose tick made it; null for a job submitted by hand.', resolve: (job) => job.schedule }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was submitted.', resolve: (job) => job.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, description: 'When its last attempt started; null until one has.', resolve: (job) => job.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, description: 'When it reached its final state; null until then.', resolve: (job) => job.finishedAt }),
    durationMs: t.float({
      nullable: true,
      description: 'From the start of the last attempt to the end.',
      resolve: (job) => (job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : null),
    }),
    events: t.relation('events', { description: 'Its history, oldest first.', query: { orderBy: { id: 'asc' } } }),
  }),
});

const ShutdownStatus = builder.simpleObject('ShutdownStatus', {
  description: 'What a requested shutdown is waiting for.',
  fields: (t) => ({
    draining: t.boolean({ description: 'Always true: new submissions are refused (UNAVAILABLE) from now on.' }),
    pendingJobs: t.int({ description: 'Jobs queued (in unpaused queues) or running when the drain began.' }),
  }),
});

/** Where and how a job runs: every kind's input has these, and so has SubmitJobsOptions (for every item). */
const runOptions = (t: any) => ({
  queue: t.string({ description: 'Default: `default`.' }),
  priority: t.int({ description: 'Lower runs first; -1000..1000, default 0.' }),
  maxAttempts: t.int({ description: '1..20, default 3.' }),
  timeoutSeconds: t.int({ description: 'Per attempt; 1..3600, default JOB_TIMEOUT_SECONDS.' }),
  runAt: t.field({ type: 'DateTime', description: 'Do not start before this instant (at most a year ahead; a past instant: now). Not with `delayMs`.' }),
  delayMs: t.int({ description: 'Do not start before now + delayMs (0 up to a year). Not with `runAt`.' }),
});

/** The common job options of every kind's input: run options, and the idempotency key (one per job, so not per call). */
export const jobOptions = (t: any) => ({
  ...runOptions(t),
  idempotencyKey: t.string({
    description:
      'Per owner, 1..200 characters: while the key is remembered (IDEMPOTENCY_TTL_SECONDS, default a day) a submission with the same key creates nothing and returns the job it first created.',
  }),
});

// The shared option fields are typed loosely by the spread above; the jobs service checks every value.
export const optionsOf = (input: Record<string, unknown>): SubmitOptions => ({
  queue: input.queue as string | null | undefined,
  priority: input.priority as number | null | undefined,
  maxAttempts: input.maxAttempts as number | null | undefined,
  timeoutSeconds: input.timeoutSeconds as number | null | undefined,
  runAt: input.runAt as Date | null | undefined,
  delayMs: input.delayMs as number | null | undefined,
  idempotencyKey: input.idempotencyKey as string | null | undefined,
});

/**
 * How one member of `JobSubmission` becomes a job request: the field that holds it (`pi`), its input type (the
 * same as its single submit's) and the conversion that submit makes (a calc file read, an analytics question checked).
 */
interface SubmissionVariant {
  field: string;
  type: InputObjectRef<any, any>;
  /** Default: the single submit's input. */
  description?: string;
  toRequest: (input: any, ctx: SignedInContext) => Omit<JobRequest, 'options'> | Promise<Omit<JobRequest, 'options'>>;
}

/** The members of `JobSubmission`; each domain's GraphQL module registers the kinds it offers. */
const submissionVariants: SubmissionVariant[] = [];

export function registerJobSubmission(variant: SubmissionVariant): void {
  submissionVariants.push(variant);
}

export const JobSubmission = builder.inputType('JobSubmission', {
  description: 'One job of a bulk submission: exactly one of its fields, the input its kind’s single submit takes.',
  isOneOf: true,
  fields: (t) =>
    Object.fromEntries(
        submissionVariants.map(({ field, type, description }) => [field, t.field({ type, description: description ?? `A ${field} job: the ${type.name} its single submit takes.` })]),
      ),
});

/** One JobSubmission as the request its kind's single submit would make (a calc file read, an analytics question checked). */
export function jobRequestOf(item: object, ctx: SignedInContext): JobRequest | Promise<JobRequest> {
  // @oneOf: GraphQL has already checked that exactly one field is set.
  const variant = submissionVariants.find(({ field }) => (item as Record<string, unknown>)[field] != null)!;
  const input = (item as Record<string, Record<string, unknown>>)[variant.field]!;
  const withOptions = (request: Omit<JobRequest, 'options'>): JobRequest => ({ ...request, options: optionsOf(input) });
  const request = variant.toRequest(input, ctx);
  return request instanceof Promise ? request.then(withOptions) : withOptions(request);
}

export const SubmitJobsOptions = builder.inputType('SubmitJobsOptions', {
  description: 'Options for every job of a bulk submission; an item’s own options win (its runAt or delayMs over both of these).',
  fields: (t) => runOptions(t),
});

/**
 * A bulk submission's cost follows its size: a tenth per job submitted, and a hundredth per job for each field
 * selected on the answer (so 10,000 jobs with a few fields selected fit the default limit of 5,000).
 */
const submissionComplexity = (args: { jobs: readonly unknown[] }) => ({
  field: 1 + Math.ceil(args.jobs.length / 10),
  multiplier: Math.max(args.jobs.length, 1) / 100,
});

/** The longest queue name a filter takes (as jobEvents' `queue`). */
const MAX_FILTER_QUEUE_LENGTH = 256;

/** The `jobs` arguments as the service's filter (the same for the page and its totalCount). */
const jobFilterOf = (args: { status?: JobStatus | null; statuses?: readonly JobStatus[] | null; kind?: JobKindName | null; queue?: string | null; owner?: string | null; search?: string | null }): JobFilter => ({
  search: args.search ?? undefined,
  status: args.status ?? undefined,
  statuses: args.statuses ? [...new Set(args.statuses)] : undefined,
  kind: args.kind ?? undefined,
  // Longer than any queue name matches nothing: refused rather than carried into every query.
  queue: args.queue != null ? checkLength(args.queue, MAX_FILTER_QUEUE_LENGTH, 'queue') : undefined,
  ownerId: args.owner ? parseId(args.owner, 'user') : undefined,
});

/**
 * A page of jobs: `jobs` and `Schedule.runs` answer with it. Declared once, apart from its fields, so both share the
 * one type; its totalCount is the Drizzle plugin's own (the extension lets a totalCount-only query skip reading rows).
 */
export const JobEdge = builder.edgeObject({ type: JobType, name: 'JobEdge', description: 'One job of a page, with its cursor.' });
export const JobConnection = builder.connectionObject(
  {
    type: JobType,
    name: 'JobConnection',
    description: 'A page of jobs (see `first`, `after`, `last`, `before`).',
    fields: (t) => ({
      totalCount: t.int({
        description: 'Every job the filter matches, over all pages (a USER’s own).',
        extensions: { pothosDrizzleTotalCount: true },
        resolve: (connection) => (connection as unknown as { totalCount: () => Promise<number> }).totalCount(),
      }),
    }),
  },
  JobEdge,
);

builder.queryFields((t) => ({
  job: t.withAuth({ loggedIn: true }).drizzleField({
    type: 'jobs',
    nullable: true,
    description: 'One job by id; null when it does not exist or is another user’s (users see only their own).',
    args: { id: t.arg.id({ required: true, description: 'The job’s id, as `Job.id` gives it.' }) },
    resolve: (query, _root, { id }, ctx) => ctx.jobs.findSelected(ctx.user, parseId(id, 'job'), query),
  }),
  jobs: t.withAuth({ loggedIn: true }).drizzleConnection(
    {
      type: 'jobs',
      description: 'Jobs, newest first. Users see only their own.',
      complexity: connectionComplexity,
      args: {
        status: t.arg({ type: JobStatusEnum, description: 'Only jobs in this state.' }),
        statuses: t.arg({ type: [JobStatusEnum], description: 'Only jobs in one of these states (`[FAILED, CANCELLED]`: the dead letters); with `status`, both must match.' }),
        kind: t.arg({ type: JobKindEnum, description: 'Only jobs of this kind.' }),
        queue: t.arg.string({ description: 'Only jobs of the queue with this name.' }),
        owner: t.arg.id({ description: 'A user id (managers and admins).' }),
        search: t.arg.string({
          description: `Text to look for (at most ${SEARCH_MAX} characters): a job id (\`42\` or \`#42\`), a kind or status by name, or part of the queue, the owner’s username or the input JSON (case-insensitive). Combines with the other filters.`,
        }),
      },
      // Asked alone, the count skips `resolve`: the page arguments are still checked, as with the page.
      totalCount: (_root, args, ctx) => {
        checkPaging(args);
        return ctx.jobs.countMatching(ctx.user!, jobFilterOf(args));
      },
      resolve: (query, _root, args, ctx) => {
        checkPaging(args);
        return ctx.jobs.list(ctx.user, jobFilterOf(args), query);
      },
    },
    // The shared refs, typed for the builder's context (withAuth narrows this field's): the same types at run time.
    JobConnection as never,
    JobEdge as never,
  ),
  jobCounts: t.withAuth({ loggedIn: true }).field({
    type: JobCountsType,
    description: 'How many jobs are in each state: the caller’s own for users, everyone’s for managers and admins.',
    args: { queue: t.arg.string({ description: 'Count only this queue’s jobs; every queue when left out.' }) },
    resolve: (_root, { queue }, ctx) => ctx.jobs.counts(ctx.user, queue),
  }),
}));

builder.mutationFields((t) => {
  const signedIn = t.withAuth({ loggedIn: true });
  const manager = t.withAuth({ manager: true });
  return {
    submitJobs: signedIn.field({
      type: [JobType],
      description: `Submits up to ${MAX_JOBS_PER_SUBMISSION.toLocaleString('en-US')} jobs of any kinds in one transaction: all or none. An error about one job names it: \`jobs[3]: …\` with \`extensions.index\`. Send the list as a variable. Cost: 1 + jobs/10, plus jobs/100 per field selected on the answer.`,
      args: {
        jobs: t.arg({ type: [JobSubmission], required: true, description: 'The jobs, each `{ <kind>: <its input> }`; submitted in this order.' }),
        options: t.arg({ type: SubmitJobsOptions, description: 'Queue, priority, attempts and timeout for every job that does not set its own.' }),
      },
      complexity: submissionComplexity,
      resolve: async (_root, { jobs, options }, ctx) => {
        // Refused before any item is converted, so an oversized call costs nothing.
        checkSubmissionSize(jobs.length);
        let pending = false;
        const requests = jobs.map((item, index) => {
          try {
            const request = jobRequestOf(item, ctx);
            if (!(request instanceof Promise)) return request;
            pending = true;
            return request.catch((error) => Promise.reject(atIndex(index, error)));
          } catch (error) {
            throw atIndex(index, error);
          }
        });
        // Only a calc file makes a conversion asynchronous; most calls need no await per item.
        const ready = pending ? await Promise.all(requests) : (requests as JobRequest[]);
        return ctx.jobs.submitJobs(ctx.user, ready, options ? optionsOf(options) : {});
      },
    }),
    pullJob: manager.field({
      type: JobType,
      nullable: true,
      description: 'Claims the oldest queued job of a queue for the caller; null when the queue is empty.',
      args: { queue: t.arg.string({ required: true, description: 'The queue to take a job from (paused or not).' }) },
      resolve: (_root, { queue }, ctx) => ctx.jobs.pull(ctx.user, queue),
    }),
    completeJob: manager.field({
      type: JobType,
      description: 'Completes a job the caller pulled, with a result of its kind’s shape.',
      args: {
        id: t.arg.id({ required: true, description: 'A job the caller pulled (pullJob) and still holds.' }),
        result: t.arg({ type: 'JSON', required: true, description: 'The result, in the shape of the job kind’s result type (checked).' }),
      },
      resolve: (_root, { id, result }, ctx) => ctx.jobs.complete(ctx.user, parseId(id, 'job'), result),
    }),
    cancelJob: signedIn.field({
      type: JobType,
      description: 'Cancels a queued or running job (a running one’s worker is stopped); users may cancel only their own. A job already final is a CONFLICT.',
      args: { id: t.arg.id({ required: true, description: 'The job to cancel.' }) },
      resolve: (_root, { id }, ctx) => ctx.jobs.cancel(ctx.user, parseId(id, 'job')),
    }),
    retryJob: signedIn.field({
      type: JobType,
      description: 'Queues a FAILED or CANCELLED job again with fresh attempts, keeping its input and history; any other state is a CONFLICT.',
      args: { id: t.arg.id({ required: true, description: 'The failed or cancelled job to run again.' }) },
      resolve: (_root, { id }, ctx) => ctx.jobs.retry(ctx.user, parseId(id, 'job')),
    }),
    addJobNote: signedIn.drizzleField({
      type: 'jobs',
      description: `Adds a free-text note (1 to ${MAX_NOTE_LENGTH.toLocaleString('en-US')} characters, trimmed) to a job's history as a \`note\` event with its author, like the source's \`updateJobStatus(id, note)\`; the job's status does not change. Its owner, managers and admins may.`,
      args: {
        id: t.arg.id({ required: true, description: 'The job.' }),
        note: t.arg.string({ required: true, description: `The text, at most ${MAX_NOTE_LENGTH.toLocaleString('en-US')} characters.` }),
      },
      resolve: async (query, _root, { id, note }, ctx) => {
        const jobId = parseId(id, 'job');
        await ctx.jobs.addNote(ctx.user, jobId, note);
        // Read back as selected: the answer's `events` show the new note (NOT_FOUND if it was deleted meanwhile).
        return (await ctx.jobs.findSelected(ctx.user, jobId, query)) ?? ctx.jobs.get(ctx.user, jobId);
      },
    }),
    deleteJob: signedIn.boolean({
      description: 'Deletes a job with its input, result and events; users may delete only their own. A RUNNING job must be cancelled first (CONFLICT).',
      args: { id: t.arg.id({ required: true, description: 'The job to delete.' }) },
      resolve: (_root, { id }, ctx) => ctx.jobs.delete(ctx.user, parseId(id, 'job')),
    }),
    shutdown: t.field({
      type: ShutdownStatus,
      authScopes: { admin: true },
      description: 'Stops accepting jobs, finishes the queued and running ones (up to SHUTDOWN_TIMEOUT_SECONDS), then exits.',
      resolve: async (_root, _args, ctx) => {
        const pendingJobs = await ctx.jobs.pendingCount();
        ctx.requestShutdown();
        return { draining: true, pendingJobs };
      },
    }),
  };
});

const JobFilterInput = builder.inputType('JobFilter', {
  description: 'Which jobs a bulk action takes: those matching every field given (none given: every job the caller may act on). A USER’s filter only ever matches the USER’s own jobs.',
  fields: (t) => ({
    ids: t.idList({ description: 'Only these jobs (at most 10,000 ids).' }),
    queue: t.string({ description: 'Only jobs of the queue with this name.' }),
    status: t.field({ type: JobStatusEnum, description: 'Only jobs in this state (among those the action takes).' }),
    kind: t.field({ type: JobKindEnum, description: 'Only jobs of this kind.' }),
    ownerId: t.id({ description: 'Only this user’s jobs (managers and admins; a USER’s filter is always their own).' }),
    createdBefore: t.field({ type: 'DateTime', description: 'Only jobs submitted before this instant.' }),
    createdAfter: t.field({ type: 'DateTime', description: 'Only jobs submitted at or after this instant.' }),
  }),
});

/** The most ids a JobFilter names. */
const MAX_FILTER_IDS = 10_000;

/** A JobFilter as the jobs service takes it, its ids and owner checked. */
function bulkFilterOf(filter: {
  ids?: readonly (string | number)[] | null;
  queue?: string | null;
  status?: JobStatus | null;
  kind?: JobKindName | null;
  ownerId?: string | number | null;
  createdBefore?: Date | null;
  createdAfter?: Date | null;
}): JobFilter {
  if (filter.ids && filter.ids.length > MAX_FILTER_IDS) throw badInput(`filter.ids takes at most ${MAX_FILTER_IDS.toLocaleString('en-US')} ids`, { field: 'ids' });
  return {
    ids: filter.ids ? filter.ids.map((id) => parseId(String(id), 'job')) : undefined,
    queue: filter.queue != null ? checkLength(filter.queue, MAX_FILTER_QUEUE_LENGTH, 'queue') : undefined,
    status: filter.status ?? undefined,
    kind: filter.kind ?? undefined,
    ownerId: filter.ownerId != null ? parseId(String(filter.ownerId), 'user') : undefined,
    createdBefore: filter.createdBefore?.getTime(),
    createdAfter: filter.createdAfter?.getTime(),
  };
}

builder.mutationFields((t) => {
  const signedIn = t.withAuth({ loggedIn: true });
  const filterArg = { filter: t.arg({ type: JobFilterInput, required: true, description: 'Which jobs; a USER’s filter matches only their own.' }) };
  return {
    cancelJobs: signedIn.int({
      description: 'Cancels every QUEUED or RUNNING job matching the filter (running ones are stopped on whichever instance runs them); how many were cancelled. In batches of 5,000, oldest first.',
      args: filterArg,
      resolve: (_root, { filter }, ctx) => ctx.jobs.cancelMatching(ctx.user, bulkFilterOf(filter)),
    }),
    retryJobs: signedIn.int({
      description: 'Queues again, with fresh attempts, every FAILED or CANCELLED job matching the filter (the dead letters) that is not a flow node (as retryJob); how many.',
      args: filterArg,
      resolve: (_root, { filter }, ctx) => ctx.jobs.retryMatching(ctx.user, bulkFilterOf(filter)),
    }),
    deleteJobs: signedIn.int({
      description: 'Deletes every finished (SUCCEEDED, FAILED or CANCELLED) job matching the filter, with its input, result and events; how many.',
      args: filterArg,
      resolve: (_root, { filter }, ctx) => ctx.jobs.deleteMatching(ctx.user, bulkFilterOf(filter)),
    }),
  };
});

builder.subscriptionFields((t) => ({
  jobUpdated: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'The job now, then every change of status or progress; ends after its final state.',
    args: { id: t.arg.id({ required: true, description: 'The job to follow; it must be one the caller may see.' }) },
    subscribe: (_root, { id }, ctx) => ctx.jobs.watch(ctx.user, parseId(id, 'job')),
    resolve: (job) => job,
    // Subscribers who see the same jobs share one execution per change; the stream begins with the job as it is.
    extensions: fanOutExtension({ audience: jobVisibility, replaysLatest: true }),
  }),
  jobCompleted: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Every job that finishes (succeeded, failed or cancelled) that the caller may see.',
    args: {
      queue: t.arg.string({ description: 'Only jobs of the queue with this name.' }),
      kind: t.arg({ type: JobKindEnum, description: 'Only jobs of this kind.' }),
    },
    subscribe: (_root, { queue, kind }, ctx) => ctx.jobs.completions(ctx.user, { queue, kind }),
    resolve: (job) => job,
    extensions: fanOutExtension({ audience: jobVisibility }),
  }),
}));

const LatencyPercentilesType = builder.objectRef<LatencyPercentiles>('LatencyPercentiles').implement({
  description: 'Percentiles (nearest rank) of a duration in milliseconds over the jobs finished in a recent window; null when there were none.',
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Jobs finished in the window (those that started).' }),
    p50: t.exposeFloat('p50', { nullable: true, description: 'The median, in milliseconds: half the jobs took no longer.' }),
    p90: t.exposeFloat('p90', { nullable: true, description: 'The 90th percentile, in milliseconds.' }),
    p99: t.exposeFloat('p99', { nullable: true, description: 'The 99th percentile, in milliseconds: the slow tail.' }),
    max: t.exposeFloat('max', { nullable: true, description: 'The slowest job of the window, in milliseconds.' }),
  }),
});

const ThroughputSampleType = builder.objectRef<ThroughputSample>('ThroughputSample').implement({
  description: 'Jobs finished per second during one interval.',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime', description: 'The start of the interval.' }),
    jobsPerSecond: t.exposeFloat('jobsPerSecond', { description: 'Jobs that reached a final state in the interval, divided by its length in seconds.' }),
  }),
});

/** How far back the statistics reach (see src/jobs/statistics.ts). */
const MINUTES_ARG = { defaultValue: 5, description: 'How many recent minutes, 1..10.' };
const minutesOf = (minutes: number | null | undefined) => Math.min(10, Math.max(1, minutes ?? 5));

const PoolStatsType = builder.objectRef<PoolStats>('PoolStats').implement({
  description: 'The worker pool now, and the jobs this server finished over the last minutes (kept in memory: a restart starts again).',
  authScopes: { manager: true },
  fields: (t) => ({
    size: t.exposeInt('size', { description: 'Workers in the pool (WORKERS).' }),
    busy: t.exposeInt('busy', { description: 'Workers running a task now.' }),
    tasksRunning: t.exposeInt('tasksRunning', { description: 'Tasks sent to workers (each holds up to 8).' }),
    tasksQueued: t.exposeInt('tasksQueued', { description: 'Tasks waiting for a worker.' }),
    jobsPerSecond: t.exposeFloat('jobsPerSecond', { description: 'Jobs finished per second over the last minute.' }),
    throughput: t.field({
      type: [ThroughputSampleType],
      description: 'Jobs finished per second in consecutive intervals, oldest first; the last one ends now.',
      args: { minutes: t.arg.int(MINUTES_ARG), intervalSeconds: t.arg.int({ defaultValue: 5, description: 'Length of each interval, 1..60 seconds.' }) },
      resolve: (stats, { minutes, intervalSeconds }) => stats.throughput(minutesOf(minutes), Math.min(60, Math.max(1, intervalSeconds ?? 5))),
    }),
    runMs: t.field({
      type: LatencyPercentilesType,
      description: 'How long finished jobs ran: from the start of their last attempt to the end.',
      args: { minutes: t.arg.int(MINUTES_ARG) },
      resolve: (stats, { minutes }) => stats.runMs(minutesOf(minutes)),
    }),
    waitMs: t.field({
      type: LatencyPercentilesType,
      description: 'How long finished jobs waited: from submission to the start of their last attempt.',
      args: { minutes: t.arg.int(MINUTES_ARG) },
      resolve: (stats, { minutes }) => stats.waitMs(minutesOf(minutes)),
    }),
  }),
});

builder.queryFields((t) => ({
  workerPool: t.field({
    type: PoolStatsType,
    authScopes: { manager: true },
    description: 'The worker pool and recent throughput and latencies (managers and admins).',
    resolve: (_root, _args, ctx) => ctx.jobs.poolStats(),
  }),
}));

builder.subscriptionFields((t) => ({
  workerPoolUpdates: t.field({
    type: PoolStatsType,
    authScopes: { manager: true },
    description: 'The worker pool statistics now, then every `intervalMs` (250..60000) — a live chart (managers and admins).',
    args: { intervalMs: t.arg.int({ defaultValue: 1000, description: 'Time between two samples, 250..60000 ms.' }) },
    subscribe: (_root, { intervalMs }, ctx) => ctx.jobs.poolStatsEvery(intervalMs ?? 1000),
    resolve: (stats: PoolStats) => stats,
  }),
}));
