import { type FromWorker, type TaskMessage, type TaskResult, type ToWorker, WorkerLedger } from './protocol';

/** Why a task did not produce a result. `retryable` tells the job layer whether another attempt may help. */
export class TaskError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly reason: 'kernel' | 'timeout' | 'crash' | 'cancelled' | 'closed',
  ) {
    super(message);
    this.name = 'TaskError';
  }
}

/**
 * What the pool needs of a task's signal: an AbortSignal, or anything that says `aborted` and calls its `abort`
 * listeners once (the job runner's own stop: an AbortSignal's listener cost ~1.5 µs a task).
 */
export interface StopSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface TaskOptions {
  /** The task fails (and its worker is replaced) when it runs longer than this. */
  timeoutMs?: number;
  signal?: StopSignal;
  onProgress?: (fraction: number) => void;
  /**
   * A cancelled or timed-out task is told to abort (its AbortSignal in the worker) and given this long to stop before
   * its worker is replaced; without, the worker is replaced at once (a kernel's tight loop never looks).
   */
  abortGraceMs?: number;
}

interface Task {
  id: number;
  kind: string;
  input: unknown;
  options: TaskOptions;
  resolve(value: unknown): void;
  reject(error: TaskError): void;
  /**
   * When it times out (performance.now()): `timeoutMs` after it started on its worker. Until the pool has seen it
   * start (the worker's ledger), the earliest that can be: `timeoutMs` from when it was sent. See sweepDeadlines.
   */
  deadline?: number;
  /** Its place in the order its worker received tasks (its entry in the ledger's start ring), and its start once seen. */
  index?: number;
  startedAt?: number;
  /** Its abort grace, once it was cancelled or timed out (see stopRunning). */
  timer?: ReturnType<typeof setTimeout>;
  slot?: Slot;
  onAbort?: () => void;
  /** Settled already (cancelled, timed out): its worker was asked to abort it and is waited for. */
  abandoned?: boolean;
}

interface Slot {
  worker: Worker;
  /** Tasks sent to this worker, oldest first: the first is the one it is running. */
  inFlight: Task[];
  retired: boolean;
  /** What it runs, started and finished last (shared memory): after a crash, who to blame; when a task started. */
  ledger: WorkerLedger;
  /** Tasks sent to it so far (the next one's index). */
  sent: number;
}

export interface WorkerPoolOptions {
  size: number;
  /** Tasks queued on one worker at once; more than 1 hides the message round trip for tiny tasks. */
  pipelineDepth?: number;
  workerUrl?: URL;
  onWorkerReplaced?: (reason: string) => void;
  /**
   * Workers started at once (default: all of them); the others start when work finds every started one busy, and
   * stay. Each Bun Worker holds ~4.5 MB, so a server with many cores and no jobs yet keeps one.
   */
  startWith?: number;
}

