import { z } from 'zod';
import { DIAGNOSTIC_BEHAVIORS } from '../compute/diagnostic';
import { integerIn, parseInput } from '../input';
import { defineJobKind } from '../kinds/define';
import { runTasks, type RunContext } from '../jobs/kind';

export const diagnosticInput = z.object({
  behavior: z.enum(DIAGNOSTIC_BEHAVIORS, { error: `invalid field behavior: one of ${DIAGNOSTIC_BEHAVIORS.join(', ')}` }),
  durationMs: integerIn(0, 600_000, 'invalid field durationMs: an integer from 0 to 600000')
    .nullish()
    .transform((ms) => ms ?? 0),
});
export type DiagnosticInput = z.output<typeof diagnosticInput>;

/** How many alike diagnostic jobs one call submits. */
export const diagnosticBatchInput = z.object({
  count: integerIn(1, 10_000, 'count must be an integer from 1 to 10000')
    .nullish()
    .transform((count) => count ?? 1),
});

/** `count` copies of one diagnostic input (their kind's schema checks them at submission). */
export function diagnosticBatch(input: { behavior: unknown; durationMs?: unknown }, count: number | null | undefined): unknown[] {
  const batch = parseInput(diagnosticBatchInput, { count });
  return Array.from({ length: batch.count }, () => ({ behavior: input.behavior, durationMs: input.durationMs ?? 0 }));
}

export const diagnosticResult = z.object({ behavior: z.string(), elapsedMs: z.number() });
export type DiagnosticResult = z.output<typeof diagnosticResult>;

/** Jobs that exercise the pool itself (one task of the diagnostic kernel): for operators, the tests and the benchmark. */
export const diagnosticKind = defineJobKind({
  name: 'diagnostic',
  description: 'An admin’s test of the worker pool: succeed, sleep, throw, exit or hang (submitDiagnosticJobs → DiagnosticResult).',
  input: diagnosticInput,
  result: diagnosticResult,
  run: async (input, context: RunContext): Promise<DiagnosticResult> => (await runTasks<DiagnosticResult>(context, 'diagnostic', [input]))[0]!,
});
