import { builder } from '../graphql/builder';
import { jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { forecastJob, MAX_SEED } from './forecast';
import { piJob } from './pi';

// ---- π ---------------------------------------------------------------------------------------------------

export const PiEstimateType = builder.simpleObject('PiEstimate', {
  description: 'A Monte Carlo estimate of π.',
  fields: (t) => ({
    simulations: t.int(),
    concurrency: t.int(),
    pi: t.float(),
    simulationsDistribution: t.intList({ description: 'Samples per worker; they sum to `simulations`.' }),
    seconds: t.float({ description: 'Time taken to compute it.' }),
    seed: t.float({ nullable: true, description: 'The seed the samples were drawn from (reproducible).' }),
  }),
});
registerJobResult('PI', PiEstimateType);

const PiJobInput = builder.inputType('PiJobInput', {
  fields: (t) => ({
    simulations: t.int({ required: true, description: '100..100,000,000.' }),
    concurrency: t.int({ defaultValue: 1, description: 'Tasks run in parallel on the pool: 1..8.' }),
    seed: t.float({ description: 'Default: random. The same seed gives the same estimate.' }),
    ...jobOptions(t),
  }),
});

// ---- forecasting -----------------------------------------------------------------------------------------

const DateRangeType = builder.simpleObject('DateRange', {
  fields: (t) => ({ from: t.string({ description: 'YYYY-MM-DD' }), to: t.string({ description: 'YYYY-MM-DD' }) }),
});

const DateRangeInput = builder.inputType('DateRangeInput', {
  fields: (t) => ({
    from: t.string({ description: 'YYYY-MM-DD; default today (UTC).' }),
    to: t.string({ description: 'YYYY-MM-DD; default `from` + 10 days.' }),
  }),
});

const AssetForecastType = builder.simpleObject('AssetForecast', {
  description: "One asset's least-squares line over its 300-step series, and the forecast of step 300.",
  fields: (t) => ({
    asset: t.int(),
    value: t.float({ description: 'ŷ(300) = intercept + 300 · slope.' }),
    weight: t.float({
      description:
        'In [0, 1]: Φ(value / standardError), the confidence under the fitted line that the expected next value is above zero. 0.5 = no signal.',
    }),
    intercept: t.float(),
    slope: t.float(),
    standardError: t.float({ description: 'Standard error of the forecast mean.' }),
  }),
});

export const ForecastType = builder.simpleObject('Forecast', {
  description: 'Forecasts for some of the 100 synthetic assets; the series derive from `seed`, so the result is reproducible.',
  fields: (t) => ({
    seed: t.int(),
    dateRange: t.field({ type: DateRangeType }),
    forecasts: t.field({ type: [AssetForecastType], description: 'In the order the assets were asked for.' }),
  }),
});
registerJobResult('FORECAST', ForecastType);

const ForecastJobInput = builder.inputType('ForecastJobInput', {
  fields: (t) => ({
    assets: t.intList({ required: true, description: 'Distinct integers 1..100.' }),
    dateRange: t.field({ type: DateRangeInput, description: 'Default: today → today + 10 days.' }),
    seed: t.int({ description: `0..${MAX_SEED}; default random (stored with the job).` }),
    ...jobOptions(t),
  }),
});

// What submitPiJob and submitForecastJob submit; submitJobs takes the same (`{ pi: … }`, `{ forecast: … }`).
const piRequest = (input: typeof PiJobInput.$inferInput) => ({
  kind: 'PI' as const,
  input: { simulations: input.simulations, concurrency: input.concurrency ?? undefined, seed: input.seed ?? undefined },
});
const forecastRequest = (input: typeof ForecastJobInput.$inferInput) => ({
  kind: 'FORECAST' as const,
  input: { assets: input.assets, seed: input.seed ?? undefined, dateRange: input.dateRange ?? undefined },
});
registerJobSubmission({ field: 'pi', type: PiJobInput, toRequest: piRequest });
registerJobSubmission({ field: 'forecast', type: ForecastJobInput, toRequest: forecastRequest });

// ---- fields ----------------------------------------------------------------------------------------------

builder.queryFields((t) => ({
  estimatePi: t.field({
    type: PiEstimateType,
    authScopes: { loggedIn: true },
    description: 'Estimates π now, on the worker pool (no job is stored).',
    args: { simulations: t.arg.int({ required: true }), concurrency: t.arg.int({ defaultValue: 1 }), seed: t.arg.float() },
    resolve: (_root, args, ctx) =>
      ctx.jobs.runNow(piJob, { simulations: args.simulations, concurrency: args.concurrency ?? undefined, seed: args.seed ?? undefined }),
  }),
  forecast: t.field({
    type: ForecastType,
    authScopes: { loggedIn: true },
    description: 'Forecasts the given assets now, on the worker pool (no job is stored).',
    args: { assets: t.arg.intList({ required: true }), seed: t.arg.int(), dateRange: t.arg({ type: DateRangeInput }) },
    resolve: (_root, args, ctx) =>
      ctx.jobs.runNow(forecastJob, { assets: args.assets, seed: args.seed ?? undefined, dateRange: args.dateRange ?? undefined }),
  }),
}));

builder.mutationFields((t) => ({
  submitPiJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    args: { input: t.arg({ type: PiJobInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.jobs.submitGrouped(ctx.user, 'PI', piRequest(input).input, optionsOf(input)),
  }),
  submitForecastJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    args: { input: t.arg({ type: ForecastJobInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.jobs.submitGrouped(ctx.user, 'FORECAST', forecastRequest(input).input, optionsOf(input)),
  }),
}));
