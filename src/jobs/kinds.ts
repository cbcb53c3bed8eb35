import { DIAGNOSTIC_BEHAVIORS, type DiagnosticBehavior } from '../compute/diagnostic';
import { piFromCounts, splitSimulations, taskSeed } from '../compute/pi';
import type { JobKind } from '../db/schema';
import { badInput } from '../errors';
import type { WorkerPool } from '../pool/pool';

/** What a job kind's run gets: the pool, a cancel signal, the per-task timeout and a progress callback. */
export interface RunContext {
  pool: WorkerPool;
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

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function requireShape(raw: unknown, fields: Record<string, (value: unknown) => boolean>): Record<string, unknown> {
  if (!isObject(raw)) throw badInput('result must be a JSON object');
  for (const [name, check] of Object.entries(fields)) {
    if (!check(raw[name])) throw badInput(`result field "${name}" is missing or of the wrong type`, { field: name });
  }
  return raw;
}
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isInteger = (v: unknown) => Number.isInteger(v);

// ---- π ------------------------------------------------------------------------------------------------

export interface PiInput {
  simulations: number;
  concurrency: number;
  seed: number;
}
export interface PiEstimate {
  simulations: number;
  concurrency: number;
  pi: number;
  simulationsDistribution: number[];
  seconds: number;
  seed: number;
}

export const MIN_SIMULATIONS = 100;
export const MAX_SIMULATIONS = 100_000_000;

/** The source system's validation, in its order and with its exact messages (shared/specs/pi-and-quotes.md). */
export function parsePiInput(raw: Record<string, unknown>): PiInput {
  if (!('simulations' in raw) || raw.simulations === undefined) throw badInput('missing field simulations', { field: 'simulations' });
  const { simulations } = raw;
  if (typeof simulations !== 'number' || !Number.isInteger(simulations) || simulations < MIN_SIMULATIONS || simulations > MAX_SIMULATIONS) {
    throw badInput('invalid field simulations', { field: 'simulations' });
  }
  const concurrency = raw.concurrency === undefined ? 1 : raw.concurrency;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 8) {
    throw badInput('invalid field concurrency', { field: 'concurrency' });
  }
  const seed = raw.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw badInput('invalid field seed: an integer from 0 to 4294967295', { field: 'seed' });
  }
  return { simulations, concurrency, seed };
}

export const piHandler: JobHandler<PiInput, PiEstimate> = {
  parseInput: parsePiInput,
  async run(input, context) {
    const started = performance.now();
    const distribution = splitSimulations(input.simulations, input.concurrency);
    const counts = await fanOut<number>(
      context,
      'pi.count',
      distribution.map((samples, index) => ({ samples, seed: taskSeed(input.seed, index) })),
    );
    const inside = counts.reduce((a, b) => a + b, 0);
    return {
      simulations: input.simulations,
      concurrency: input.concurrency,
      pi: piFromCounts(inside, input.simulations),
      simulationsDistribution: distribution,
      seconds: (performance.now() - started) / 1000,
      seed: input.seed,
    };
  },
  parseResult: (raw) =>
    requireShape(raw, {
      simulations: isInteger,
      concurrency: isInteger,
      pi: isNumber,
      simulationsDistribution: (v) => Array.isArray(v) && v.every(isInteger),
      seconds: isNumber,
    }) as unknown as PiEstimate,
};

// ---- diagnostic ----------------------------------------------------------------------------------------

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

/** The kinds wired so far; FORECAST, CALC and ANALYTICS join as their kernels land. */
export const jobHandlers: Partial<Record<JobKind, JobHandler>> = {
  PI: piHandler,
  DIAGNOSTIC: diagnosticHandler,
};
