import { badInput } from '../errors';
import { builder, describedValues } from '../graphql/builder';
import { JobCountsType } from '../jobs/graphql';
import { QUEUE_ORDERS } from '../jobs/model';
import type { Queue } from './service';

const RateLimitType = builder.objectRef<{ jobs: number; perSeconds: number }>('RateLimit').implement({
  description: 'At most `jobs` starts per sliding `perSeconds`, all instances together.',
  fields: (t) => ({
    jobs: t.exposeInt('jobs', { description: 'Starts allowed in any window of `perSeconds`.' }),
    perSeconds: t.exposeInt('perSeconds', { description: 'The length of the sliding window, in seconds.' }),
  }),
});

const RetentionType = builder.objectRef<{ succeededSeconds: number | null; failedSeconds: number | null; cancelledSeconds: number | null }>('Retention').implement({
  description: 'How long finished jobs are kept, by final state; null keeps them (or JOB_RETENTION_SECONDS applies).',
  fields: (t) => ({
    succeededSeconds: t.exposeInt('succeededSeconds', { nullable: true, description: 'SUCCEEDED jobs older than this are deleted.' }),
    failedSeconds: t.exposeInt('failedSeconds', { nullable: true, description: 'FAILED jobs older than this are deleted.' }),
    cancelledSeconds: t.exposeInt('cancelledSeconds', { nullable: true, description: 'CANCELLED jobs older than this are deleted.' }),
  }),
});

const RateLimitInput = builder.inputType('RateLimitInput', {
  description: 'At most `jobs` starts per sliding `perSeconds`, all instances together.',
  fields: (t) => ({
    jobs: t.int({ required: true, description: '1..1,000,000.' }),
    perSeconds: t.int({ required: true, description: '1..86,400.' }),
  }),
});

const RetentionInput = builder.inputType('RetentionInput', {
  description: 'Finished jobs older than this (seconds, 1..315,360,000) are deleted with their events, inputs and results, in the background; null keeps them.',
  fields: (t) => ({
    succeededSeconds: t.int({ description: 'For SUCCEEDED jobs.' }),
    failedSeconds: t.int({ description: 'For FAILED jobs.' }),
    cancelledSeconds: t.int({ description: 'For CANCELLED jobs.' }),
  }),
});

export const QueueOrderEnum = builder.enumType('QueueOrder', {
  description: 'How a queue’s waiting jobs take turns.',
  values: describedValues(QUEUE_ORDERS, {
    FIFO: 'Lowest priority number first, then oldest: one owner’s backlog runs before a later owner’s job.',
    FAIR: 'Owners with waiting jobs take turns (round robin over owners); each owner’s jobs by priority, then age.',
  }),
});

const MAX_OWNERS = 100;

interface OwnerCount {
  ownerId: number | null;
  waiting: number;
  running: number;
}

const QueueOwnerType = builder.objectRef<OwnerCount>('QueueOwner').implement({
  description: 'One owner’s jobs in a queue: what a FAIR queue shares out between owners.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    ownerId: t.id({ nullable: true, description: 'The owner’s user id; null for jobs of a deleted account.', resolve: (row) => row.ownerId }),
    username: t.string({
      nullable: true,
      description: 'The owner’s username; null for a deleted account.',
      resolve: async (row, _args, ctx) => (row.ownerId === null ? null : ((await ctx.users.findUser(row.ownerId))?.username ?? null)),
    }),
    waiting: t.exposeInt('waiting', { description: 'Its jobs waiting (QUEUED) in the queue.' }),
    running: t.exposeInt('running', { description: 'Its jobs running in the queue (what ownerConcurrency limits).' }),
  }),
});

export const QueueType = builder.objectRef<Queue>('Queue').implement({
  description: 'A named queue. FIFO (the default): jobs run by priority, then age; FAIR: owners take turns.',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique; what jobs name in their `queue` option.' }),
    concurrency: t.exposeInt('concurrency', { description: 'Most jobs of this queue running at once.' }),
    maxLength: t.exposeInt('maxLength', { description: 'Most jobs waiting at once; more is a CONFLICT.' }),
    order: t.field({ type: QueueOrderEnum, description: 'FIFO (priority, then age) or FAIR (owners take turns).', resolve: (queue) => queue.order }),
    ownerConcurrency: t.exposeInt('ownerConcurrency', {
      nullable: true,
      description: 'Most jobs of one owner running at once in this queue, over every instance; null: no limit.',
    }),
    paused: t.exposeBoolean('paused', { description: 'While true no new job of this queue starts (pauseQueue, resumeQueue).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the queue was created.' }),
    rateLimit: t.field({
      type: RateLimitType,
      nullable: true,
      description: 'Its rate limit; null when it has none.',
      resolve: (queue) => (queue.rateLimitJobs != null && queue.rateLimitPerSeconds != null ? { jobs: queue.rateLimitJobs, perSeconds: queue.rateLimitPerSeconds } : null),
    }),
    retention: t.field({
      type: RetentionType,
      nullable: true,
      description: 'How long its finished jobs are kept; null when it sets none (JOB_RETENTION_SECONDS, if set, applies).',
      resolve: (queue) =>
        queue.retentionSucceededSeconds == null && queue.retentionFailedSeconds == null && queue.retentionCancelledSeconds == null
          ? null
          : { succeededSeconds: queue.retentionSucceededSeconds, failedSeconds: queue.retentionFailedSeconds, cancelledSeconds: queue.retentionCancelledSeconds },
    }),
    waiting: t.int({
      description: 'Jobs waiting (QUEUED) now, of every owner: what maxLength limits. Kept with each change, not counted.',
      resolve: (queue, _args, ctx) => ctx.jobs.waitingCount(queue.name),
    }),
    owners: t.field({
      type: [QueueOwnerType],
      description: `Waiting and running jobs by owner, the most waiting first (at most ${MAX_OWNERS}): a user’s own only; every owner’s for managers, admins and secretaries.`,
      args: { first: t.arg.int({ description: `How many owners (1 to ${MAX_OWNERS}); default 20.` }) },
      resolve: (queue, { first }, ctx) => ctx.jobs.ownerCounts(ctx.user!, queue.name, ownersLimit(first)),
    }),
    counts: t.field({ type: JobCountsType, description: 'Its jobs by state: the caller’s own for users, everyone’s for managers and admins.', resolve: (queue, _args, ctx) => ctx.jobs.counts(ctx.user, queue.name) }),
  }),
});

