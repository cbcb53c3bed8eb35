// The kind files of kinds/ (JOB_KINDS_DIR): found, loaded and checked at start; each becomes a kind the engine runs
// on the pool. A file that cannot be used stops the start with one line naming it (KindFileError: exit 2).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config';
import type { JobKind } from '../jobs/kind';
import { TaskError } from '../pool/pool';
import { type DefinedJobKind, isDefinedJobKind, kindConstantOf } from './define';
import { provideKindImports } from './resolve';
import { type KindFileTask, RUN_KIND_FILE } from './run-file';

/** A run asked to stop (cancelled, timed out) has this long to return before its worker is terminated. */
export const ABORT_GRACE_MS = 1000;

/** A kind file's kind: its schemas are objects (their fields become GraphQL fields). */
export type FileKind = DefinedJobKind<z.ZodObject, z.ZodObject>;

export interface KindFile {
  /** The module's absolute path (what the workers import). */
  file: string;
  /** As the operator knows it, for messages: relative to the working directory. */
  shownAs: string;
  kind: FileKind;
}

/** A kind file that cannot be used; its message is one line that starts with the file. */
export class KindFileError extends ConfigError {
  constructor(readonly file: string, problem: string) {
    super(`job kind file ${file}: ${problem}`);
    this.name = 'KindFileError';
  }
}

const NAME = /^[a-z][a-zA-Z0-9]{0,39}$/;
const SOURCE = /\.(ts|tsx|js|mjs)$/;
const skipped = (name: string) => name.startsWith('.') || name.startsWith('_') || name.endsWith('.d.ts') || /\.(test|spec)\.[a-z]+$/.test(name);

/** The kind files of `dir`, in name order: modules directly in it (not in subfolders, which may hold their helpers). */
export function kindFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => SOURCE.test(name) && !skipped(name) && statSync(join(dir, name)).isFile())
    .sort()
    .map((name) => join(dir, name));
}

/**
 * Loads and checks every kind file of `dir`; `reserved` holds the built-in kinds' names (a clash is refused).
 * A missing directory is no kinds, unless the operator named it (`required`).
 */
export async function loadKindFiles(where: string, reserved: readonly string[], required = false): Promise<KindFile[]> {
  const dir = resolve(where);
  if (!existsSync(dir)) {
    if (required) throw new ConfigError(`JOB_KINDS_DIR ${dir} does not exist`);
    return [];
  }
  if (!statSync(dir).isDirectory()) throw new ConfigError(`JOB_KINDS_DIR ${dir} is not a directory`);
  provideKindImports();
  const taken = new Map<string, string>(reserved.map((name) => [kindConstantOf(name), 'a built-in kind']));
  const files: KindFile[] = [];
  for (const file of kindFilesIn(dir)) {
    const shownAs = relative(process.cwd(), file) || file;
    const kind = checkedKind(shownAs, await importKind(shownAs, file));
    const constant = kindConstantOf(kind.name);
    const holder = taken.get(constant);
    if (holder) throw new KindFileError(shownAs, `kind "${kind.name}" (${constant}) clashes with ${holder}`);
    taken.set(constant, shownAs);
    files.push({ file, shownAs, kind });
  }
  return files;
}

async function importKind(shownAs: string, file: string): Promise<unknown> {
  try {
    return (await import(file)).default;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new KindFileError(shownAs, `cannot be loaded: ${message.split('\n')[0]}`);
  }
}

function checkedKind(shownAs: string, exported: unknown): FileKind {
  const refuse = (problem: string): never => {
    throw new KindFileError(shownAs, problem);
  };
  if (!isDefinedJobKind(exported)) return refuse('its default export is not a defineJobKind({ ... }) from "jobgraph"');
  const { name, description, input, result, run } = exported;
  if (typeof name !== 'string' || !NAME.test(name)) return refuse(`name ${JSON.stringify(name)} is not camelCase (a lowercase letter, then up to 39 letters and digits)`);
  if (typeof description !== 'string' || description.trim() === '') return refuse(`kind "${name}" needs a description`);
  if (!(input instanceof z.ZodObject)) return refuse(`kind "${name}": input must be a z.object({ ... })`);
  if (!(result instanceof z.ZodObject)) return refuse(`kind "${name}": result must be a z.object({ ... })`);
  if (typeof run !== 'function') return refuse(`kind "${name}": run must be a function`);
  return exported as FileKind;
}

/** A file's kind as the engine runs it: its `run` in a pool Worker, its result checked against its schema here. */
export function engineKindOf({ file, kind }: KindFile): JobKind<unknown, unknown> {
  return {
    name: kind.name,
    description: kind.description,
    input: kind.input,
    result: kind.result,
    async run(input, context) {
      const task: KindFileTask = { file, input, jobId: context.jobId, attempt: context.attempt, parents: context.parents };
      const value = await context.pool.run(RUN_KIND_FILE, task, {
        signal: context.signal,
        timeoutMs: context.timeoutMs,
        onProgress: context.progress,
        abortGraceMs: ABORT_GRACE_MS,
      });
      const checked = kind.result.safeParse(value);
      if (checked.success) return checked.data;
      const issues = checked.error.issues.map((issue) => `${issue.path.join('.') || '(the result)'}: ${issue.message}`).join('; ');
      // An attempt like any other that failed: retried as usual.
      throw new TaskError(`the result of ${kind.name} does not match its result schema: ${issues}`, true, 'kernel');
    },
  };
}
