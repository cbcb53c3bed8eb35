import { evaluateChunk, evaluateList } from './calculator/kernel';
import { runDiagnostic } from './diagnostic';
import { forecastAssets } from './forecast';
import type { Kernel } from './kernel';
import { countInside } from './pi';

/** Every task kind a worker can run, by name. Pure functions: no GraphQL, no database. */
export const kernels: Record<string, Kernel> = {
  'pi.count': (input: { samples: number; seed: number }, context) => countInside(input.samples, input.seed, context),
  'forecast.assets': forecastAssets,
  'calc.evaluate': evaluateChunk,
  'calc.evaluateList': evaluateList,
  diagnostic: runDiagnostic,
};
