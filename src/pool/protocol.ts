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
 * runs now (0: none); cell 1 counts the tasks finished; the next `capacity` cells hold the latest finished ids in a
 * ring. With the ring at least as long as the tasks one worker holds, every finished but unreported task is still in
 * it. A second ring, indexed by the order the worker received its tasks, holds when each started (its timeout
 * counts from then, not from when it was sent: a task queued behind others on its worker is not late for waiting).
 */
export class WorkerLedger {
  private readonly cells: Int32Array;
  /** Start ring: the task id at each received index (mod capacity), and its start time (ms since the epoch). */
  private readonly startedIds: Int32Array;
  private readonly startedAt: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    const capacity = (buffer.byteLength - 8) / 16;
    this.cells = new Int32Array(buffer, 0, 2 + capacity);
    this.startedIds = new Int32Array(buffer, 4 * (2 + capacity), capacity);
    this.startedAt = new Float64Array(buffer, 8 * (1 + capacity), capacity);
  }

  static create(capacity: number): WorkerLedger {
    // Two cells, then per entry: a finished id and a started id (4 bytes each) and a start time (8).
    return new WorkerLedger(new SharedArrayBuffer(8 + 16 * Math.max(1, capacity)));
  }

  /** In the worker: `taskId`'s kernel is called now (0: it returned, or its promise did). */
  running(taskId: number): void {
    Atomics.store(this.cells, 0, taskId);
  }

  /** In the worker: `taskId` finished (noted before its result is queued to be sent). */
  finished(taskId: number): void {
    const capacity = this.startedIds.length;
    const count = this.cells[1]!;
    this.cells[2 + (count % capacity)] = taskId;
    Atomics.store(this.cells, 1, count + 1);
  }

  /** In the worker: the task it received `index`-th (from 0) starts now. */
  started(index: number, taskId: number): void {
    const at = index % this.startedIds.length;
    this.startedAt[at] = performance.timeOrigin + performance.now();
    Atomics.store(this.startedIds, at, taskId);
  }

  /**
   * In the pool: when the task sent `index`-th to this worker started, as the pool's performance.now(); undefined
   * while it has not. Its entry is overwritten once `capacity` later tasks have started: the pool reads it before
   * sending more (see WorkerPool.noteStarts), with the capacity over twice the tasks a worker holds.
   */
  startOf(index: number, taskId: number): number | undefined {
    const at = index % this.startedIds.length;
    if (Atomics.load(this.startedIds, at) !== taskId) return undefined;
    return this.startedAt[at]! - performance.timeOrigin;
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
    const capacity = this.startedIds.length;
    const finished = new Set<number>();
    for (let i = Math.max(0, count - capacity); i < count; i++) finished.add(this.cells[2 + (i % capacity)]!);
    return held.find((t) => !finished.has(t.id));
  }
}
