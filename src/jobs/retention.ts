import type { Logger } from 'pino';
import type { Clock, JobStatus, QueueCatalog, QueueSettings } from './model';
import type { JobStore } from './store';

/** Jobs one delete takes at most: a few milliseconds of work, so a claim pass waits for no more than that. */
export const RETENTION_BATCH = 1000;

const RETENTION_OF: Record<Exclude<JobStatus, 'QUEUED' | 'RUNNING'>, keyof QueueSettings> = {
  SUCCEEDED: 'retentionSucceededSeconds',
  FAILED: 'retentionFailedSeconds',
  CANCELLED: 'retentionCancelledSeconds',
};

export interface RetentionOptions {
  store: JobStore;
  queues: QueueCatalog;
  log: Logger;
  clock: Clock;
  /** JOB_RETENTION_SECONDS in ms: for the statuses a queue sets no retention of its own; null keeps them. */
  defaultMs: number | null;
  /** How often a sweep runs. */
  sweepMs: number;
}

/**
 * Deletes finished jobs older than their queue's retention (or the default), with their inputs and events, and the
 * idempotency keys that expired: in the background, a batch per transaction, yielding to the event loop between
 * batches so the claim loop and requests run in between. On PostgreSQL every instance sweeps; a row another one is
 * deleting is skipped, not waited for.
 */
export class RetentionSweeper {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;

  constructor(private readonly options: RetentionOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweep()
        .catch((error) => this.stopped || this.options.log.error({ err: error }, 'retention sweep failed'))
        .finally(() => this.schedule());
    }, this.options.sweepMs);
  }

  /** One sweep over every queue and status; how many jobs it deleted. */
  async sweep(): Promise<number> {
    const { store, queues, clock, defaultMs } = this.options;
    let deleted = 0;
    for (const queue of queues.list()) {
      for (const [status, field] of Object.entries(RETENTION_OF) as [JobStatus, keyof QueueSettings][]) {
        const own = queue[field] as number | null | undefined;
        const keepMs = own != null ? own * 1000 : defaultMs;
        if (keepMs === null) continue;
        const filter = { queue: queue.name, status, finishedBefore: clock.now() - keepMs };
        for (;;) {
          if (this.stopped) return deleted;
          const ids = await store.deleteMatching(filter, RETENTION_BATCH);
          deleted += ids.length;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (ids.length < RETENTION_BATCH) break;
        }
      }
    }
    while (!this.stopped && (await store.purgeExpiredKeys(RETENTION_BATCH)) === RETENTION_BATCH) await new Promise<void>((resolve) => setImmediate(resolve));
    if (deleted) this.options.log.info({ deleted }, 'finished jobs past their retention deleted');
    return deleted;
  }
}
