import type { ObjectRef } from '@pothos/core';
import { pipe, filter, Repeater } from 'graphql-yoga';
import { DIAGNOSTIC_BEHAVIORS } from '../compute/diagnostic';
import { FINAL_STATUSES, JOB_KINDS, JOB_STATUSES, type JobKind } from '../db/schema';
import { badInput } from '../errors';
import { builder } from '../graphql/builder';
import { connectionComplexity } from '../graphql/limits';
import type { GraphQLContext } from '../graphql/context';
import { checkCursors, parseId } from '../graphql/ids';
import { JobCountsType } from '../queues/graphql';
import { requireUser } from '../users/graphql';
import { canSeeJob, type Job, type SubmitOptions } from './service';

export const JobKindEnum = builder.enumType('JobKind', { values: JOB_KINDS });
export const JobStatusEnum = builder.enumType('JobStatus', { values: JOB_STATUSES });
const DiagnosticBehaviorEnum = builder.enumType('DiagnosticBehavior', { values: DIAGNOSTIC_BEHAVIORS });

const DiagnosticResultType = builder.simpleObject('DiagnosticResult', {
  fields: (t) => ({ behavior: t.string(), elapsedMs: t.float() }),
});

/** The result type of each job kind; each domain module registers its own (see registerJobResult). */
const resultTypes = new Map<JobKind, ObjectRef<any, any>>();
/** The job a stored result belongs to: the union picks its member by kind, and some result fields read the input. */
const resultJobs = new WeakMap<object, Job>();

export function registerJobResult(kind: JobKind, type: ObjectRef<any, any>): void {
  resultTypes.set(kind, type);
}
/** The job whose result this is (set when Job.result resolves). */
export const jobOfResult = (result: object): Job | undefined => resultJobs.get(result);

registerJobResult('DIAGNOSTIC', DiagnosticResultType);