const CreateQueueInput = builder.inputType('CreateQueueInput', {
  description: 'A new named queue (admins only).',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique; jobs name it in their `queue` option.' }),
    concurrency: t.int({ description: 'Default: 8 per worker.' }),
    maxLength: t.int({ description: 'Default: 1,000,000.' }),
    order: t.field({ type: QueueOrderEnum, description: 'Default: FIFO.' }),
    ownerConcurrency: t.int({ description: 'Most jobs of one owner running at once (1 to 1,024); default: no limit.' }),
    rateLimit: t.field({ type: RateLimitInput, description: 'At most this many starts per sliding window; default: none.' }),
    retention: t.field({ type: RetentionInput, description: 'How long its finished jobs are kept; default: JOB_RETENTION_SECONDS, or forever.' }),
  }),
});

const UpdateQueueInput = builder.inputType('UpdateQueueInput', {
  description: 'Only the fields given change.',
  fields: (t) => ({
    concurrency: t.int({ description: 'Most jobs of this queue running at once: 1 to 1,024.' }),
    maxLength: t.int({ description: 'Most jobs waiting at once (1 to 10,000,000); submissions past it are a CONFLICT.' }),
    order: t.field({ type: QueueOrderEnum, description: 'FIFO or FAIR; jobs already waiting take the new order at the next claim.' }),
    ownerConcurrency: t.int({ description: 'Most jobs of one owner running at once (1 to 1,024); null lifts the limit.' }),
    rateLimit: t.field({ type: RateLimitInput, description: 'A new rate limit; null removes it.' }),
    retention: t.field({ type: RetentionInput, description: 'A new retention (the three fields together; those left out keep their jobs); null removes it.' }),
  }),
});

builder.queryFields((t) => ({
  queues: t.field({
    type: [QueueType],
    authScopes: { loggedIn: true },
    description: 'Every queue, oldest first, with its settings and waiting count.',
    resolve: (_root, _args, ctx) => ctx.queues.list(),
  }),
  queue: t.field({
    type: QueueType,
    nullable: true,
    authScopes: { loggedIn: true },
    description: 'One queue by name; null when there is none.',
    args: { name: t.arg.string({ required: true, description: 'The queue’s name (`default` always exists).' }) },
    resolve: (_root, { name }, ctx) => ctx.queues.find(name) ?? null,
  }),
}));

builder.mutationFields((t) => ({
  createQueue: t.field({
    type: QueueType,
    authScopes: { admin: true },
    description: 'Admin: creates a queue; a name already taken is a CONFLICT.',
    args: { input: t.arg({ type: CreateQueueInput, required: true, description: 'Its name and limits.' }) },
    resolve: (_root, { input }, ctx) => ctx.queues.create(input),
  }),
  updateQueue: t.field({
    type: QueueType,
    authScopes: { admin: true },
    description: 'Admin: changes a queue’s concurrency, maximum length, rate limit or retention; jobs already running or waiting are not touched.',
    args: {
      name: t.arg.string({ required: true, description: 'The queue to change.' }),
      input: t.arg({ type: UpdateQueueInput, required: true, description: 'The limits to change; those left out stay.' }),
    },
    resolve: (_root, { name, input }, ctx) => ctx.queues.update(name, input),
  }),
  deleteQueue: t.boolean({
    authScopes: { admin: true },
    description: 'Deletes the queue and all of its jobs. The default queue cannot be deleted.',
    args: { name: t.arg.string({ required: true, description: 'The queue to delete, with its jobs (running ones are stopped).' }) },
    resolve: (_root, { name }, ctx) => ctx.jobs.deleteQueue(name),
  }),
  pauseQueue: t.field({
    type: QueueType,
    authScopes: { manager: true },
    description: 'No new job of this queue starts until it is resumed; running ones finish.',
    args: { name: t.arg.string({ required: true, description: 'The queue to pause.' }) },
    resolve: (_root, { name }, ctx) => ctx.queues.update(name, { paused: true }),
  }),
  resumeQueue: t.field({
    type: QueueType,
    authScopes: { manager: true },
    description: 'Lets a paused queue’s jobs start again, in their order.',
    args: { name: t.arg.string({ required: true, description: 'The queue to resume.' }) },
    resolve: (_root, { name }, ctx) => ctx.queues.update(name, { paused: false }),
  }),
}));

function ownersLimit(first: number | null | undefined): number {
  if (first == null) return 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_OWNERS) throw badInput(`first must be an integer from 1 to ${MAX_OWNERS}`);
  return first;
}
