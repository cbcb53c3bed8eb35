import { ASSET_COUNT, type AssetForecast } from '../compute/forecast';
import { splitSimulations } from '../compute/pi';
import { badInput } from '../errors';
import { fanOut, isInteger, isNumber, isObject, requireShape, type JobHandler } from '../jobs/handler';

export interface DateRange {
  from: string;
  to: string;
}
export interface ForecastInput {
  assets: number[];
  seed: number;
  dateRange: DateRange;
}
export interface ForecastResult {
  seed: number;
  dateRange: DateRange;
  forecasts: AssetForecast[];
}

export const MAX_SEED = 2_147_483_647;
const DAY_MS = 86_400_000;
const DEFAULT_RANGE_DAYS = 10;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10);

/** A calendar date `YYYY-MM-DD` that exists (2026-02-30 does not). */
function parseDate(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ISO_DATE.test(value) || isoDay(Date.parse(`${value}T00:00:00Z`) || 0) !== value) {
    throw badInput(`invalid field ${field}: a date written YYYY-MM-DD`, { field });
  }
  return value;
}

/** Default: today (UTC) to today + 10 days, as the source did. */
export function parseDateRange(raw: unknown, now = Date.now()): DateRange {
  if (raw === undefined || raw === null) return { from: isoDay(now), to: isoDay(now + DEFAULT_RANGE_DAYS * DAY_MS) };
  if (!isObject(raw)) throw badInput('invalid field dateRange: an object { from, to }', { field: 'dateRange' });
  const from = parseDate(raw.from ?? isoDay(now), 'dateRange.from');
  const to = raw.to === undefined || raw.to === null ? isoDay(Date.parse(`${from}T00:00:00Z`) + DEFAULT_RANGE_DAYS * DAY_MS) : parseDate(raw.to, 'dateRange.to');
  if (to < from) throw badInput(`invalid field dateRange: ${to} is before ${from}`, { field: 'dateRange' });
  return { from, to };
}

export function parseForecastInput(raw: Record<string, unknown>): ForecastInput {
  if (raw.assets === undefined || raw.assets === null) throw badInput('missing field assets', { field: 'assets' });
  const { assets } = raw;
  if (!Array.isArray(assets) || assets.length === 0) {
    throw badInput(`invalid field assets: a non-empty list of distinct integers from 1 to ${ASSET_COUNT}`, { field: 'assets' });
  }
  const seen = new Set<number>();
  for (const asset of assets) {
    if (!Number.isInteger(asset) || asset < 1 || asset > ASSET_COUNT) {
      throw badInput(`invalid field assets: ${JSON.stringify(asset)} is not an integer from 1 to ${ASSET_COUNT}`, { field: 'assets' });
    }
    if (seen.has(asset)) throw badInput(`invalid field assets: asset ${asset} is listed twice`, { field: 'assets' });
    seen.add(asset);
  }
  const seed = raw.seed ?? Math.floor(Math.random() * (MAX_SEED + 1));
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > MAX_SEED) {
    throw badInput(`invalid field seed: an integer from 0 to ${MAX_SEED}`, { field: 'seed' });
  }
  return { assets: assets as number[], seed: seed as number, dateRange: parseDateRange(raw.dateRange) };
}

export const forecastHandler: JobHandler<ForecastInput, ForecastResult> = {
  parseInput: parseForecastInput,
  async run(input, context) {
    // Scatter the assets over the workers in contiguous slices (the source scattered them over MPI ranks), then
    // gather the slices back in the order asked.
    const slices = splitSimulations(input.assets.length, Math.min(context.pool.size, input.assets.length));
    let offset = 0;
    const tasks = slices.map((length) => ({ seed: input.seed, assets: input.assets.slice(offset, (offset += length)) }));
    const results = await fanOut<AssetForecast[]>(context, 'forecast.assets', tasks);
    return { seed: input.seed, dateRange: input.dateRange, forecasts: results.flat() };
  },
  parseResult: (raw) =>
    requireShape(raw, {
      seed: isInteger,
      dateRange: (v) => isObject(v) && typeof v.from === 'string' && typeof v.to === 'string',
      forecasts: (v) =>
        Array.isArray(v) && v.every((f) => isObject(f) && isInteger(f.asset) && isNumber(f.value) && isNumber(f.weight) && (f.weight as number) >= 0 && (f.weight as number) <= 1),
    }) as unknown as ForecastResult,
};
