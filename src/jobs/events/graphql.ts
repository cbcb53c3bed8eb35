// Event cursors (docs/events.md): JobEvent's `cursor` and `job`, the `jobEvents` query (pages of the log) and the
// `jobEvents` subscription (replay from a cursor, then live, each event once).
import { builder } from '../../graphql/builder';
import type { GraphQLContext } from '../../graphql/context';
import { connectionComplexity } from '../../graphql/limits';
import { checkPaging, parseId } from '../../graphql/ids';
import { checkLength } from '../../input';
import { batchLoader } from '../../graphql/loader';
import { badInput } from '../../errors';
import type { CursoredEvent } from './log';
import { JobEventType, JobKindEnum } from '../graphql';
import type { EventsOf } from '../service';

/** Cursors of events read by id (a job's `events`, which Drizzle reads without their position), one read per step. */
const cursorOf = batchLoader((ctx: GraphQLContext, ids: number[]) => ctx.jobs.eventCursors(ids));

builder.drizzleObjectFields(JobEventType, (t) => ({
  cursor: t.string({
    description: 'Where this event is in the log (opaque): pass it as `after` to `jobEvents` to read or follow what came after it.',
    resolve: async (event, _args, ctx) => {
      const known = (event as Partial<CursoredEvent>).cursor;
      if (known) return known;
      const cursor = await cursorOf(ctx, event.id);
      if (!cursor) throw new Error(`event ${event.id} has no position`);
      return cursor;
    },
  }),
  job: t.relation('job', { description: 'The job it happened to.' }),
}));

const filterArgs = builder.args((t) => ({
  queue: t.string({ description: 'Only events of jobs in the queue with this name.' }),
  kind: t.field({ type: JobKindEnum, description: 'Only events of jobs of this kind.' }),
  jobId: t.id({ description: 'Only events of this job.' }),
}));

function eventsOf(args: { queue?: string | null; kind?: string | null; jobId?: string | number | null; after?: string | null }): EventsOf {
  if (args.after != null) checkLength(args.after, 256, 'after');
  if (args.queue != null) checkLength(args.queue, 256, 'queue');
  return {
    queue: args.queue ?? null,
    kind: (args.kind ?? null) as EventsOf['kind'],
    jobId: args.jobId == null ? null : parseId(String(args.jobId), 'job'),
  };
}

builder.queryFields((t) => ({
  jobEvents: t.withAuth({ loggedIn: true }).connection(
    {
      type: JobEventType,
      complexity: connectionComplexity,
      description:
        'The job event log, oldest first, from the event after `after` (from the first kept, without it), of the jobs the caller may see (a USER: their own); every filter given must match. Pages forward only (`first`, `after`).',
      args: filterArgs,
      resolve: async (_root, args, ctx) => {
        checkPaging(args);
        if (args.last != null || args.before != null) throw badInput('jobEvents pages forward only: use `first` and `after`', { field: args.last != null ? 'last' : 'before' });
        const only = eventsOf(args);
        const { events, hasNextPage } = await ctx.jobs.eventsPage(ctx.user, args.after, args.first ?? 20, only);
        return {
          edges: events.map((event) => ({ cursor: event.cursor, node: event })),
          pageInfo: {
            hasNextPage,
            hasPreviousPage: args.after != null,
            startCursor: events[0]?.cursor ?? null,
            endCursor: events[events.length - 1]?.cursor ?? args.after ?? null,
          },
        };
      },
    },
    { name: 'JobEventConnection', description: 'A page of the job event log (see `first`, `after`).' },
    { name: 'JobEventEdge', description: 'One event of a page, with its cursor.' },
  ),
}));

builder.subscriptionFields((t) => ({
  jobEvents: t.withAuth({ loggedIn: true }).field({
    type: JobEventType,
    description:
      'Every event after `after` (every event kept, without it) of the jobs the caller may see, in log order, then every new one as it is committed on any instance: each once, with no gap, across reconnects (subscribe again with the last `cursor` received).',
    args: { after: t.arg.string({ description: 'The `cursor` of the last event received; BAD_USER_INPUT when it is not one of this database, or older than the events kept.' }), ...filterArgs },
    subscribe: (_root, args, ctx) => ctx.jobs.followEvents(ctx.user, args.after, eventsOf(args)),
    resolve: (event: CursoredEvent) => event,
  }),
}));
