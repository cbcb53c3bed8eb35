/** What a kernel may do besides computing: report how far it got (0..1). */
export interface KernelContext {
  progress(fraction: number): void;
  /** Aborts when the task is cancelled or times out (a kernel that looks can stop cleanly; one that does not is terminated). */
  signal: AbortSignal;
}

export type Kernel<I = any, O = any> = (input: I, context: KernelContext) => O | Promise<O>;

/**
 * Thrown by a kernel for input it can never succeed on: the job fails at once instead of being retried.
 */
export class KernelInputError extends Error {
  override name = 'KernelInputError';
}
