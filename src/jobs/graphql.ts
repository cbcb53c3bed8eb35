import type { InputObjectRef, ObjectRef } from '@pothos/core';
import { JOB_KINDS, JOB_STATUSES } from '../db/schema';
import { builder } from '../graphql/builder';
import type { SignedInContext } from '../graphql/context';
import { connectionComplexity } from '../graphql/limits';
import { checkCursors, parseId } from '../graphql/ids';
import { canSeeJob, type Job, type JobCounts, type JobKindName } from './model';
import { atIndex, checkSubmissionSize, type JobRequest, MAX_JOBS_PER_SUBMISSION, type SubmitOptions } from './service';

export const JobKindEnum = builder.enumType('JobKind', { values: JOB_KINDS });
export const JobStatusEnum = builder.enumType('JobStatus', { values: JOB_STATUSES });

export const JobCountsType = builder.objectRef<JobCounts>('JobCounts').implement({
  description: 'Jobs by status. Users count their own jobs; managers and admins count all.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    queued: t.exposeInt('queued'),
    running: t.exposeInt('running'),
    succeeded: t.exposeInt('succeeded'),
    failed: t.exposeInt('failed'),
    cancelled: t.exposeInt('cancelled'),
    total: t.exposeInt('total'),
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

const JobEventType = builder.drizzleObject('jobEvents', {
  name: 'JobEvent',
  description: "One entry of a job's history: queued, started, pulled, retry_scheduled, recovered, succeeded, failed, cancelled, retried.",
  authScopes: { loggedIn: true },
  fields: (t) => ({
    type: t.exposeString('type'),
    payload: t.expose('payload', { type: 'JSON', nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
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
  description: 'A durable unit of work. Users see their own jobs; managers and admins see all.',
  authScopes: (job, ctx) => canSeeJob(ctx.user, job),
  fields: (t) => ({
    id: t.id({ resolve: (job) => job.id }),
    kind: t.field({ type: JobKindEnum, resolve: (job) => job.kind }),
    status: t.field({ type: JobStatusEnum, resolve: (job) => job.status }),
    queue: t.string({ resolve: (job) => job.queue }),
    owner: t.relation('owner', { nullable: true }),
    progress: t.float({ description: 'From 0 to 1.', resolve: (job) => job.progress }),
    input: t.field({
      type: 'JSON',
      select: { with: { inputRow: { columns: { input: true } } } },
      resolve: (job) => job.inputRow.input,
    }),
    result: t.field({
      type: JobResultUnion,
      nullable: true,
      resolve: (job) => {
        if (!job.result || typeof job.result !== 'object') return null;
        // A shallow copy that knows its job (its fields, a calc job's megabytes of output, are shared, not copied).
        return { ...job.result, [RESULT_OF]: { id: job.id, kind: job.kind } } as never;
      },
    }),
    error: t.string({ nullable: true, resolve: (job) => job.error }),
    attempts: t.int({ resolve: (job) => job.attempts }),
    maxAttempts: t.int({ resolve: (job) => job.maxAttempts }),
    priority: t.int({ description: 'Lower runs first.', resolve: (job) => job.priority }),
    claimedBy: t.string({ nullable: true, description: '`pool`, or `user:<id>` for a pulled job.', resolve: (job) => job.claimedBy }),
    runAt: t.field({ type: 'DateTime', description: 'Not before this time (retry backoff).', resolve: (job) => job.runAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (job) => job.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (job) => job.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (job) => job.finishedAt }),
    durationMs: t.float({
      nullable: true,
      description: 'From the start of the last attempt to the end.',
      resolve: (job) => (job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : null),
    }),
    events: t.relation('events', { query: { orderBy: { id: 'asc' } } }),
  }),
});

const ShutdownStatus = builder.simpleObject('ShutdownStatus', {
  fields: (t) => ({
    draining: t.boolean(),
    pendingJobs: t.int({ description: 'Jobs queued (in unpaused queues) or running when the drain began.' }),
  }),
});

export const jobOptions = (t: any) => ({
  queue: t.string({ description: 'Default: `default`.' }),
  priority: t.int({ description: 'Lower runs first; -1000..1000, default 0.' }),
  maxAttempts: t.int({ description: '1..20, default 3.' }),
  timeoutSeconds: t.int({ description: 'Per attempt; 1..3600, default JOB_TIMEOUT_SECONDS.' }),
});

// The shared option fields are typed loosely by the spread above; the jobs service checks every value.
export const optionsOf = (input: Record<string, unknown>): SubmitOptions => ({
  queue: input.queue as string | null | undefined,
  priority: input.priority as number | null | undefined,
  maxAttempts: input.maxAttempts as number | null | undefined,
  timeoutSeconds: input.timeoutSeconds as number | null | undefined,
});

/**
 * How one member of `JobSubmission` becomes a job request: the field that holds it (`pi`), its input type (the
 * same as its single submit's) and the conversion that submit makes (a calc file read, an analytics question checked).
 */
interface SubmissionVariant {
  field: string;
  type: InputObjectRef<any, any>;
  toRequest: (input: any, ctx: SignedInContext) => Omit<JobRequest, 'options'> | Promise<Omit<JobRequest, 'options'>>;
}

/** The members of `JobSubmission`; each domain's GraphQL module registers the kinds it offers. */
const submissionVariants: SubmissionVariant[] = [];

export function registerJobSubmission(variant: SubmissionVariant): void {
  submissionVariants.push(variant);
}

const JobSubmission = builder.inputType('JobSubmission', {
  description: 'One job of a bulk submission: exactly one of its fields, the input its kind’s single submit takes.',
  isOneOf: true,
  fields: (t) => Object.fromEntries(submissionVariants.map(({ field, type }) => [field, t.field({ type })])),
});

const SubmitJobsOptions = builder.inputType('SubmitJobsOptions', {
  description: 'Options for every job of a bulk submission; an item’s own options win.',
  fields: (t) => jobOptions(t),
});

/**
 * A bulk submission's cost follows its size: a tenth per job submitted, and a hundredth per job for each field
 * selected on the answer (so 10,000 jobs with a few fields selected fit the default limit of 5,000).
 */
const submissionComplexity = (args: { jobs: readonly unknown[] }) => ({
  field: 1 + Math.ceil(args.jobs.length / 10),
  multiplier: Math.max(args.jobs.length, 1) / 100,
});

builder.queryFields((t) => ({
  job: t.withAuth({ loggedIn: true }).drizzleField({
    type: 'jobs',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) => ctx.jobs.findSelected(ctx.user, parseId(id, 'job'), query),
  }),
  jobs: t.withAuth({ loggedIn: true }).drizzleConnection(
    {
      type: 'jobs',
      description: 'Jobs, newest first. Users see only their own.',
      complexity: connectionComplexity,
      args: {
        status: t.arg({ type: JobStatusEnum }),
        kind: t.arg({ type: JobKindEnum }),
        queue: t.arg.string(),
        owner: t.arg.id({ description: 'A user id (managers and admins).' }),
      },
      resolve: (query, _root, args, ctx) => {
        checkCursors(args);
        const filter = { status: args.status ?? undefined, kind: args.kind ?? undefined, queue: args.queue ?? undefined };
        return ctx.jobs.list(ctx.user, { ...filter, ownerId: args.owner ? parseId(args.owner, 'user') : undefined }, query);
      },
    },
    { name: 'JobConnection' },
    { name: 'JobEdge' },
  ),
  jobCounts: t.withAuth({ loggedIn: true }).field({
    type: JobCountsType,
    args: { queue: t.arg.string() },
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
        jobs: t.arg({ type: [JobSubmission], required: true }),
        options: t.arg({ type: SubmitJobsOptions }),
      },
      complexity: submissionComplexity,
      resolve: async (_root, { jobs, options }, ctx) => {
        // Refused before any item is converted, so an oversized call costs nothing.
        checkSubmissionSize(jobs.length);
        let pending = false;
        const requests = jobs.map((item, index) => {
          // @oneOf: GraphQL has already checked that exactly one field is set.
          const variant = submissionVariants.find(({ field }) => (item as Record<string, unknown>)[field] != null)!;
          const input = (item as Record<string, Record<string, unknown>>)[variant.field]!;
          const withOptions = (request: Omit<JobRequest, 'options'>): JobRequest => ({ ...request, options: optionsOf(input) });
          try {
            const request = variant.toRequest(input, ctx);
            if (!(request instanceof Promise)) return withOptions(request);
            pending = true;
            return request.then(withOptions, (error) => Promise.reject(atIndex(index, error)));
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
      args: { queue: t.arg.string({ required: true }) },
      resolve: (_root, { queue }, ctx) => ctx.jobs.pull(ctx.user, queue),
    }),
    completeJob: manager.field({
      type: JobType,
      description: 'Completes a job the caller pulled, with a result of its kind’s shape.',
      args: { id: t.arg.id({ required: true }), result: t.arg({ type: 'JSON', required: true }) },
      resolve: (_root, { id, result }, ctx) => ctx.jobs.complete(ctx.user, parseId(id, 'job'), result),
    }),
    cancelJob: signedIn.field({
      type: JobType,
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, ctx) => ctx.jobs.cancel(ctx.user, parseId(id, 'job')),
    }),
    retryJob: signedIn.field({
      type: JobType,
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, ctx) => ctx.jobs.retry(ctx.user, parseId(id, 'job')),
    }),
    deleteJob: signedIn.boolean({
      args: { id: t.arg.id({ required: true }) },
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

builder.subscriptionFields((t) => ({
  jobUpdated: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'The job now, then every change of status or progress; ends after its final state.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => ctx.jobs.watch(ctx.user, parseId(id, 'job')),
    resolve: (job) => job,
  }),
  jobCompleted: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Every job that finishes (succeeded, failed or cancelled) that the caller may see.',
    args: { queue: t.arg.string(), kind: t.arg({ type: JobKindEnum }) },
    subscribe: (_root, { queue, kind }, ctx) => ctx.jobs.completions(ctx.user, { queue, kind }),
    resolve: (job) => job,
  }),
}));
