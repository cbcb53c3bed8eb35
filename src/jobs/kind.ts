import type { z } from 'zod';
import { badInput } from '../errors';
import { fieldOf } from '../input';
import type { WorkerPool } from '../pool/pool';
import type { JobKindName } from './model';

/** What a kind's run gets: the pool, a cancel signal, the per-task timeout and a progress callback. */
export interface RunContext {
  pool: Pick<WorkerPool, 'size' | 'run'>;
  signal: AbortSignal;
  timeoutMs: number;
  progress(fraction: number): void;
  /** A flow node's parents' results by their keys (null for one that did not succeed); empty outside flows. */
  parents?: Readonly<Record<string, unknown>>;
}

/**
 * A job kind, defined by the domain that owns it (src/<domain>/job.ts) and registered by the composition root
 * (src/app.ts): the engine knows kinds only through this.
 */
export interface JobKind<Input = unknown, Result = unknown> {
  readonly name: JobKindName;
  /** Checks a submitted input once, at submission, and gives the form that is stored and run (defaults filled in). */
  readonly input: z.ZodType<Input>;
  /** The result's shape: what completeJob accepts for a pulled job, and what the kind's GraphQL type shows. */
  readonly result: z.ZodType<Result>;
  /** Computes the result from a stored input (already checked: never parsed again), usually with runTasks. */
  run(input: Input, context: RunContext): Promise<Result>;
}

export type JobKinds = ReadonlyMap<JobKindName, JobKind<any, any>>;

/** The kinds this process runs, by name. */
export function jobKindRegistry(kinds: JobKind<any, any>[]): JobKinds {
  const registry = new Map<JobKindName, JobKind<any, any>>();
  for (const kind of kinds) {
    if (registry.has(kind.name)) throw new Error(`job kind ${kind.name} is registered twice`);
    registry.set(kind.name, kind);
  }
  return registry;
}

/**
 * Runs tasks in parallel on the pool; the job's progress is the mean of its tasks'. A finished task counts as
 * done at once: short tasks (a calc chunk) finish before their worker's throttled progress says anything.
 */
export function runTasks<T>(context: RunContext, task: string, inputs: unknown[]): Promise<T[]> {
  const progress = new Array<number>(inputs.length).fill(0);
  let total = 0;
  const advance = (index: number, fraction: number) => {
    total += fraction - progress[index]!;
    progress[index] = fraction;
    context.progress(total / inputs.length);
  };
  return Promise.all(
    inputs.map((input, index) =>
      context.pool
        .run<T>(task, input, { signal: context.signal, timeoutMs: context.timeoutMs, onProgress: (fraction) => advance(index, fraction) })
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
