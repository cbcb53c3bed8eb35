// Forecasting (the source's "financial calculations"): per asset, a seeded series of standard-normal noise,
// an ordinary least-squares line y = b0 + b1·t over t = 0..299, and the forecast at t = 300.

export const SERIES_LENGTH = 300;
export const ASSET_COUNT = 100;

/** splitmix32: seeds a generator from (seed, asset) so each asset's series is independent and reproducible. */
function splitmix32(value: number): number {
  let z = (value + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}

/** xoshiro128** — a small, well-tested 32-bit generator; returns uniforms in (0, 1). */
function xoshiro128(seed: number): () => number {
  let a = splitmix32(seed), b = splitmix32(a), c = splitmix32(b), d = splitmix32(c);
  if ((a | b | c | d) === 0) a = 1;
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11);
    return (result + 0.5) / 4294967296;
  };
}
const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** The series of one asset for one seed: SERIES_LENGTH standard-normal values (Box–Muller). */
export function assetSeries(seed: number, asset: number): Float64Array {
  const uniform = xoshiro128((seed >>> 0) ^ Math.imul(asset, 0x632be5ab));
  const series = new Float64Array(SERIES_LENGTH);
  for (let t = 0; t < SERIES_LENGTH; t += 2) {
    const radius = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    series[t] = radius * Math.cos(angle);
    if (t + 1 < SERIES_LENGTH) series[t + 1] = radius * Math.sin(angle);
  }
  return series;
}

export interface LineFit {
  intercept: number;
  slope: number;
  /** Residual standard deviation, s = √(SSE / (n − 2)). */
  residualStdDev: number;
}

/** Ordinary least squares of y on t = 0..n−1, in closed form (centred sums, for numerical stability). */
export function fitLine(y: ArrayLike<number>): LineFit {
  const n = y.length;
  if (n < 3) throw new RangeError('a line fit needs at least 3 points');
  const meanT = (n - 1) / 2;
  let meanY = 0;
  for (let t = 0; t < n; t++) meanY += y[t]!;
  meanY /= n;
  let sty = 0;
  for (let t = 0; t < n; t++) sty += (t - meanT) * (y[t]! - meanY);
  const stt = (n * (n * n - 1)) / 12; // Σ (t − t̄)² for t = 0..n−1
  const slope = sty / stt;
  const intercept = meanY - slope * meanT;
  let sse = 0;
  for (let t = 0; t < n; t++) sse += (y[t]! - intercept - slope * t) ** 2;
  return { intercept, slope, residualStdDev: Math.sqrt(sse / (n - 2)) };
}

/** Standard normal cumulative distribution (erfc by Numerical Recipes' Chebyshev fit, |error| < 1.2·10⁻⁷). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

export interface AssetForecast {
  asset: number;
  /** ŷ(300) = b0 + 300·b1. */
  value: number;
  /**
   * Φ(ŷ / SE(ŷ)): the one-sided confidence, under the fitted model, that the expected next value is above zero.
   * 0.5 means no signal; near 1 a confident rise, near 0 a confident fall. SE(ŷ) = s·√(1/n + (300 − t̄)²/Σ(t − t̄)²).
   */
  weight: number;
  intercept: number;
  slope: number;
  standardError: number;
}

/** Fits a series and forecasts its next step. */
export function forecastSeries(asset: number, series: ArrayLike<number>): AssetForecast {
  const n = series.length;
  const { intercept, slope, residualStdDev } = fitLine(series);
  const value = intercept + slope * n;
  const meanT = (n - 1) / 2;
  const standardError = residualStdDev * Math.sqrt(1 / n + (n - meanT) ** 2 / ((n * (n * n - 1)) / 12));
  const weight = standardError > 0 ? normalCdf(value / standardError) : value > 0 ? 1 : value < 0 ? 0 : 0.5;
  return { asset, value, weight, intercept, slope, standardError };
}

/** The kernel a worker runs: the forecasts of some of a job's assets. */
export const forecastAssets = (input: { seed: number; assets: number[] }): AssetForecast[] =>
  input.assets.map((asset) => forecastSeries(asset, assetSeries(input.seed, asset)));
