import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { assetSeries, fitLine, forecastSeries, normalCdf, SERIES_LENGTH } from '../src/compute/forecast';
import { parseDateRange } from '../src/simulations/forecast';
import { startTestServer, subscribe, type TestServer } from './helpers/server';

/** OLS by the normal equations on raw sums — a different route to the same closed form. */
function normalEquations(y: ArrayLike<number>) {
  const n = y.length;
  let st = 0, sy = 0, stt = 0, sty = 0;
  for (let t = 0; t < n; t++) {
    st += t;
    sy += y[t]!;
    stt += t * t;
    sty += t * y[t]!;
  }
  const slope = (n * sty - st * sy) / (n * stt - st * st);
  return { slope, intercept: (sy - slope * st) / n };
}

describe('the forecasting kernel', () => {
  test('OLS recovers an exact line, and forecasts its next step with full confidence', () => {
    const y = Array.from({ length: SERIES_LENGTH }, (_, t) => 3 - 0.25 * t);
    const fit = fitLine(y);
    expect(fit.intercept).toBeCloseTo(3, 10);
    expect(fit.slope).toBeCloseTo(-0.25, 12);
    expect(fit.residualStdDev).toBeCloseTo(0, 10);
    const forecast = forecastSeries(1, y);
    expect(forecast.value).toBeCloseTo(3 - 0.25 * 300, 9);
    expect(forecast.weight).toBe(0);
  });

  test('OLS on a hand-checked small series', () => {
    // y = 1, 3, 2, 5: t̄ = 1.5, ȳ = 2.75, Σ(t−t̄)(y−ȳ) = 5.5, Σ(t−t̄)² = 5 → slope 1.1, intercept 1.1.
    const fit = fitLine([1, 3, 2, 5]);
    expect(fit.slope).toBeCloseTo(1.1, 12);
    expect(fit.intercept).toBeCloseTo(1.1, 12);
  });

  test('on the seeded noise series, the fit agrees with the normal equations', () => {
    for (const asset of [1, 50, 100]) {
      const series = assetSeries(7, asset);
      expect(series.length).toBe(300);
      const fit = fitLine(series);
      const reference = normalEquations(series);
      expect(fit.slope).toBeCloseTo(reference.slope, 10);
      expect(fit.intercept).toBeCloseTo(reference.intercept, 10);
    }
  });

  test('the series are standard normal noise, reproducible from the seed, independent per asset', () => {
    expect([...assetSeries(1, 5)]).toEqual([...assetSeries(1, 5)]);
    expect(assetSeries(1, 5)[0]).not.toBe(assetSeries(1, 6)[0]);
    expect(assetSeries(1, 5)[0]).not.toBe(assetSeries(2, 5)[0]);
    const all = Array.from({ length: 100 }, (_, a) => [...assetSeries(3, a + 1)]).flat();
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const variance = all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length;
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(all.length));
    expect(variance).toBeGreaterThan(0.96);
    expect(variance).toBeLessThan(1.04);
  });

  test('the weight is Φ(value / standard error)', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
    const forecast = forecastSeries(9, assetSeries(11, 9));
    expect(forecast.weight).toBeCloseTo(normalCdf(forecast.value / forecast.standardError), 12);
  });

  test('date ranges: default today → +10 days; checked', () => {
    const now = Date.parse('2026-11-23T15:00:00Z');
    expect(parseDateRange(undefined, now)).toEqual({ from: '2026-11-23', to: '2026-12-03' });
    expect(parseDateRange({ from: '2026-02-25' }, now)).toEqual({ from: '2026-02-25', to: '2026-03-07' });
    expect(() => parseDateRange({ from: '2026-02-30' }, now)).toThrow('invalid field dateRange.from');
    expect(() => parseDateRange({ from: '2026-05-02', to: '2026-05-01' }, now)).toThrow('2026-05-01 is before 2026-05-02');
  });
});

