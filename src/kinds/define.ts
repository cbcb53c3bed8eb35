// The public API of a job kind: `import { defineJobKind } from "jobgraph"` (package.json `exports`). Built-in kinds
// and the files of kinds/ (JOB_KINDS_DIR) are declared alike; this module imports nothing but zod's types, so a
// kind file loads as cheaply in a pool Worker as in the server.
import type { z } from 'zod';

/** What `run` gets besides its input. */
export interface JobKindContext {
  /** How far the job got, 0..1 (throttled before it reaches the database and the subscribers). */
  progress(fraction: number): void;
  /** Aborts when the job is cancelled or its attempt times out; a run that does not stop soon after is terminated. */
  signal: AbortSignal;
  /** The results of the job's flow parents, by key; empty for a job outside a flow. */
  parents: Readonly<Record<string, unknown>>;
  /** The job's id, as `Job.id` gives it. */
  jobId: string;
  /** Which attempt this is, from 1. */
  attempt: number;
}

export interface JobKindDefinition<Input extends z.ZodType = z.ZodType, Result extends z.ZodType = z.ZodType, Context extends JobKindContext = JobKindContext> {
  /** camelCase; derives the JobSubmission member (`wordCount`), the types (`WordCountJobInput`, `WordCountResult`) and the JobKind value (`WORD_COUNT`). */
  readonly name: string;
  /** Shown in the schema (the JobKind value, the input and result types) and on the dashboard. */
  readonly description: string;
  /** Checked once, at submission; what it gives (defaults filled in) is stored and run. */
  readonly input: Input;
  /** What `run` must return; a result it rejects fails the attempt. */
  readonly result: Result;
  run(input: z.output<Input>, context: Context): Promise<z.input<Result>> | z.input<Result>;
}

/** Marks a kind file's default export as a kind (the loader refuses anything else). */
export const JOB_KIND = Symbol.for('jobgraph.jobKind');

export type DefinedJobKind<Input extends z.ZodType = z.ZodType, Result extends z.ZodType = z.ZodType, Context extends JobKindContext = JobKindContext> = JobKindDefinition<
  Input,
  Result,
  Context
> & { readonly [JOB_KIND]: true };

/** Declares a job kind: a kind file default-exports what this returns. */
export function defineJobKind<Input extends z.ZodType, Result extends z.ZodType, Context extends JobKindContext = JobKindContext>(
  definition: JobKindDefinition<Input, Result, Context>,
): DefinedJobKind<Input, Result, Context> {
  return Object.freeze({ ...definition, [JOB_KIND]: true as const });
}

export const isDefinedJobKind = (value: unknown): value is DefinedJobKind => typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_KIND] === true;

/** `wordCount` → `WORD_COUNT`: the JobKind value, also what a job row stores as its kind. */
export const kindConstantOf = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
/** `wordCount` → `WordCount`: the prefix of its GraphQL types. */
export const kindTypePrefixOf = (name: string) => name[0]!.toUpperCase() + name.slice(1);
