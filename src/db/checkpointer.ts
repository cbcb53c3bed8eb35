import type { Database as SqliteConnection } from 'bun:sqlite';

/** What the checkpointer's thread is given: the file, and the flag the writer sets (see ./checkpoint-worker.ts). */
export interface CheckpointerMessage {
  path: string;
  flag: SharedArrayBuffer;
}

/**
 * Commits told within START_WINDOW_MS before the thread starts: a server that writes little (an idle one's lease
 * upkeep commits every few seconds) keeps SQLite's own checkpoints and no thread.
 */
const START_AFTER_COMMITS = 64;
const START_WINDOW_MS = 1000;
/**
 * The writer's own checkpoint once the thread runs, in WAL pages (SQLite's default is 1,000): only a backstop, for a
 * WAL the thread has not caught up with (it never waits for the writer; a WAL restarts only once it is all copied).
 */
const BACKSTOP_PAGES = 8192;
const SQLITE_DEFAULT_PAGES = 1000;
/** How long close waits for the thread to close its connection (the writer's close is then the last one). */
const CLOSE_WAIT_MS = 2000;

/**
 * Checkpoints the SQLite WAL from a thread of its own. SQLite's automatic checkpoint runs inside the commit that
 * finds 1,000 pages in the WAL: it copies them into the database file and syncs both, on the thread that writes
 * (bench/jobs.ts on two cores: ~3 µs of the main thread a job, docs/benchmarks.md). Here a second connection does
 * that beside it (PASSIVE: it never blocks the writer). The job store tells it after each commit; a flag in shared
 * memory wakes the thread (no message, nothing while idle). What a checkpoint guarantees is unchanged: a commit is
 * durable when it is in the WAL (`synchronous = NORMAL`), wherever the copy is made.
 */
export class WalCheckpointer {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private worker: Worker | undefined;
  private commits = 0;
  private windowStart = 0;
  private closed = false;
  private failed = false;

  constructor(
    private readonly path: string,
    private readonly connection: SqliteConnection,
  ) {}

  /** After a commit that wrote to the WAL. */
  written(): void {
    if (this.closed) return;
    if (!this.worker) {
      const now = performance.now();
      if (now - this.windowStart > START_WINDOW_MS) {
        this.windowStart = now;
        this.commits = 0;
      }
      if (++this.commits < START_AFTER_COMMITS) return;
      this.start();
    }
    if (Atomics.load(this.flag, 0) !== 0) return;
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
  }

  private start(): void {
    this.worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url));
    // It never keeps the process up on its own (Bun's Worker has unref; the DOM types lack it).
    (this.worker as Worker & { unref(): void }).unref();
    // A thread that fails (it could not open the file) leaves the checkpoints to the writer again, as before it started.
    this.worker.onerror = () => {
      this.closed = this.failed = true;
      this.connection.run(`PRAGMA wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
    };
    this.worker.postMessage({ path: this.path, flag: this.flag.buffer as SharedArrayBuffer } satisfies CheckpointerMessage);
    this.connection.run(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  }

  /** Stops the thread once its connection is closed (before the writer's own close, which checkpoints what is left). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    if (this.failed) return worker.terminate();
    const closedThere = new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      setTimeout(resolve, CLOSE_WAIT_MS).unref();
    });
    Atomics.store(this.flag, 0, 2);
    Atomics.notify(this.flag, 0);
    await closedThere;
    worker.terminate();
  }
}
