import { z } from 'zod';
import { ASSET_COUNT, type AssetForecast } from '../compute/forecast';
import { splitSimulations } from '../compute/pi';
import { integerIn, parseInput } from '../input';
import { defineJobKind } from '../kinds/define';
import { runTasks, type RunContext } from '../jobs/kind';

export const MAX_SEED = 2_147_483_647;
const DAY_MS = 86_400_000;
const DEFAULT_RANGE_DAYS = 10;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10);
const daysAfter = (day: string, days: number) => isoDay(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS);

/** A calendar date `YYYY-MM-DD` that exists (2026-02-30 does not). */
function calendarDate(field: string) {
  const error = `invalid field ${field}: a date written YYYY-MM-DD`;
  return z.string({ error }).refine((value) => ISO_DATE.test(value) && isoDay(Date.parse(`${value}T00:00:00Z`) || 0) === value, { error });
}

/** `{ from, to }`, each optional: by default today (UTC) to today + 10 days, as the source did; `to` follows `from`. */
export const dateRangeInput = (now: () => number = Date.now) =>
  z
    .object({ from: calendarDate('dateRange.from').nullish(), to: calendarDate('dateRange.to').nullish() }, { error: 'invalid field dateRange: an object { from, to }' })
    .nullish()
    .transform((range, ctx) => {
      const from = range?.from ?? isoDay(now());
      const to = range?.to ?? daysAfter(from, DEFAULT_RANGE_DAYS);
      if (to >= from) return { from, to };
      ctx.addIssue({ code: 'custom', message: `invalid field dateRange: ${to} is before ${from}` });
      return z.NEVER;
    });
export type DateRange = z.output<ReturnType<typeof dateRangeInput>>;

export const parseDateRange = (raw: unknown, now = Date.now()): DateRange => parseInput(dateRangeInput(() => now), raw);

const LIST_OF_ASSETS = `invalid field assets: a non-empty list of distinct integers from 1 to ${ASSET_COUNT}`;
const notAnAsset = (issue: { input?: unknown }) => `invalid field assets: ${JSON.stringify(issue.input)} is not an integer from 1 to ${ASSET_COUNT}`;

export const forecastInput = z.object({
  assets: z
    .array(z.int({ error: notAnAsset }).min(1, { error: notAnAsset }).max(ASSET_COUNT, { error: notAnAsset }), {
      error: (issue) => (issue.input === undefined || issue.input === null ? 'missing field assets' : LIST_OF_ASSETS),
    })
    .min(1, { error: LIST_OF_ASSETS })
    .superRefine((assets, ctx) => {
      const seen = new Set<number>();
      for (const asset of assets) {
        if (seen.has(asset)) return ctx.addIssue({ code: 'custom', message: `invalid field assets: asset ${asset} is listed twice` });
        seen.add(asset);
      }
    }),
  // Drawn at submission when not given, and stored with the job: any result can be recomputed.
  seed: integerIn(0, MAX_SEED, `invalid field seed: an integer from 0 to ${MAX_SEED}`)
    .nullish()
    .transform((seed) => seed ?? Math.floor(Math.random() * (MAX_SEED + 1))),
  dateRange: dateRangeInput(),
});
export type ForecastInput = z.output<typeof forecastInput>;

export const forecastResult = z.object({
  seed: z.int(),
  dateRange: z.object({ from: z.string(), to: z.string() }),
  forecasts: z.array(
    z.object({
      asset: z.int(),
      value: z.number(),
      weight: z.number().min(0).max(1),
      intercept: z.number(),
      slope: z.number(),
      standardError: z.number(),
    }),
  ),
});
export type ForecastResult = z.output<typeof forecastResult>;

/** A job's mean forecast: the plain mean of its assets' ŷ(300); null when it has none. */
export function meanForecast(forecasts: readonly { value: number }[]): number | null {
  if (!forecasts.length) return null;
  let sum = 0;
  for (const { value } of forecasts) sum += value;
  return sum / forecasts.length;
}

/** Forecasts of some of the 100 synthetic assets: scattered over the workers in slices, gathered in the order asked. */
export const forecastKind = defineJobKind({
  name: 'forecast',
  description: 'A seeded portfolio forecast over a date range (submitForecastJob → ForecastResult).',
  input: forecastInput,
  result: forecastResult,
  async run(input, context: RunContext): Promise<ForecastResult> {
    // Contiguous slices, as the source scattered the assets over MPI ranks.
    const slices = splitSimulations(input.assets.length, Math.min(context.pool.size, input.assets.length));
    let offset = 0;
    const tasks = slices.map((length) => ({ seed: input.seed, assets: input.assets.slice(offset, (offset += length)) }));
    const results = await runTasks<AssetForecast[]>(context, 'forecast.assets', tasks);
    return { seed: input.seed, dateRange: input.dateRange, forecasts: results.flat() };
  },
});