const JobResultUnion = builder.unionType('JobResult', {
  description: 'A finished job’s result; its type follows the job’s kind.',
  types: () => [...resultTypes.values()],
  resolveType: (value) => resultTypes.get(resultJobs.get(value as object)!.kind)!.name,
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

const canSee = (job: Job, ctx: GraphQLContext) => canSeeJob(ctx.user, job);

export const JobType = builder.drizzleObject('jobs', {
  name: 'Job',
  description: 'A durable unit of work. Users see their own jobs; managers and admins see all.',
  authScopes: (job, ctx) => canSee(job as unknown as Job, ctx),
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: JobKindEnum }),
    status: t.expose('status', { type: JobStatusEnum }),
    queue: t.exposeString('queue'),
    owner: t.relation('owner', { nullable: true }),
    progress: t.exposeFloat('progress', { description: 'From 0 to 1.' }),
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
        resultJobs.set(job.result as object, job as unknown as Job);
        return job.result as never;
      },
    }),
    error: t.exposeString('error', { nullable: true }),
    attempts: t.exposeInt('attempts'),
    maxAttempts: t.exposeInt('maxAttempts'),
    priority: t.exposeInt('priority', { description: 'Lower runs first.' }),
    claimedBy: t.exposeString('claimedBy', { nullable: true, description: '`pool`, or `user:<id>` for a pulled job.' }),
    runAt: t.expose('runAt', { type: 'DateTime', description: 'Not before this time (retry backoff).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
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

const DiagnosticJobInput = builder.inputType('DiagnosticJobInput', {
  description: "Jobs that exercise the pool itself: succeed, sleep, throw, kill their worker, or hang until their timeout.",
  fields: (t) => ({
    behavior: t.field({ type: DiagnosticBehaviorEnum, required: true }),
    durationMs: t.int({ defaultValue: 0 }),
    ...jobOptions(t),
  }),
});

// The shared option fields are typed loosely by the spread above; the jobs service checks every value.
export const optionsOf = (input: Record<string, unknown>): SubmitOptions => ({
  queue: input.queue as string | null | undefined,
  priority: input.priority as number | null | undefined,
  maxAttempts: input.maxAttempts as number | null | undefined,
  timeoutSeconds: input.timeoutSeconds as number | null | undefined,
});

builder.queryFields((t) => ({
  job: t.drizzleField({
    type: 'jobs',
    nullable: true,
    authScopes: { loggedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const job = await ctx.app.db.query.jobs.findFirst(query({ where: { id: parseId(id, 'job') } }));
      return job && canSee(job as unknown as Job, ctx) ? job : null;
    },
  }),
  jobs: t.drizzleConnection(
    {
      type: 'jobs',
      authScopes: { loggedIn: true },
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
        const user = requireUser(ctx);
        const ownerId = user.role === 'USER' ? user.id : args.owner ? parseId(args.owner, 'user') : undefined;
        return ctx.app.db.query.jobs.findMany(
          query({
            where: {
              ...(args.status ? { status: args.status } : {}),
              ...(args.kind ? { kind: args.kind } : {}),
              ...(args.queue ? { queue: args.queue } : {}),
              ...(ownerId ? { ownerId } : {}),
            },
            orderBy: { id: 'desc' },
          }),
        );
      },
    },
    { name: 'JobConnection' },
    { name: 'JobEdge' },
  ),
  jobCounts: t.field({
    type: JobCountsType,
    authScopes: { loggedIn: true },
    args: { queue: t.arg.string() },
    resolve: (_root, { queue }, ctx) => ctx.app.jobs.counts(requireUser(ctx), queue),
  }),
}));

builder.mutationFields((t) => ({
  submitDiagnosticJobs: t.field({
    type: [JobType],
    authScopes: { admin: true },
    description: 'Admin: submits `count` diagnostic jobs at once (to check the pool, or load it).',
    args: { input: t.arg({ type: DiagnosticJobInput, required: true }), count: t.arg.int({ defaultValue: 1 }) },
    resolve: (_root, { input, count }, ctx) => {
      const n = count ?? 1;
      if (!Number.isInteger(n) || n < 1 || n > 10_000) throw badInput('count must be an integer from 1 to 10000', { field: 'count' });
      return ctx.app.jobs.submitMany(
        requireUser(ctx),
        'DIAGNOSTIC',
        Array.from({ length: n }, () => ({ behavior: input.behavior, durationMs: input.durationMs ?? 0 })),
        optionsOf(input),
      );
    },
  }),
  pullJob: t.field({
    type: JobType,
    nullable: true,
    authScopes: { manager: true },
    description: 'Claims the oldest queued job of a queue for the caller; null when the queue is empty.',
    args: { queue: t.arg.string({ required: true }) },
    resolve: (_root, { queue }, ctx) => ctx.app.jobs.pull(requireUser(ctx), queue),
  }),
  completeJob: t.field({
    type: JobType,
    authScopes: { manager: true },
    description: 'Completes a job the caller pulled, with a result of its kind’s shape.',
    args: { id: t.arg.id({ required: true }), result: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, { id, result }, ctx) => ctx.app.jobs.complete(requireUser(ctx), parseId(id, 'job'), result),
  }),
  cancelJob: t.field({
    type: JobType,
    authScopes: { loggedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.app.jobs.cancel(requireUser(ctx), parseId(id, 'job')),
  }),
  retryJob: t.field({
    type: JobType,
    authScopes: { loggedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.app.jobs.retry(requireUser(ctx), parseId(id, 'job')),
  }),
  deleteJob: t.boolean({
    authScopes: { loggedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.app.jobs.delete(requireUser(ctx), parseId(id, 'job')),
  }),
  shutdown: t.field({
    type: ShutdownStatus,
    authScopes: { admin: true },
    description: 'Stops accepting jobs, finishes the queued and running ones (up to SHUTDOWN_TIMEOUT_SECONDS), then exits.',
    resolve: (_root, _args, ctx) => {
      const pendingJobs = ctx.app.jobs.pendingCount();
      ctx.app.requestShutdown();
      return { draining: true, pendingJobs };
    },
  }),
}));

builder.subscriptionFields((t) => ({
  jobUpdated: t.field({
    type: JobType,
    authScopes: { loggedIn: true },
    description: 'The job now, then every change of status or progress; ends after its final state.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => {
      const user = requireUser(ctx);
      const jobId = parseId(id, 'job');
      // Subscribe before reading the current state, so no change falls between the two.
      const updates = ctx.app.events.subscribe('jobUpdated', jobId);
      const current = ctx.app.jobs.get(user, jobId);
      return new Repeater<Job>(async (push, stop) => {
        const iterator = updates[Symbol.asyncIterator]();
        stop.then(() => iterator.return?.());
        await push(current);
        if (FINAL_STATUSES.includes(current.status)) return stop();
        for (;;) {
          const next = await Promise.race([iterator.next(), stop.then(() => ({ done: true as const, value: undefined }))]);
          if (next.done) break;
          await push(next.value);
          if (FINAL_STATUSES.includes(next.value.status)) break;
        }
        stop();
      });
    },
    resolve: (job) => job,
  }),
  jobCompleted: t.field({
    type: JobType,
    authScopes: { loggedIn: true },
    description: 'Every job that finishes (succeeded, failed or cancelled) that the caller may see.',
    args: { queue: t.arg.string(), kind: t.arg({ type: JobKindEnum }) },
    subscribe: (_root, args, ctx) => {
      requireUser(ctx);
      return pipe(
        ctx.app.events.subscribe('jobCompleted'),
        filter((job: Job) => canSee(job, ctx) && (!args.queue || job.queue === args.queue) && (!args.kind || job.kind === args.kind)),
      );
    },
    resolve: (job) => job,
  }),
}));
