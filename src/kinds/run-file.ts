// The worker's side of a kind file: its module loaded once per worker by path, its `run` called with the job's context.
import type { KernelContext } from '../compute/kernel';
import { type DefinedJobKind, isDefinedJobKind } from './define';

/** The pool task that runs a kind file's `run` (served by kinds/worker.ts). */
export const RUN_KIND_FILE = 'kind.run';

export interface KindFileTask {
  file: string;
  input: unknown;
  jobId: string;
  attempt: number;
  parents: Readonly<Record<string, unknown>>;
}

const loaded = new Map<string, Promise<DefinedJobKind>>();

async function load(file: string): Promise<DefinedJobKind> {
  const exported = (await import(file)).default;
  // The server checked this file at start; a file changed since then is refused here rather than run half-checked.
  if (!isDefinedJobKind(exported)) throw new Error(`${file} no longer default-exports a defineJobKind(...)`);
  return exported;
}

export async function runKindFile(task: KindFileTask, context: KernelContext): Promise<unknown> {
  let kind = loaded.get(task.file);
  if (!kind) loaded.set(task.file, (kind = load(task.file)));
  return (await kind).run(task.input, {
    progress: context.progress,
    signal: context.signal,
    parents: task.parents,
    jobId: task.jobId,
    attempt: task.attempt,
  });
}
