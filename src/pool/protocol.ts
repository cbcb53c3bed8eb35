/** Messages between the pool (main thread) and a worker. The pool knows task kinds only as strings. */
export type ToWorker = { type: 'run'; taskId: number; kind: string; input: unknown } | { type: 'abort'; taskId: number };

export type FromWorker =
  | { type: 'progress'; taskId: number; value: number }
  | { type: 'result'; taskId: number; ok: true; value: unknown }
  | { type: 'result'; taskId: number; ok: false; error: string; permanent: boolean };