describe('forecasting through the API', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = (await server.userWithRole('USER')).token;
  });
  afterAll(() => server.stop());

  const FORECAST = 'seed dateRange { from to } forecasts { asset value weight intercept slope standardError }';

  test('forecast(assets, seed): the kernel’s numbers, in the order asked, reproducible', async () => {
    const assets = [42, 7, 100, 1, 63];
    const result = await server.gql(`query($assets: [Int!]!) { forecast(assets: $assets, seed: 2024) { ${FORECAST} } }`, { assets }, token);
    expect(result.errors).toBeUndefined();
    const forecast = result.data!.forecast;
    expect(forecast.seed).toBe(2024);
    expect(forecast.forecasts.map((f: { asset: number }) => f.asset)).toEqual(assets);
    for (const item of forecast.forecasts) {
      const expected = forecastSeries(item.asset, assetSeries(2024, item.asset));
      expect(item.value).toBe(expected.value);
      expect(item.weight).toBe(expected.weight);
      expect(item.weight).toBeGreaterThanOrEqual(0);
      expect(item.weight).toBeLessThanOrEqual(1);
    }
    const today = new Date().toISOString().slice(0, 10);
    expect(forecast.dateRange.from).toBe(today);
  });

  test('bad assets, seeds and dates are refused with clear messages', async () => {
    const cases: [string, string][] = [
      ['forecast(assets: [])', 'invalid field assets: a non-empty list of distinct integers from 1 to 100'],
      ['forecast(assets: [0])', 'invalid field assets: 0 is not an integer from 1 to 100'],
      ['forecast(assets: [101])', 'invalid field assets: 101 is not an integer from 1 to 100'],
      ['forecast(assets: [3, 4, 3])', 'invalid field assets: asset 3 is listed twice'],
      ['forecast(assets: [3], seed: -1)', 'invalid field seed: an integer from 0 to 2147483647'],
      ['forecast(assets: [3], dateRange: { from: "tomorrow" })', 'invalid field dateRange.from: a date written YYYY-MM-DD'],
    ];
    for (const [call, message] of cases) {
      const result = await server.gql(`{ ${call} { seed } }`, {}, token);
      expect(result.errors?.[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
    }
  });

  test('submitForecastJob: assets spread over the workers, result stored and pushed on completion', async () => {
    const client = server.wsClient(token);
    const listening = server.nextSubscriptions('jobCompleted');
    const completed = subscribe(client, `subscription { jobCompleted(kind: FORECAST) { id status result { ... on Forecast { ${FORECAST} } } } }`);
    await listening;
    const assets = Array.from({ length: 100 }, (_, i) => 100 - i);
    const submitted = await server.gql(
      `mutation($input: ForecastJobInput!) { submitForecastJob(input: $input) { id kind status input } }`,
      { input: { assets, seed: 77, dateRange: { from: '2026-01-01', to: '2026-01-31' } } },
      token,
    );
    expect(submitted.errors).toBeUndefined();
    expect(submitted.data!.submitForecastJob).toMatchObject({ kind: 'FORECAST', input: { assets, seed: 77, dateRange: { from: '2026-01-01', to: '2026-01-31' } } });
    const [event] = await completed.waitFor(1, 10_000);
    completed.unsubscribe();
    const job = event!.data!.jobCompleted;
    expect(job).toMatchObject({ id: submitted.data!.submitForecastJob.id, status: 'SUCCEEDED' });
    expect(job.result.forecasts.map((f: { asset: number }) => f.asset)).toEqual(assets);
    const direct = await server.gql(`query($assets: [Int!]!) { forecast(assets: $assets, seed: 77) { ${FORECAST} } }`, { assets }, token);
    expect(job.result.forecasts).toEqual(direct.data!.forecast.forecasts);
    // The seed is kept with a job even when none was given, so any result can be recomputed.
    const unseeded = await server.gql('mutation { submitForecastJob(input: { assets: [5] }) { input } }', {}, token);
    expect(Number.isInteger(unseeded.data!.submitForecastJob.input.seed)).toBe(true);
    await client.dispose();
  });
});
