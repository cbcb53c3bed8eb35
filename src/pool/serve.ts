// A worker's task loop: runs the kernel named by each task and reports progress and results. Each worker entry
// (pool/worker.ts: the kernels; kinds/worker.ts: those and kind files) serves its kernels through this.
/// <reference lib="webworker" />
import { type Kernel, KernelInputError } from '../compute/kernel';
import { type FromWorker, type TaskMessage, type TaskResult, type ToWorker, WorkerLedger } from './protocol';

declare const self: Worker;

/** A result whose task started this long ago (ms) leaves the worker before the next task of its batch starts. */
const RESULT_WAIT_MS = 1;

export function serveKernels(kernels: Record<string, Kernel>): void {
  const post = (message: FromWorker) => self.postMessage(message);
  // Tasks started and not finished; a task's AbortController is made only if its kernel looks at its signal (most
  // never do), and an abort that comes before that is kept until it looks.
  const running = new Set<number>();
  const controllers = new Map<number, AbortController>();
  const abortedUnseen = new Set<number>();
  const ABORTED = 'cancelled or timed out';
  const signalOf = (taskId: number): AbortSignal => {
    let controller = controllers.get(taskId);
    if (!controller) {
      controllers.set(taskId, (controller = new AbortController()));
      if (abortedUnseen.delete(taskId)) controller.abort(new Error(ABORTED));
    }
    return controller.signal;
  };
  let ledger: WorkerLedger | null = null;
  // Results leave together: one message (one wake-up of the main thread) for the tasks of a batch, and one for those
  // that finish later on their own. Each is noted in the ledger first: a crash before it leaves is not blamed on it.
  // A batch's results also leave, before the next task starts, once the oldest of their tasks started RESULT_WAIT_MS
  // ago (see pump): a deep pipeline of slow tasks does not hold the first one's result until the last has run, and a
  // result waits at most for the task after it when its own ran longer than that.
  let outbox: TaskResult[] = [];
  let oldestAt = 0;
  const flush = () => {
    flushScheduled = false;
    if (!outbox.length) return;
    const results = outbox;
    outbox = [];
    post({ type: 'results', results });
  };
  let flushScheduled = false;
  const done = (result: TaskResult, startedAt = performance.now()) => {
    ledger?.finished(result.taskId);
    if (!outbox.length) oldestAt = startedAt;
    outbox.push(result);
    // A batch being started sends its results when it ends (see pump).
    if (!pumping && !flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  // The tasks of a batch start one per turn of the event loop, as separate messages did: what a task does without
  // waiting on anything (its promise chain included) ends before the next starts, so a worker that dies is blamed
  // on the task it was running, never on an earlier one that had finished.
  const queue: { task: TaskMessage; index: number }[] = [];
  /** Tasks received so far: each one's index is its entry in the ledger's start ring (the pool counts the same). */
  let received = 0;
  let pumping = false;
  const pump = () => {
    const next = queue.shift();
    if (next) {
      if (outbox.length && performance.now() - oldestAt >= RESULT_WAIT_MS) flush();
      ledger?.started(next.index, next.task.taskId);
      void start(next.task);
      setImmediate(pump);
      return;
    }
    pumping = false;
    flush();
  };

  const start = async ({ taskId, kind, input }: TaskMessage) => {
    const kernel = kernels[kind];
    if (!kernel) return done({ taskId, ok: false, error: `no kernel named "${kind}"`, permanent: true });
    // Progress is throttled here (about 10 a second) so a tight loop cannot flood the main thread.
    let lastProgressAt = 0;
    const progress = (fraction: number) => {
      const now = performance.now();
      if (now - lastProgressAt < 100 && fraction < 1) return;
      lastProgressAt = now;
      post({ type: 'progress', taskId, value: Math.max(0, Math.min(1, fraction)) });
    };
    running.add(taskId);
    const startedAt = performance.now();
    try {
      // Its synchronous part is marked: a worker that dies in it (process.exit, a tight loop terminated) blames this task.
      ledger?.running(taskId);
      let pending: unknown;
      try {
        pending = kernel(input, {
          progress,
          get signal() {
            return signalOf(taskId);
          },
        });
      } finally {
        ledger?.running(0);
      }
      const value = await pending;
      done({ taskId, ok: true, value }, startedAt);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      done({ taskId, ok: false, error: message, permanent: error instanceof KernelInputError }, startedAt);
    } finally {
      running.delete(taskId);
      controllers.delete(taskId);
      abortedUnseen.delete(taskId);
    }
  };

  self.onmessage = (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === 'run') {
      for (const task of message.tasks) queue.push({ task, index: received++ });
      if (!pumping) {
        pumping = true;
        pump();
      }
    } else if (message.type === 'abort') {
      const controller = controllers.get(message.taskId);
      const waiting = queue.findIndex(({ task }) => task.taskId === message.taskId);
      if (controller) controller.abort(new Error(ABORTED));
      else if (running.has(message.taskId)) abortedUnseen.add(message.taskId);
      // Not started yet (its batch is still being started): it never starts.
      else if (waiting >= 0) {
        queue.splice(waiting, 1);
        done({ taskId: message.taskId, ok: false, error: ABORTED, permanent: false });
      }
    } else {
      ledger = new WorkerLedger(message.ledger);
    }
  };
}
