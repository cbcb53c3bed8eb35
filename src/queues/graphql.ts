import { builder } from '../graphql/builder';
import { JobCountsType } from '../jobs/graphql';
import type { Queue } from './service';

export const QueueType = builder.objectRef<Queue>('Queue').implement({
  description: 'A named FIFO queue. Jobs run in submission order (lowest priority number first).',
  authScopes: { loggedIn: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    concurrency: t.exposeInt('concurrency', { description: 'Most jobs of this queue running at once.' }),
    maxLength: t.exposeInt('maxLength', { description: 'Most jobs waiting at once; more is a CONFLICT.' }),
    paused: t.exposeBoolean('paused'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    waiting: t.int({
      description: 'Jobs waiting (QUEUED) now, of every owner: what maxLength limits. Kept with each change, not counted.',
      resolve: (queue, _args, ctx) => ctx.jobs.waitingCount(queue.name),
    }),
    counts: t.field({ type: JobCountsType, resolve: (queue, _args, ctx) => ctx.jobs.counts(ctx.user, queue.name) }),
  }),
});

const CreateQueueInput = builder.inputType('CreateQueueInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    concurrency: t.int({ description: 'Default: 8 per worker.' }),
    maxLength: t.int({ description: 'Default: 1,000,000.' }),
  }),
});

const UpdateQueueInput = builder.inputType('UpdateQueueInput', {
  fields: (t) => ({ concurrency: t.int(), maxLength: t.int() }),
});

builder.queryFields((t) => ({
  queues: t.field({
    type: [QueueType],
    authScopes: { loggedIn: true },
    resolve: (_root, _args, ctx) => ctx.queues.list(),
  }),
  queue: t.field({
    type: QueueType,
    nullable: true,
    authScopes: { loggedIn: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.queues.find(name) ?? null,
  }),
}));

builder.mutationFields((t) => ({
  createQueue: t.field({
    type: QueueType,
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateQueueInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.queues.create(input),
  }),
  updateQueue: t.field({
    type: QueueType,
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateQueueInput, required: true }) },
    resolve: (_root, { name, input }, ctx) => ctx.queues.update(name, input),
  }),
  deleteQueue: t.boolean({
    authScopes: { admin: true },
    description: 'Deletes the queue and all of its jobs. The default queue cannot be deleted.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.jobs.deleteQueue(name),
  }),
  pauseQueue: t.field({
    type: QueueType,
    authScopes: { manager: true },
    description: 'No new job of this queue starts until it is resumed; running ones finish.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.queues.update(name, { paused: true }),
  }),
  resumeQueue: t.field({
    type: QueueType,
    authScopes: { manager: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.queues.update(name, { paused: false }),
  }),
}));
