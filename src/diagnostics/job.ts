import { z } from 'zod';
import { DIAGNOSTIC_BEHAVIORS } from '../compute/diagnostic';
import { integerIn } from '../input';
import { fanOut, type JobKind } from '../jobs/kind';

export const diagnosticInput = z.object({
  behavior: z.enum(DIAGNOSTIC_BEHAVIORS, { error: `invalid field behavior: one of ${DIAGNOSTIC_BEHAVIORS.join(', ')}` }),
  durationMs: integerIn(0, 600_000, 'invalid field durationMs: an integer from 0 to 600000')
    .nullish()
    .transform((ms) => ms ?? 0),
});
export type DiagnosticInput = z.output<typeof diagnosticInput>;

export const diagnosticResult = z.object({ behavior: z.string(), elapsedMs: z.number() });
export type DiagnosticResult = z.output<typeof diagnosticResult>;

/** Jobs that exercise the pool itself (one task of the diagnostic kernel): for operators, the tests and the benchmark. */
export const diagnosticJob: JobKind<DiagnosticInput, DiagnosticResult> = {
  name: 'DIAGNOSTIC',
  input: diagnosticInput,
  result: diagnosticResult,
  run: async (input, context) => (await fanOut<DiagnosticResult>(context, 'diagnostic', [input]))[0]!,
};
