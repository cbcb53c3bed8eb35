/** Messages between the pool (main thread) and a worker. The pool knows task kinds only as strings. */
export type ToWorker =
  /** First message: where the worker notes what it runs and finishes (see WorkerLedger). */
  | { type: 'init'; ledger: SharedArrayBuffer }
  /** Tasks to start, oldest first: as many as the pool had ready for this worker (one message, not one each). */
  | { type: 'run'; tasks: TaskMessage[] }
  | { type: 'abort'; taskId: number };

export interface TaskMessage {
  taskId: number;
  kind: string;
  input: unknown;
}

export type TaskResult = { taskId: number; ok: true; value: unknown } | { taskId: number; ok: false; error: string; permanent: boolean };

export type FromWorker =
  | { type: 'progress'; taskId: number; value: number }
  /** Results of the tasks that finished since the last such message, in the order they finished. */
  | { type: 'results'; results: TaskResult[] };

/**
 * What a worker is doing, in memory the pool can read after the worker is gone (results travel in batches, so a
 * worker that dies may have finished tasks whose results never left it). Cell 0: the task whose synchronous part
 * runs now (0: none); cell 1 counts the tasks finished; the others hold the latest finished ids in a ring. With the
 * ring at least as long as the tasks one worker holds, every finished but unreported task is still in it.
 */
export class WorkerLedger {
  private readonly cells: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  static create(capacity: number): WorkerLedger {
    return new WorkerLedger(new SharedArrayBuffer(4 * (2 + Math.max(1, capacity))));
  }

  /** In the worker: `taskId`'s kernel is called now (0: it returned, or its promise did). */
  running(taskId: number): void {
    Atomics.store(this.cells, 0, taskId);
  }

  /** In the worker: `taskId` finished (noted before its result is queued to be sent). */
  finished(taskId: number): void {
    const count = this.cells[1]!;
    this.cells[2 + (count % (this.cells.length - 2))] = taskId;
    Atomics.store(this.cells, 1, count + 1);
  }

  /**
   * In the pool, once the worker died on its own: which of the tasks it held (oldest first) killed it — the one
   * whose synchronous code was running, else the oldest it had not finished (one awaiting something); undefined
   * when it had finished them all.
   */
  culprit<T extends { id: number }>(held: T[]): T | undefined {
    const running = Atomics.load(this.cells, 0);
    if (running !== 0) {
      const task = held.find((t) => t.id === running);
      if (task) return task;
    }
    const count = Atomics.load(this.cells, 1);
    const capacity = this.cells.length - 2;
    const finished = new Set<number>();
    for (let i = Math.max(0, count - capacity); i < count; i++) finished.add(this.cells[2 + (i % capacity)]!);
    return held.find((t) => !finished.has(t.id));
  }
}
