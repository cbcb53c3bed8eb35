import { builder, describedValues } from '../graphql/builder';
import type { GraphQLContext } from '../graphql/context';
import { jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { ANALYTICS_QUERIES } from './service';

const DirectionEnum = builder.enumType('Direction', {
  description: 'Which end of a question’s values is the good one: it decides best5 and worst5.',
  values: describedValues(['LOWER_IS_BETTER', 'HIGHER_IS_BETTER'] as const, {
    LOWER_IS_BETTER: 'A lower value is better (e.g. the share of adults with obesity).',
    HIGHER_IS_BETTER: 'A higher value is better (e.g. the share of adults who exercise).',
  }),
});
const AnalyticsQueryEnum = builder.enumType('AnalyticsQuery', {
  description: 'Which statistic an analytics job computes; each matches the `analytics` field of the same name.',
  values: describedValues(ANALYTICS_QUERIES, {
    STATES_MEAN: 'Each state’s mean for the question, ascending (statesMean).',
    STATE_MEAN: 'One state’s mean for the question; needs `state` (stateMean).',
    BEST5: 'The five best states, best first (best5).',
    WORST5: 'The five worst states, worst first (worst5).',
    GLOBAL_MEAN: 'The mean over all of the question’s rows (globalMean).',
    DIFF_FROM_MEAN: 'globalMean − each state’s mean (diffFromMean).',
    STATE_DIFF_FROM_MEAN: 'globalMean − one state’s mean; needs `state` (stateDiffFromMean).',
    MEAN_BY_CATEGORY: 'Each (state, category, segment) group’s mean (meanByCategory).',
    STATE_MEAN_BY_CATEGORY: 'One state’s (category, segment) means; needs `state` (stateMeanByCategory).',
  }),
});

const AnalyticsQuestionType = builder.simpleObject('AnalyticsQuestion', {
  description: 'A question of the dataset, as its `Question` column says it.',
  fields: (t) => ({
    text: t.string({ description: 'The question’s exact text: what the statistics take as `question`.' }),
    direction: t.field({ type: DirectionEnum, nullable: true, description: 'Null for questions beyond the source’s nine.' }),
  }),
});

const StateValueType = builder.simpleObject('StateValue', {
  description: 'One state’s value for a question (a mean, or a difference from the mean).',
  fields: (t) => ({
    state: t.string({ description: 'The LocationDesc, e.g. `Ohio` or `National`.' }),
    value: t.float({ description: 'The statistic, in the question’s unit (percent of adults).' }),
    rows: t.int({ description: 'How many rows the value comes from.' }),
  }),
});

const CategoryMeanType = builder.simpleObject('CategoryMean', {
  description: 'The mean of one (state, stratification category, segment) group.',
  fields: (t) => ({
    state: t.string({ description: 'The LocationDesc.' }),
    category: t.string({ description: 'StratificationCategory1, e.g. `Age (years)`.' }),
    segment: t.string({ description: 'Stratification1, e.g. `18 - 24`.' }),
    value: t.float({ description: 'The group’s mean.' }),
  }),
});

const AnalyticsDatasetType = builder.simpleObject('AnalyticsDataset', {
  description: 'The CSV the statistics come from, and what its ingest counted.',
  fields: (t) => ({
    source: t.string({ description: 'The file read (ANALYTICS_CSV, or the bundled CDC file).' }),
    sha256: t.string({ description: 'The SHA-256 of the file as read (compressed or not), hex.' }),
    rowsRead: t.int({ description: 'Data rows in the file.' }),
    rowsKept: t.int({ description: 'Rows indexed: those with a numeric Data_Value.' }),
    rowsSkipped: t.int({ description: 'Rows with an empty or non-numeric Data_Value.' }),
    ingestMs: t.float({ description: 'How long reading and indexing the file took.' }),
    loadedAt: t.field({ type: 'DateTime', description: 'When it was loaded (at start).' }),
  }),
});

/** The root `analytics` field returns this marker; every statistic is a field with its own arguments. */
const AnalyticsType = builder.objectRef<object>('Analytics').implement({
  description:
    'The nine statistics of the CDC "Nutrition, Physical Activity, and Obesity" dataset. `yearFrom`/`yearTo` keep rows whose YearStart is in range; by default all rows count.',
  authScopes: { reader: 'analytics' },
  fields: (t) => {
    const years = {
      yearFrom: t.arg.int({ description: 'Keep rows whose YearStart is this year or later; default: the earliest.' }),
      yearTo: t.arg.int({ description: 'Keep rows whose YearStart is this year or earlier; default: the latest.' }),
    };
    const question = { question: t.arg.string({ required: true, description: 'A question’s exact text, as `questions` lists them.' }) };
    const state = { state: t.arg.string({ required: true, description: 'A LocationDesc, as `states` lists them.' }) };
    const range = (ctx: GraphQLContext, args: { yearFrom?: number | null; yearTo?: number | null }) => ctx.analytics.checkYears(args.yearFrom, args.yearTo);
    return {
      dataset: t.field({ type: AnalyticsDatasetType, description: 'The file behind the statistics.', resolve: (_r, _a, ctx) => ctx.analytics.dataset() }),
      questions: t.field({ type: [AnalyticsQuestionType], description: 'Every question of the dataset, with which end is better.', resolve: (_r, _a, ctx) => ctx.analytics.questions() }),
      states: t.stringList({ description: 'Every LocationDesc, National and territories included.', resolve: (_r, _a, ctx) => ctx.analytics.states() }),
      statesMean: t.field({
        type: [StateValueType],
        description: 'Each state’s mean, ascending.',
        args: { ...question, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.statesMean(args.question, range(ctx, args)),
      }),
      stateMean: t.field({
        type: StateValueType,
        description: 'One state’s mean.',
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
        description: 'globalMean − one state’s mean.',
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
        description: 'One state’s (category, segment) group means, in meanByCategory’s order.',
        args: { ...question, ...state, ...years },
        resolve: (_r, args, ctx) => ctx.analytics.stateMeanByCategory(args.question, args.state, range(ctx, args)),
      }),
    };
  },
});

const AnalyticsResultType = builder.simpleObject('AnalyticsResult', {
  description: 'An analytics job’s answer; `data` has the exact JSON shape the source system answered.',
  fields: (t) => ({
    query: t.field({ type: AnalyticsQueryEnum, description: 'The statistic computed.' }),
    question: t.string({ description: 'The question it was computed for.' }),
    state: t.string({ nullable: true, description: 'The state, for the per-state statistics; null otherwise.' }),
    yearFrom: t.int({ nullable: true, description: 'The first YearStart kept; null when not limited.' }),
    yearTo: t.int({ nullable: true, description: 'The last YearStart kept; null when not limited.' }),
    data: t.field({ type: 'JSON', description: 'The answer, as the source’s REST API gave it.' }),
  }),
});
registerJobResult('ANALYTICS', AnalyticsResultType);

const AnalyticsJobInput = builder.inputType('AnalyticsJobInput', {
  description: 'One statistic to compute as a job, with the job options every kind takes.',
  fields: (t) => ({
    query: t.field({ type: AnalyticsQueryEnum, required: true, description: 'Which statistic.' }),
    question: t.string({ required: true, description: 'A question’s exact text, as `analytics.questions` lists them.' }),
    state: t.string({ description: 'For STATE_MEAN, STATE_DIFF_FROM_MEAN and STATE_MEAN_BY_CATEGORY.' }),
    yearFrom: t.int({ description: 'Keep rows whose YearStart is this year or later.' }),
    yearTo: t.int({ description: 'Keep rows whose YearStart is this year or earlier.' }),
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
  analytics: t.field({
    type: AnalyticsType,
    authScopes: { reader: 'analytics' },
    description: 'The dataset’s nine statistics, answered now from the in-memory index; each is a field with its own arguments.',
    resolve: () => ({}),
  }),
}));

builder.mutationFields((t) => ({
  submitAnalyticsJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Computes one statistic as a durable job (the source’s job_id flow); its result survives restarts.',
    args: { input: t.arg({ type: AnalyticsJobInput, required: true, description: 'The statistic, question, state and years, and where and how it runs.' }) },
    resolve: (_root, { input }, ctx) => {
      // Refuse an unknown question, state or year range now rather than as a failed job.
      const checked = ctx.analytics.checkJobInput(input);
      return ctx.jobs.submit(ctx.user, 'ANALYTICS', checked, optionsOf(input));
    },
  }),
}));

