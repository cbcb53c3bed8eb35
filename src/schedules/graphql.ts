import { builder, describedValues } from '../graphql/builder';
import { connectionComplexity } from '../graphql/limits';
import { checkPaging } from '../graphql/ids';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { Selection } from '../db/selection';
import { JobConnection, JobEdge, jobRequestOf, JobSubmission, JobType } from '../jobs/graphql';
import { SCHEDULE_OVERLAPS } from './service';

const ScheduleOverlapEnum = builder.enumType('ScheduleOverlap', {
  description: 'What a schedule does at a tick while its previous run is unfinished.',
  values: describedValues(SCHEDULE_OVERLAPS, {
    ALLOW: 'Runs anyway: runs may overlap.',
    SKIP: 'No new run while the previous run is QUEUED or RUNNING; the tick is passed over.',
  }),
});

export const ScheduleType = builder.drizzleObject('schedules', {
  name: 'Schedule',
  description: 'A cron schedule: at each tick, one job (across every instance). Managers, admins and secretaries see them.',
  authScopes: { manager: true, readAll: true },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique; what pauseSchedule, resumeSchedule and deleteSchedule take.' }),
    cron: t.exposeString('cron', { description: '5 fields, or 6 with a leading seconds field (`*/2 * * * * *`).' }),
    timezone: t.exposeString('timezone', { description: 'The IANA time zone its ticks are read in (DST as croner documents it).' }),
    job: t.field({ type: 'JSON', description: 'The JobSubmission each tick submits, as given.', resolve: (schedule) => schedule.job }),
    queue: t.exposeString('queue', { description: 'The queue its jobs go to.' }),
    paused: t.exposeBoolean('paused', { description: 'While true no tick runs (pauseSchedule, resumeSchedule).' }),
    overlap: t.field({ type: ScheduleOverlapEnum, description: 'Whether a run may start while the previous one is unfinished.', resolve: (schedule) => schedule.overlap }),
    nextRunAt: t.field({ type: 'DateTime', nullable: true, description: 'Its next tick; null while paused, or when the expression has no further tick.', resolve: (schedule) => schedule.nextRunAt }),
    lastRunAt: t.field({ type: 'DateTime', nullable: true, description: 'The tick of its latest run; null before the first.', resolve: (schedule) => schedule.lastRunAt }),
    owner: t.relation('owner', { nullable: true, description: 'Who created it (its jobs are theirs); null once that account is deleted.' }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was created.', resolve: (schedule) => schedule.createdAt }),
    runs: t.connection(
      {
        type: JobType,
        description: 'The jobs its ticks made, newest first.',
        complexity: connectionComplexity,
        resolve: async (schedule, args, ctx) => {
          checkPaging(args);
          const filter = { schedule: schedule.name };
          const page = await resolveOffsetConnection({ args }, ({ limit, offset }) =>
            ctx.jobs.list(ctx.user!, filter, ((query: object) => ({ ...query, limit, offset })) as Selection),
          );
          return Object.assign(page, { totalCount: () => ctx.jobs.countMatching(ctx.user!, filter) });
        },
      },
      JobConnection as never,
      JobEdge as never,
    ),
  }),
});

const CreateScheduleInput = builder.inputType('CreateScheduleInput', {
  description: 'A new cron schedule (managers and admins).',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique: 1 to 64 letters, digits, `.`, `_`, `:` or `-`.' }),
    cron: t.string({ required: true, description: '5 fields (`0 9 * * 1-5`), or 6 with a leading seconds field (`*/2 * * * * *`).' }),
    timezone: t.string({ defaultValue: 'UTC', description: 'An IANA time zone (`Europe/Paris`); default UTC.' }),
    job: t.field({ type: JobSubmission, required: true, description: 'The job each tick submits (as one item of submitJobs; no runAt nor idempotencyKey).' }),
    overlap: t.field({ type: ScheduleOverlapEnum, defaultValue: 'ALLOW', description: 'SKIP: no new run while the previous one is unfinished.' }),
  }),
});

builder.queryFields((t) => ({
  schedules: t.withAuth({ manager: true, readAll: true }).drizzleField({
    type: ['schedules'],
    description: 'Every schedule, by name (managers, admins and secretaries).',
    resolve: (query, _root, _args, ctx) => ctx.schedules.list(query),
  }),
  schedule: t.withAuth({ manager: true, readAll: true }).drizzleField({
    type: 'schedules',
    nullable: true,
    description: 'One schedule by name; null when there is none.',
    args: { name: t.arg.string({ required: true, description: 'Its name.' }) },
    resolve: (query, _root, { name }, ctx) => ctx.schedules.find(name, query),
  }),
}));

builder.mutationFields((t) => {
  const manager = t.withAuth({ manager: true });
  const nameArg = { name: t.arg.string({ required: true, description: 'The schedule’s name.' }) };
  return {
    createSchedule: manager.drizzleField({
      type: 'schedules',
      description: 'Managers and admins: a schedule that submits `job` at each tick of `cron` in `timezone`, as its creator. A bad expression or time zone is BAD_USER_INPUT naming it; a name taken is a CONFLICT.',
      args: { input: t.arg({ type: CreateScheduleInput, required: true, description: 'Its name, expression, zone, job and overlap rule.' }) },
      resolve: async (_query, _root, { input }, ctx) => {
        const request = await jobRequestOf(input.job, ctx);
        return ctx.schedules.create(ctx.user, input, input.job, request);
      },
    }),
    pauseSchedule: manager.drizzleField({
      type: 'schedules',
      description: 'No tick runs until it is resumed; a run under way finishes.',
      args: nameArg,
      resolve: (_query, _root, { name }, ctx) => ctx.schedules.pause(ctx.user, name),
    }),
    resumeSchedule: manager.drizzleField({
      type: 'schedules',
      description: 'Runs again from its next tick after now (ticks passed while paused are not made up).',
      args: nameArg,
      resolve: (_query, _root, { name }, ctx) => ctx.schedules.resume(ctx.user, name),
    }),
    deleteSchedule: manager.boolean({
      description: 'Deletes a schedule; the jobs it made stay.',
      args: nameArg,
      resolve: (_root, { name }, ctx) => ctx.schedules.delete(ctx.user, name),
    }),
  };
});
