import { piFromCounts, splitSimulations, taskSeed } from '../compute/pi';
import { badInput } from '../errors';
import { fanOut, isInteger, isNumber, requireShape, type JobHandler } from '../jobs/handler';

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
