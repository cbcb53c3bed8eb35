import { badInput } from '../errors';
import type { AnalyticsService } from '../analytics/service';
import type { WorkerPool } from '../pool/pool';

/** What a job kind's run gets: the pool, a cancel signal, the per-task timeout and a progress callback. */
export interface RunContext {
  pool: WorkerPool;
  /** For kinds computed from the in-memory analytics index rather than on the pool. */
  analytics: AnalyticsService;
  signal: AbortSignal;
  timeoutMs: number;
  progress(fraction: number): void;
}

/** A job kind: how to check its input, and how to run it as one or more pool tasks and gather the result. */
export interface JobHandler<Input = any, Result = any> {
  parseInput(raw: Record<string, unknown>): Input;
  run(input: Input, context: RunContext): Promise<Result>;
  /** Checks a result a person hands in with completeJob. */
  parseResult(raw: unknown): Result;
}

/** Runs tasks in parallel on the pool; the job's progress is the mean of its tasks'. */
export function fanOut<T>(context: RunContext, kind: string, inputs: unknown[]): Promise<T[]> {
  const progress = new Array<number>(inputs.length).fill(0);
  return Promise.all(
    inputs.map((input, index) =>
      context.pool.run<T>(kind, input, {
        signal: context.signal,
        timeoutMs: context.timeoutMs,
        onProgress: (fraction) => {
          progress[index] = fraction;
          context.progress(progress.reduce((a, b) => a + b, 0) / inputs.length);
        },
      }),
    ),
  );
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function requireShape(raw: unknown, fields: Record<string, (value: unknown) => boolean>): Record<string, unknown> {
  if (!isObject(raw)) throw badInput('result must be a JSON object');
  for (const [name, check] of Object.entries(fields)) {
    if (!check(raw[name])) throw badInput(`result field "${name}" is missing or of the wrong type`, { field: name });
  }
  return raw;
}
export const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
export const isInteger = (v: unknown) => Number.isInteger(v);

/** Runs a kind's computation now, on the pool, without storing a job (estimatePi, forecast, evaluate). */
export function runNow<I, R>(
  handler: JobHandler<I, R>,
  raw: Record<string, unknown>,
  services: Pick<RunContext, 'pool' | 'analytics'>,
  timeoutMs: number,
): Promise<R> {
  return handler.run(handler.parseInput(raw), { ...services, signal: AbortSignal.timeout(timeoutMs), timeoutMs, progress: () => {} });
}