/**
 * A fixed set of Bun Workers, each started once (at once, or when work first needs it) and kept warm. It runs named tasks and knows nothing of jobs,
 * GraphQL or the database. A worker that crashes, or runs a task past its timeout or a cancelled task, is
 * terminated and replaced; the other tasks it held go back to the front of the queue.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Task[] = [];
  private readonly pipelineDepth: number;
  private readonly workerUrl: URL;
  private nextTaskId = 1;
  /** One timer for the earliest deadline of the tasks on workers, not one per task (a timer costs ~0.7 µs a task). */
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private deadlineAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    this.pipelineDepth = Math.max(1, options.pipelineDepth ?? 1);
    this.workerUrl = options.workerUrl ?? new URL('./worker.ts', import.meta.url);
    const startWith = Math.min(options.size, Math.max(1, options.startWith ?? options.size));
    for (let i = 0; i < startWith; i++) this.slots.push(this.spawn());
  }

  /** Workers it runs tasks on, started or not yet. */
  get size(): number {
    return this.options.size;
  }

  /** What the pool is doing now (the dashboard and the metrics read it): workers holding a task or idle, tasks sent to workers, tasks waiting for one. */
  stats(): { size: number; started: number; busy: number; idle: number; tasksRunning: number; tasksQueued: number } {
    const live = this.slots.filter((slot) => !slot.retired);
    const busy = live.filter((slot) => slot.inFlight.length > 0).length;
    return {
      size: this.options.size,
      started: live.length,
      busy,
      // Workers not started yet are idle too: a task starts one.
      idle: this.options.size - busy,
      tasksRunning: live.reduce((sum, slot) => sum + slot.inFlight.length, 0),
      tasksQueued: this.waiting.length,
    };
  }

  run<T = unknown>(kind: string, input: unknown, options: TaskOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new TaskError('the worker pool is closed', true, 'closed'));
    if (options.signal?.aborted) return Promise.reject(new TaskError('cancelled', false, 'cancelled'));
    return new Promise<T>((resolve, reject) => {
      const task: Task = { id: this.nextTaskId++, kind, input, options, resolve: resolve as (v: unknown) => void, reject };
      if (options.signal) {
        task.onAbort = () => this.cancel(task);
        options.signal.addEventListener('abort', task.onAbort, { once: true });
      }
      this.waiting.push(task);
      // Tasks asked for in one turn (a claim pass starts hundreds) leave together, after it.
      if (this.waiting.length === 1) queueMicrotask(() => this.dispatch());
    });
  }

  /** Terminates every worker; tasks still waiting or running fail with a retryable error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadlineTimer);
    for (const task of this.waiting.splice(0)) this.settle(task, new TaskError('the worker pool closed', true, 'closed'));
    for (const slot of this.slots) {
      slot.retired = true;
      for (const task of slot.inFlight.splice(0)) this.settle(task, new TaskError('the worker pool closed', true, 'closed'));
      slot.worker.terminate();
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl);
    // Room for every task a worker may hold (abandoned ones included) and as many again.
    // The start ring is read before each send (noteStarts): between two sends fewer than its length start.
    const slot: Slot = { worker, inFlight: [], retired: false, ledger: WorkerLedger.create(2 * this.pipelineDepth), sent: 0 };
    worker.postMessage({ type: 'init', ledger: slot.ledger.buffer } satisfies ToWorker);
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.onMessage(slot, event.data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.replace(slot, `worker error: ${event.message ?? 'unknown'}`, 'crash');
    };
    worker.addEventListener('close', () => this.replace(slot, 'the worker exited', 'crash'));
    return slot;
  }

  private dispatch(): void {
    // The tasks handed to each worker in this call go in one message: one wake-up of the worker, not one per task.
    let batches: Map<Slot, TaskMessage[]> | undefined;
    while (this.waiting.length) {
      if (this.slots.length < this.options.size && !this.closed && this.slots.every((slot) => slot.retired || slot.inFlight.length > 0)) this.slots.push(this.spawn());
      let best: Slot | undefined;
      for (const slot of this.slots) {
        if (slot.retired || slot.inFlight.length >= this.pipelineDepth) continue;
        if (!best || slot.inFlight.length < best.inFlight.length) best = slot;
      }
      if (!best) break;
      const task = this.waiting.shift()!;
      task.slot = best;
      task.index = best.sent++;
      best.inFlight.push(task);
      if (task.options.timeoutMs) {
        task.deadline = performance.now() + task.options.timeoutMs;
        if (task.deadline < this.deadlineAt) this.armDeadline(task.deadline);
      }
      batches ??= new Map();
      let batch = batches.get(best);
      if (!batch) batches.set(best, (batch = []));
      batch.push({ taskId: task.id, kind: task.kind, input: task.input });
    }
    if (!batches) return;
    for (const [slot, tasks] of batches) {
      this.noteStarts(slot);
      slot.worker.postMessage({ type: 'run', tasks } satisfies ToWorker);
    }
  }

  /**
   * Reads from the worker's ledger when its held tasks with a timeout started, before more are sent to it (their
   * starts would overwrite the ring's older entries); each is read until seen.
   */
  private noteStarts(slot: Slot): void {
    for (const task of slot.inFlight) {
      if (task.startedAt !== undefined || task.deadline === undefined || task.index === undefined) continue;
      task.startedAt = slot.ledger.startOf(task.index, task.id);
      if (task.startedAt !== undefined) task.deadline = task.startedAt + task.options.timeoutMs!;
    }
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'progress') {
      const task = slot.inFlight.find((t) => t.id === message.taskId);
      if (task && !task.abandoned) task.options.onProgress?.(message.value);
      return;
    }
    for (const result of message.results) this.onResult(slot, result);
    this.dispatch();
  }

  private onResult(slot: Slot, result: TaskResult): void {
    const index = slot.inFlight.findIndex((t) => t.id === result.taskId);
    if (index < 0) return;
    const task = slot.inFlight[index]!;
    slot.inFlight.splice(index, 1);
    if (task.abandoned) {
      // It stopped within its grace: the worker is healthy and keeps its other tasks.
      clearTimeout(task.timer);
      return;
    }
    if (result.ok) this.settle(task, undefined, result.value);
    else this.settle(task, new TaskError(result.error, !result.permanent, 'kernel'));
  }

  private armDeadline(at: number): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(() => this.sweepDeadlines(), Math.max(0, at - performance.now()));
    // It may outlive the tasks it was set for: it never keeps the process up on its own (a busy worker does).
    this.deadlineTimer.unref?.();
  }

  /** Times out the tasks on workers whose deadline has passed, then waits for the next deadline. */
  private sweepDeadlines(): void {
    this.deadlineAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const expired: Task[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const slot of this.slots) {
      if (slot.retired) continue;
      this.noteStarts(slot);
      for (const task of slot.inFlight) {
        if (task.abandoned || task.deadline === undefined) continue;
        // Not started yet (queued behind others on its worker): it cannot time out before `timeoutMs` from now.
        if (task.startedAt === undefined && task.deadline <= now) task.deadline = now + task.options.timeoutMs!;
        if (task.deadline <= now) expired.push(task);
        else if (task.deadline < next) next = task.deadline;
      }
    }
    // Each timed out task's worker is replaced and its other tasks queued again (they get a new deadline when sent).
    for (const task of expired) if (task.slot && !task.abandoned && task.slot.inFlight.includes(task)) this.timeOut(task);
    if (next < this.deadlineAt) this.armDeadline(next);
  }

  private timeOut(task: Task): void {
    const slot = task.slot;
    if (!slot) return;
    this.settle(task, new TaskError(`timed out after ${task.options.timeoutMs} ms`, true, 'timeout'));
    this.stopRunning(slot, task, 'a task timed out', 'timeout');
  }

  private cancel(task: Task): void {
    const index = this.waiting.indexOf(task);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.settle(task, new TaskError('cancelled', false, 'cancelled'));
    } else if (task.slot && task.slot.inFlight.includes(task)) {
      const slot = task.slot;
      this.settle(task, new TaskError('cancelled', false, 'cancelled'));
      this.stopRunning(slot, task, 'a running task was cancelled', 'cancelled');
    }
  }

  /** Stops a settled task its worker still holds: asked to abort within its grace, else (or then) its worker is replaced. */
  private stopRunning(slot: Slot, task: Task, why: string, reason: TaskError['reason']): void {
    const grace = task.options.abortGraceMs;
    if (!grace) return this.replace(slot, why, reason, task);
    task.abandoned = true;
    task.slot = slot;
    slot.worker.postMessage({ type: 'abort', taskId: task.id } satisfies ToWorker);
    task.timer = setTimeout(() => this.replace(slot, `${why} and did not stop within ${grace} ms`, reason, task), grace);
  }

  /**
   * Retires a worker. With `culprit`, that task has been settled already and the others go back to the
   * queue; without, the worker died on its own: the task it was running (the oldest) fails.
   */
  private replace(slot: Slot, why: string, reason: TaskError['reason'], culprit?: Task): void {
    if (slot.retired) return;
    slot.retired = true;
    slot.worker.terminate();
    const held = slot.inFlight.splice(0);
    // Settled already (abandoned after a cancel or timeout): nothing more to tell anyone.
    for (const task of held) if (task.abandoned && task !== culprit) clearTimeout(task.timer);
    const tasks = held.filter((t) => t !== culprit && !t.abandoned);
    if (!culprit) {
      // The worker died on its own: the task it was running fails (see WorkerLedger). Those it finished but whose
      // results had not left it yet are run again with the others.
      const running = slot.ledger.culprit(tasks);
      if (running) {
        tasks.splice(tasks.indexOf(running), 1);
        this.settle(running, new TaskError(`the worker running it crashed (${why})`, true, reason));
      }
    }
    for (const task of tasks) {
      clearTimeout(task.timer);
      task.slot = undefined;
      task.deadline = undefined;
      task.index = undefined;
      task.startedAt = undefined;
    }
    this.waiting.unshift(...tasks);
    const index = this.slots.indexOf(slot);
    if (!this.closed && index >= 0) {
      this.slots[index] = this.spawn();
      this.options.onWorkerReplaced?.(why);
    }
    this.dispatch();
  }

  private settle(task: Task, error: TaskError | undefined, value?: unknown): void {
    clearTimeout(task.timer);
    if (task.onAbort) task.options.signal?.removeEventListener('abort', task.onAbort);
    task.slot = undefined;
    if (error) task.reject(error);
    else task.resolve(value);
  }
}
