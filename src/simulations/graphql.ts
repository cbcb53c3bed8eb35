import { builder } from '../graphql/builder';
import { jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { MAX_JOBS_PER_RUN } from '../jobs/service';
import { type ForecastResult, forecastJob, MAX_SEED, meanForecast } from './forecast';
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

export const ForecastType = builder.objectRef<ForecastResult>('Forecast').implement({
  description: 'Forecasts for some of the 100 synthetic assets; the series derive from `seed`, so the result is reproducible.',
  // Reached only through fields that carry their own rule (forecast, a job's result, runQueueForecasts).
  authScopes: { public: true },
  fields: (t) => ({
    seed: t.exposeInt('seed'),
    dateRange: t.expose('dateRange', { type: DateRangeType }),
    forecasts: t.expose('forecasts', { type: [AssetForecastType], description: 'In the order the assets were asked for.' }),
    meanForecast: t.float({
      nullable: true,
      description: "The job-level mean forecast: the mean of `forecasts`' values ŷ(300) over the job's assets (the source's per-job figure); null without forecasts.",
      resolve: (result) => meanForecast(result.forecasts),
    }),
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
// An explicit `concurrency: null` stays null, so it is refused (`invalid field concurrency`) as the source refused it.
const piRequest = (input: typeof PiJobInput.$inferInput) => ({
  kind: 'PI' as const,
  input: { simulations: input.simulations, concurrency: input.concurrency, seed: input.seed ?? undefined },
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
    authScopes: { reader: 'simulations' },
    description: 'Estimates π now, on the worker pool (no job is stored).',
    args: { simulations: t.arg.int({ required: true }), concurrency: t.arg.int({ defaultValue: 1 }), seed: t.arg.float() },
    resolve: (_root, args, ctx) =>
      ctx.jobs.runNow(piJob, { simulations: args.simulations, concurrency: args.concurrency, seed: args.seed ?? undefined }),
  }),
  forecast: t.field({
    type: ForecastType,
    authScopes: { reader: 'simulations' },
    description: 'Forecasts the given assets now, on the worker pool (no job is stored).',
    args: { assets: t.arg.intList({ required: true }), seed: t.arg.int(), dateRange: t.arg({ type: DateRangeInput }) },
    resolve: (_root, args, ctx) =>
      ctx.jobs.runNow(forecastJob, { assets: args.assets, seed: args.seed ?? undefined, dateRange: args.dateRange ?? undefined }),
  }),
}));

const QueueForecastRun = builder.simpleObject('QueueForecastRun', {
  description: "What runQueueForecasts ran: a queue's FORECAST jobs, each as its attempt ended.",
  fields: (t) => ({
    queue: t.string(),
    jobs: t.field({
      type: [JobType],
      description:
        'The queued FORECAST jobs it took, oldest first: SUCCEEDED with their result (and its `meanForecast`), FAILED, or QUEUED again for a retry. Empty when none waited.',
    }),
    remaining: t.int({ description: `FORECAST jobs of the queue still waiting: those beyond the ${MAX_JOBS_PER_RUN.toLocaleString('en-US')} one run takes, or submitted meanwhile.` }),
  }),
});

builder.mutationFields((t) => ({
  runQueueForecasts: t.withAuth({ manager: true }).field({
    type: QueueForecastRun,
    description: `Runs a queue's financial calculations now (the source's \`/financials/api/calc\`): takes every queued FORECAST job of the queue (at most ${MAX_JOBS_PER_RUN.toLocaleString('en-US')}, oldest first), runs them on the worker pool as any job runs, and answers once all have ended, each with its result and mean forecast. A paused queue's forecasts run too (the queue stays paused); jobs of other kinds stay queued. Managers and admins.`,
    args: { queue: t.arg.string({ required: true, description: 'The queue whose forecasts to run.' }) },
    resolve: (_root, { queue }, ctx) => ctx.jobs.runQueued(ctx.user, queue, 'FORECAST'),
  }),
  submitPiJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    args: { input: t.arg({ type: PiJobInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.jobs.submit(ctx.user, 'PI', piRequest(input).input, optionsOf(input)),
  }),
  submitForecastJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    args: { input: t.arg({ type: ForecastJobInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.jobs.submit(ctx.user, 'FORECAST', forecastRequest(input).input, optionsOf(input)),
  }),
}));
