import { builder } from '../graphql/builder';
import { jobOptions, JobType, optionsOf, registerJobResult, registerJobSubmission } from '../jobs/graphql';
import { MAX_JOBS_PER_RUN } from '../jobs/service';
import { type ForecastResult, forecastKind, MAX_SEED, meanForecast } from './forecast';
import { piKind } from './pi';

// ---- π ---------------------------------------------------------------------------------------------------

export const PiEstimateType = builder.simpleObject('PiEstimate', {
  description: 'A Monte Carlo estimate of π.',
  fields: (t) => ({
    simulations: t.int({ description: 'Random points drawn.' }),
    concurrency: t.int({ description: 'Pool tasks they were split over.' }),
    pi: t.float({ description: 'The estimate: 4 × the share of points inside the quarter circle.' }),
    simulationsDistribution: t.intList({ description: 'Samples per worker; they sum to `simulations`.' }),
    seconds: t.float({ description: 'Time taken to compute it.' }),
    seed: t.float({ nullable: true, description: 'The seed the samples were drawn from (reproducible).' }),
  }),
});
registerJobResult('PI', PiEstimateType);

const PiJobInput = builder.inputType('PiJobInput', {
  description: 'A π estimate to run as a job, with the job options every kind takes.',
  fields: (t) => ({
    simulations: t.int({ required: true, description: '100..100,000,000.' }),
    concurrency: t.int({ defaultValue: 1, description: 'Tasks run in parallel on the pool: 1..8.' }),
    seed: t.float({ description: 'Default: random. The same seed gives the same estimate.' }),
    ...jobOptions(t),
  }),
});

// ---- forecasting -----------------------------------------------------------------------------------------

const DateRangeType = builder.simpleObject('DateRange', {
  description: 'The dates a forecast covers, both included.',
  fields: (t) => ({ from: t.string({ description: 'YYYY-MM-DD' }), to: t.string({ description: 'YYYY-MM-DD' }) }),
});

const DateRangeInput = builder.inputType('DateRangeInput', {
  description: 'The dates a forecast covers; either end may be left out.',
  fields: (t) => ({
    from: t.string({ description: 'YYYY-MM-DD; default today (UTC).' }),
    to: t.string({ description: 'YYYY-MM-DD; default `from` + 10 days.' }),
  }),
});

const AssetForecastType = builder.simpleObject('AssetForecast', {
  description: "One asset's least-squares line over its 300-step series, and the forecast of step 300.",
  fields: (t) => ({
    asset: t.int({ description: 'The asset, 1..100.' }),
    value: t.float({ description: 'ŷ(300) = intercept + 300 · slope.' }),
    weight: t.float({
      description:
        'In [0, 1]: Φ(value / standardError), the confidence under the fitted line that the expected next value is above zero. 0.5 = no signal.',
    }),
    intercept: t.float({ description: 'The fitted line’s value at step 0.' }),
    slope: t.float({ description: 'The fitted line’s change per step.' }),
    standardError: t.float({ description: 'Standard error of the forecast mean.' }),
  }),
});

export const ForecastType = builder.objectRef<ForecastResult>('Forecast').implement({
  description: 'Forecasts for some of the 100 synthetic assets; the series derive from `seed`, so the result is reproducible.',
  // Reached only through fields that carry their own rule (forecast, a job's result, runQueueForecasts).
  authScopes: { public: true },
  fields: (t) => ({
    seed: t.exposeInt('seed', { description: 'The seed the series were drawn from; ask again with it for the same forecast.' }),
    dateRange: t.expose('dateRange', { type: DateRangeType, description: 'The dates it covers.' }),
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
  description: 'A forecast to run as a job, with the job options every kind takes.',
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
    args: {
      simulations: t.arg.int({ required: true, description: 'Random points drawn: 100..100,000,000 (the error shrinks like 1/√simulations).' }),
      concurrency: t.arg.int({ defaultValue: 1, description: 'Pool tasks the points are split over, run in parallel: 1..8.' }),
      seed: t.arg.float({ description: 'Default: random. The same seed and concurrency give the same estimate.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.jobs.runNow(piKind, { simulations: args.simulations, concurrency: args.concurrency, seed: args.seed ?? undefined }),
  }),
  forecast: t.field({
    type: ForecastType,
    authScopes: { reader: 'simulations' },
    description: 'Forecasts the given assets now, on the worker pool (no job is stored).',
    args: {
      assets: t.arg.intList({ required: true, description: 'The assets to forecast: distinct integers 1..100, answered in this order.' }),
      seed: t.arg.int({ description: `0..${MAX_SEED}; default random. The same seed gives the same series and forecasts.` }),
      dateRange: t.arg({ type: DateRangeInput, description: 'Default: today → today + 10 days (UTC).' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.jobs.runNow(forecastKind, { assets: args.assets, seed: args.seed ?? undefined, dateRange: args.dateRange ?? undefined }),
  }),
}));

const QueueForecastRun = builder.simpleObject('QueueForecastRun', {
  description: "What runQueueForecasts ran: a queue's FORECAST jobs, each as its attempt ended.",
  fields: (t) => ({
    queue: t.string({ description: 'The queue it ran.' }),
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
    description: 'Queues a π estimate as a durable job (kind PI); follow it with jobUpdated, read it as a PiEstimate result.',
    args: { input: t.arg({ type: PiJobInput, required: true, description: 'Its size, parallelism and seed, and where and how it runs.' }) },
    resolve: (_root, { input }, ctx) => ctx.jobs.submitGrouped(ctx.user, 'PI', piRequest(input).input, optionsOf(input)),
  }),
  submitForecastJob: t.withAuth({ loggedIn: true }).field({
    type: JobType,
    description: 'Queues a forecast as a durable job (kind FORECAST); its result is a Forecast.',
    args: { input: t.arg({ type: ForecastJobInput, required: true, description: 'The assets, dates and seed, and where and how it runs.' }) },
    resolve: (_root, { input }, ctx) => ctx.jobs.submitGrouped(ctx.user, 'FORECAST', forecastRequest(input).input, optionsOf(input)),
  }),
}));
