import { DIAGNOSTIC_BEHAVIORS, type DiagnosticBehavior } from '../compute/diagnostic';
import type { JobKind } from '../db/schema';
import { badInput } from '../errors';
import { analyticsHandler } from '../analytics/handler';
import { calcHandler } from '../calculator/handler';
import { forecastHandler } from '../simulations/forecast';
import { piHandler } from '../simulations/pi';
import { fanOut, isNumber, requireShape, type JobHandler } from './handler';

export interface DiagnosticInput {
  behavior: DiagnosticBehavior;
  durationMs: number;
}

export const diagnosticHandler: JobHandler<DiagnosticInput, { behavior: string; elapsedMs: number }> = {
  parseInput(raw) {
    const behavior = raw.behavior as DiagnosticBehavior;
    if (!DIAGNOSTIC_BEHAVIORS.includes(behavior)) throw badInput(`invalid field behavior: one of ${DIAGNOSTIC_BEHAVIORS.join(', ')}`);
    const durationMs = raw.durationMs ?? 0;
    if (typeof durationMs !== 'number' || !Number.isInteger(durationMs) || durationMs < 0 || durationMs > 600_000) {
      throw badInput('invalid field durationMs: an integer from 0 to 600000', { field: 'durationMs' });
    }
    return { behavior, durationMs };
  },
  run: async (input, context) => (await fanOut<{ behavior: string; elapsedMs: number }>(context, 'diagnostic', [input]))[0]!,
  parseResult: (raw) => requireShape(raw, { behavior: (v) => typeof v === 'string', elapsedMs: isNumber }) as never,
};

/** Every job kind, by name: how to check its input, run it on the pool, and check a hand-made result. */
export const jobHandlers: Partial<Record<JobKind, JobHandler>> = {
  PI: piHandler,
  FORECAST: forecastHandler,
  CALC: calcHandler,
  ANALYTICS: analyticsHandler,
  DIAGNOSTIC: diagnosticHandler,
};
