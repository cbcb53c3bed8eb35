import { builder } from '../graphql/builder';
import type { GraphQLContext } from '../graphql/context';
import { jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { ANALYTICS_QUERIES } from './service';

const DirectionEnum = builder.enumType('Direction', { values: ['LOWER_IS_BETTER', 'HIGHER_IS_BETTER'] as const });
const AnalyticsQueryEnum = builder.enumType('AnalyticsQuery', { values: ANALYTICS_QUERIES });

const AnalyticsQuestionType = builder.simpleObject('AnalyticsQuestion', {
  fields: (t) => ({
    text: t.string(),
    direction: t.field({ type: DirectionEnum, nullable: true, description: 'Null for questions beyond the source’s nine.' }),
  }),
});

const StateValueType = builder.simpleObject('StateValue', {
  fields: (t) => ({ state: t.string(), value: t.float(), rows: t.int({ description: 'How many rows the value comes from.' }) }),
});

const CategoryMeanType = builder.simpleObject('CategoryMean', {
  fields: (t) => ({ state: t.string(), category: t.string(), segment: t.string(), value: t.float() }),
});

const AnalyticsDatasetType = builder.simpleObject('AnalyticsDataset', {
  description: 'The CSV the statistics come from, and what its ingest counted.',
  fields: (t) => ({
    source: t.string(),
    sha256: t.string(),
    rowsRead: t.int(),
    rowsKept: t.int(),
    rowsSkipped: t.int({ description: 'Rows with an empty or non-numeric Data_Value.' }),
    ingestMs: t.float(),
    loadedAt: t.field({ type: 'DateTime' }),
  }),
});

/** The root `analytics` field returns this marker; every statistic is a field with its own arguments. */
const AnalyticsType = builder.objectRef<object>('Analytics').implement({
  description:
    'The nine statistics of the CDC "Nutrition, Physical Activity, and Obesity" dataset. `yearFrom`/`yearTo` keep rows whose YearStart is in range; by default all rows count.',
  authScopes: { reader: 'analytics' },
  fields: (t) => {
    const years = { yearFrom: t.arg.int(), yearTo: t.arg.int() };
    const question = { question: t.arg.string({ required: true }) };
    const state = { state: t.arg.string({ required: true }) };
    const range = (ctx: GraphQLContext, args: { yearFrom?: number | null; yearTo?: number | null }) => ctx.analytics.checkYears(args.yearFrom, args.yearTo);
    return {
      dataset: t.field({ type: AnalyticsDatasetType, resolve: (_r, _a, ctx) => ctx.analytics.dataset() }),
      questions: t.field({ type: [AnalyticsQuestionType], resolve: (_r, _a, ctx) => ctx.analytics.questions() }),
      states: t.stringList({ description: 'Every LocationDesc, National and territories included.', resolve: (_r, _a, ctx) => ctx.analytics.states() }),
      statesMean: t.field({
        type: [StateValueType],
        description: 'Each state’s mean, ascending.',
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.statesMean(args.question, range(ctx, args)),
      }),
      stateMean: t.field({
        type: StateValueType,
        args: { ...question, ...state, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.stateMean(args.question, args.state, range(ctx, args)),
      }),
      best5: t.field({
        type: [StateValueType],
        description: 'The five best states, best first (lowest for lower-is-better questions, highest otherwise).',
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.best5(args.question, range(ctx, args)),
      }),
      worst5: t.field({
        type: [StateValueType],
        description: 'The five worst states, worst first.',
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.worst5(args.question, range(ctx, args)),
      }),
      globalMean: t.float({
        description: 'The mean over all rows of the question, National included (not the mean of the state means).',
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.globalMean(args.question, range(ctx, args)),
      }),
      diffFromMean: t.field({
        type: [StateValueType],
        description: 'globalMean − state mean for every state, in statesMean order.',
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.diffFromMean(args.question, range(ctx, args)),
      }),
      stateDiffFromMean: t.field({
        type: StateValueType,
        args: { ...question, ...state, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.stateDiffFromMean(args.question, args.state, range(ctx, args)),
      }),
      meanByCategory: t.field({
        type: [CategoryMeanType],
        description: "Each (state, category, segment) group's mean, in the source's order: its Python tuple keys sorted as strings.",
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.meanByCategory(args.question, range(ctx, args)),
      }),
      stateMeanByCategory: t.field({
        type: [CategoryMeanType],
        args: { ...question, ...state, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.stateMeanByCategory(args.question, args.state, range(ctx, args)),
      }),
    };
  },
});

const AnalyticsResultType = builder.simpleObject('AnalyticsResult', {
  description: 'An analytics job’s answer; `data` has the exact JSON shape the source system answered.',
  fields: (t) => ({
    query: t.field({ type: AnalyticsQueryEnum }),
    question: t.string(),
    state: t.string({ nullable: true }),
    yearFrom: t.int({ nullable: true }),
    yearTo: t.int({ nullable: true }),
    data: t.field({ type: 'JSON' }),
  }),
});
registerJobResult('ANALYTICS', AnalyticsResultType);

const AnalyticsJobInput = builder.inputType('AnalyticsJobInput', {
  fields: (t) => ({
    query: t.field({ type: AnalyticsQueryEnum, required: true }),
    question: t.string({ required: true }),
    state: t.string({ description: 'For STATE_MEAN, STATE_DIFF_FROM_MEAN and STATE_MEAN_BY_CATEGORY.' }),
    yearFrom: t.int(),
    yearTo: t.int(),
    ...jobOptions(t),
  }),
});

// submitJobs takes the same input as `{ analytics: … }`, checked the same way (an unknown question is refused now).
registerJobSubmission({
  field: 'analytics',
  type: AnalyticsJobInput,
  toRequest: (input, ctx) => ({ kind: 'ANALYTICS', input: ctx.analytics.checkJobInput(input) }),
});

builder.queryFields((t) => ({
  analytics: t.field({ type: AnalyticsType, authScopes: { reader: 'analytics' }, resolve: () => ({}) }),
}));

builder.mutationFields((t) => ({
  submitAnalyticsJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Computes one statistic as a durable job (the source’s job_id flow); its result survives restarts.',
    args: { input: t.arg({ type: AnalyticsJobInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      // Refuse an unknown question, state or year range now rather than as a failed job.
      const checked = ctx.analytics.checkJobInput(input);
      return ctx.jobs.submit(ctx.user, 'ANALYTICS', checked, optionsOf(input));
    },
  }),
}));

