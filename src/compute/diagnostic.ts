import { KernelInputError, type KernelContext } from './kernel';

export const DIAGNOSTIC_BEHAVIORS = ['SUCCEED', 'SLEEP', 'THROW', 'EXIT', 'HANG'] as const;
export type DiagnosticBehavior = (typeof DIAGNOSTIC_BEHAVIORS)[number];

/**
 * The diagnostic kernel: lets an operator (and the tests, and the job benchmark) exercise the pool's fault
 * handling for real — a kernel that succeeds at once, sleeps, throws, kills its worker, or never returns.
 */
export async function runDiagnostic(input: { behavior: DiagnosticBehavior; durationMs: number }, context: KernelContext) {
  const started = performance.now();
  switch (input.behavior) {
    case 'SUCCEED':
      return { behavior: input.behavior, elapsedMs: 0 };
    case 'SLEEP': {
      const steps = Math.max(1, Math.min(20, Math.ceil(input.durationMs / 50)));
      for (let step = 1; step <= steps; step++) {
        await new Promise((resolve) => setTimeout(resolve, input.durationMs / steps));
        context.progress(step / steps);
      }
      return { behavior: input.behavior, elapsedMs: Math.round(performance.now() - started) };
    }
    case 'THROW':
      throw new Error('diagnostic kernel failed on purpose');
    case 'EXIT':
      process.exit(3);
      break;
    case 'HANG':
      for (;;) {
        // Busy forever: only the pool's timeout (terminating the worker) ends this.
      }
  }
  throw new KernelInputError(`unknown diagnostic behavior ${String(input.behavior)}`);
}
