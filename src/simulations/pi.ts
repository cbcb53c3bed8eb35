import { z } from 'zod';
import { piFromCounts, splitSimulations, taskSeed } from '../compute/pi';
import { integerIn } from '../input';
import { defineJobKind } from '../kinds/define';
import { runTasks, type RunContext } from '../jobs/kind';

export const MIN_SIMULATIONS = 100;
export const MAX_SIMULATIONS = 100_000_000;
const SEEDS = 2 ** 32;

/** The source system's validation, in its order and with its exact messages (shared/specs/pi-and-quotes.md). */
export const piInput = z.object({
  simulations: z
    .int({ error: (issue) => (issue.input === undefined ? 'missing field simulations' : 'invalid field simulations') })
    .min(MIN_SIMULATIONS, { error: 'invalid field simulations' })
    .max(MAX_SIMULATIONS, { error: 'invalid field simulations' }),
  concurrency: integerIn(1, 8, 'invalid field concurrency').default(1),
  seed: integerIn(0, SEEDS - 1, `invalid field seed: an integer from 0 to ${SEEDS - 1}`)
    .nullish()
    .transform((seed) => seed ?? Math.floor(Math.random() * SEEDS)),
});
export type PiInput = z.output<typeof piInput>;

export const piEstimate = z.object({
  simulations: z.int(),
  concurrency: z.int(),
  pi: z.number(),
  simulationsDistribution: z.array(z.int()),
  seconds: z.number(),
  seed: z.number().nullish(),
});
export type PiEstimate = z.output<typeof piEstimate>;

/** π by Monte Carlo: the samples split over `concurrency` pool tasks, each with its own seed, then summed. */
export const piKind = defineJobKind({
  name: 'pi',
  description: 'A Monte Carlo estimate of π (submitPiJob → PiResult).',
  input: piInput,
  result: piEstimate,
  async run(input, context: RunContext): Promise<PiEstimate> {
    const started = performance.now();
    const distribution = splitSimulations(input.simulations, input.concurrency);
    const counts = await runTasks<number>(
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
});
