import type { z } from 'zod';
import { badInput } from '../errors';
import { fieldOf } from '../input';
import type { StopSignal, WorkerPool } from '../pool/pool';
import { type JobKindContext, kindConstantOf } from '../kinds/define';
import type { JobKindName } from './model';

/**
 * What a kind's run gets in the server: the public context (progress, signal, parents, jobId, attempt) and, for the
 * built-in kinds that split their work over the pool themselves (runTasks), the pool and the per-task timeout.
 */
export interface RunContext extends JobKindContext {
  pool: Pick<WorkerPool, 'size' | 'run'>;
  timeoutMs: number;
  /** Stops when `signal` aborts, for the pool's tasks: no AbortSignal is made for a run that never reads `signal`. */
  stop: StopSignal;
}

/**
 * A job kind as the engine runs it: declared with defineJobKind (src/<domain>/<kind>.ts for the built-ins, a file of
 * kinds/ for the others, see src/kinds/) and registered by the composition root (src/app.ts). Its input schema checks
 * a submitted input once, at submission, and gives the form that is stored and run (defaults filled in); `run` gets
 * that stored form (never parsed again); its result schema is what a result must be.
 */
export interface JobKind<Input = unknown, Result = unknown> {
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType<Input>;
  readonly result: z.ZodType<Result>;
  /** Computes the result from a stored input (already checked: never parsed again); built-ins usually with runTasks. */
  run(input: Input, context: RunContext): Result | Promise<Result>;
}

export type JobKinds = ReadonlyMap<JobKindName, JobKind<any, any>>;

/** The kinds this process runs, by their stored name (`wordCount` → `WORD_COUNT`). */
export function jobKindRegistry(kinds: JobKind<any, any>[]): JobKinds {
  const registry = new Map<JobKindName, JobKind<any, any>>();
  for (const kind of kinds) {
    const stored = kindConstantOf(kind.name) as JobKindName;
    if (registry.has(stored)) throw new Error(`job kind ${kind.name} is registered twice`);
    registry.set(stored, kind);
  }
  return registry;
}

/**
 * Runs tasks in parallel on the pool; the job's progress is the mean of its tasks'. A finished task counts as
 * done at once: short tasks (a calc chunk) finish before their worker's throttled progress says anything. Nothing
 * says 100%: the job's outcome, written next, sets its progress to 1 (a write and an update per job less).
 */
export function runTasks<T>(context: RunContext, task: string, inputs: unknown[]): Promise<T[]> {
  // One task (a diagnostic job, a small π): its own progress is the job's, without the bookkeeping below.
  if (inputs.length === 1) {
    const onProgress = (fraction: number) => fraction < 1 && context.progress(fraction);
    return context.pool.run<T>(task, inputs[0], { signal: context.stop, timeoutMs: context.timeoutMs, onProgress }).then((value) => [value]);
  }
  const progress = new Array<number>(inputs.length).fill(0);
  let total = 0;
  const advance = (index: number, fraction: number) => {
    total += fraction - progress[index]!;
    progress[index] = fraction;
    // 100% (the last task's kernel said 1): the outcome says it.
    if (total < inputs.length) context.progress(total / inputs.length);
  };
  return Promise.all(
    inputs.map((input, index) =>
      context.pool
        .run<T>(task, input, { signal: context.stop, timeoutMs: context.timeoutMs, onProgress: (fraction) => advance(index, fraction) })
        .then((value) => {
          advance(index, 1);
          return value;
        }),
    ),
  );
}

/** Checks a result a person hands in; a problem names the result field (BAD_USER_INPUT). */
export function parseResult<Result>(kind: JobKind<unknown, Result>, raw: unknown): Result {
  const parsed = kind.result.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = fieldOf(issue).split('.')[0];
  if (!field) throw badInput('result must be a JSON object');
  throw badInput(`result field "${field}" is missing or of the wrong type`, { field });
}
