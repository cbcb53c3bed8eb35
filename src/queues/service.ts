import type { Logger } from 'pino';
import { z } from 'zod';
import type { Database } from '../db/client';
import type { queues } from '../db/schema';
import { conflict, notFound } from '../errors';
import { checkLength, integerIn, parseInput } from '../input';
import { QUEUE_ORDERS } from '../jobs/model';
import * as sql from './sql';

export type Queue = typeof queues.$inferSelect;
export const DEFAULT_QUEUE = 'default';
const MAX_NAME_LENGTH = 64;
const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const NAME_RULE = "queue name must be 1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";
/** Left out (or null), a limit keeps its value: the default for a new queue, the current one for an update. */
const limits = {
  concurrency: integerIn(1, 1024, 'concurrency must be an integer from 1 to 1024').nullish(),
  maxLength: integerIn(1, 10_000_000, 'maxLength must be an integer from 1 to 10,000,000').nullish(),
  order: z.enum(QUEUE_ORDERS, { error: 'order must be FIFO or FAIR' }).nullish(),
  /** null given: no limit (so an update can lift it); left out: as it was. */
  ownerConcurrency: integerIn(1, 1024, 'ownerConcurrency must be an integer from 1 to 1024, or null for no limit').nullish(),
};
const retentionSeconds = (field: string) => integerIn(1, 315_360_000, `${field} must be an integer from 1 to 315,360,000 (ten years), or null to keep them`).nullish();
/** Null (given as null): no limit, keep the jobs; left out: unchanged on an update. */
const lifecycle = {
  rateLimit: z
    .object({
      jobs: integerIn(1, 1_000_000, 'rateLimit.jobs must be an integer from 1 to 1,000,000'),
      perSeconds: integerIn(1, 86_400, 'rateLimit.perSeconds must be an integer from 1 to 86,400'),
    })
    .nullish(),
  retention: z
    .object({
      succeededSeconds: retentionSeconds('retention.succeededSeconds'),
      failedSeconds: retentionSeconds('retention.failedSeconds'),
      cancelledSeconds: retentionSeconds('retention.cancelledSeconds'),
    })
    .nullish(),
};
export const createQueueInput = z.object({
  name: z.string({ error: NAME_RULE }).trim().regex(NAME_PATTERN, { error: NAME_RULE }),
  ...limits,
  ...lifecycle,
});
export const updateQueueInput = z.object({ ...limits, ...lifecycle, paused: z.boolean({ error: 'invalid field paused: true or false' }).nullish() });

/** The columns a rateLimit and a retention given (null: cleared; undefined: left out) are written to. */
function lifecycleColumns(input: { rateLimit?: { jobs: number; perSeconds: number } | null; retention?: { succeededSeconds?: number | null; failedSeconds?: number | null; cancelledSeconds?: number | null } | null }) {
  return {
    ...(input.rateLimit !== undefined ? { rateLimitJobs: input.rateLimit?.jobs ?? null, rateLimitPerSeconds: input.rateLimit?.perSeconds ?? null } : {}),
    ...(input.retention !== undefined
      ? {
          retentionSucceededSeconds: input.retention?.succeededSeconds ?? null,
          retentionFailedSeconds: input.retention?.failedSeconds ?? null,
          retentionCancelledSeconds: input.retention?.cancelledSeconds ?? null,
        }
      : {}),
  };
}

/** Named queues (FIFO or FAIR): their settings live here; their jobs in the jobs module. */
export class QueuesService {
  private cache: Queue[] = [];

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly defaults: { concurrency: number; maxLength: number },
    private readonly onChange: () => void = () => {},
  ) {}

  /** Reads the queues, making sure there is a default one; called at start. */
  async load(): Promise<void> {
    await this.insert({ name: DEFAULT_QUEUE, ...this.defaults });
    await this.reload();
  }

  /**
   * Reads the queues again: after a change here, or (PostgreSQL) one another instance announced. The list is kept
   * in memory since the job runner reads it on every claim pass.
   */
  reload(): Promise<void> {
    // Reads may finish out of order (a NOTIFY's and a change's): only the one started last is kept.
    const reading = ++this.reads;
    const read = (async () => {
      const rows = (await this.database.all<sql.QueueSqlRow>(sql.allQueues)).map(sql.toQueue);
      if (reading !== this.reads) return;
      this.cache = rows;
      this.onChange();
    })();
    this.newest = read;
    return read.then(() => this.newestSettled());
  }
  private reads = 0;
  private newest: Promise<void> = Promise.resolve();

  /**
   * A read started after the caller's may still be under way, and only it will set the list: wait for it, so that
   * what the caller sees next is at least as new as its own read (else an update could be followed by a stale list).
   */
  private async newestSettled(): Promise<void> {
    for (;;) {
      const newest = this.newest;
      await newest.catch(() => undefined);
      if (newest === this.newest) return;
    }
  }

  /** All queues, oldest first (as last read). */
  list(): Queue[] {
    return this.cache;
  }

  /** The queue of that name; `field` names the argument in the error for a name too long to be one. */
  find(name: string, field = 'name'): Queue | undefined {
    checkLength(name, MAX_NAME_LENGTH, field);
    return this.list().find((queue) => queue.name === name);
  }

  get(name: string, field = 'name'): Queue {
    const queue = this.find(name, field);
    if (!queue) throw notFound(`no queue named "${name}"`);
    return queue;
  }

  async create(input: z.input<typeof createQueueInput>): Promise<Queue> {
    const { name, concurrency, maxLength, order, ownerConcurrency, ...lifecycle } = parseInput(createQueueInput, input);
    if (this.find(name)) throw conflict(`queue "${name}" already exists`);
    const values = {
      name,
      concurrency: concurrency ?? this.defaults.concurrency,
      maxLength: maxLength ?? this.defaults.maxLength,
      order: order ?? 'FIFO',
      ownerConcurrency: ownerConcurrency ?? null,
      ...lifecycleColumns(lifecycle),
    };
    const queue = await this.insert(values);
    // Another instance may have made it since this one last read the list.
    if (!queue) throw conflict(`queue "${name}" already exists`);
    await this.changed();
    this.log.info(values, 'queue created');
    return queue;
  }

  async update(name: string, input: z.input<typeof updateQueueInput>): Promise<Queue> {
    this.get(name);
    const { rateLimit, retention, ...changes } = parseInput(updateQueueInput, input);
    // Only what was given is written: the list here may be stale (an update in flight, another instance's change not
    // yet heard), and writing its other values back would undo those changes.
    const values = {
      ...(Object.fromEntries(Object.entries(changes).filter(([, value]) => value != null)) as Partial<Pick<Queue, 'concurrency' | 'maxLength' | 'paused' | 'order' | 'ownerConcurrency'>>),
      // ownerConcurrency given as null lifts the limit.
      ...(changes.ownerConcurrency === null ? { ownerConcurrency: null } : {}),
      // A rate limit or retention given as null is cleared; left out, kept.
      ...lifecycleColumns({ rateLimit: (input as { rateLimit?: unknown }).rateLimit === undefined ? undefined : rateLimit, retention: (input as { retention?: unknown }).retention === undefined ? undefined : retention }),
    };
    const given = Object.keys(values) as sql.QueueColumn[];
    const row = await this.database.first<sql.QueueSqlRow>(given.length ? sql.updateQueue(given) : sql.queueByName, { ...values, name });
    const queue = row && sql.toQueue(row);
    await this.changed();
    if (!queue) throw notFound(`no queue named "${name}"`);
    const { concurrency, maxLength, paused, order, ownerConcurrency } = queue;
    this.log.info({ name, concurrency, maxLength, paused, order, ownerConcurrency }, 'queue updated');
    return queue;
  }

  /** Deletes the queue and (by cascade) all of its jobs. The default queue stays. */
  async delete(name: string): Promise<boolean> {
    this.get(name);
    if (name === DEFAULT_QUEUE) throw conflict('the default queue cannot be deleted');
    await this.database.exec(sql.deleteQueue, { name });
    await this.changed();
    this.log.info({ name }, 'queue deleted with its jobs');
    return true;
  }

  /** Inserts a queue with the columns given; undefined when one of that name exists. */
  private async insert(values: Partial<Record<sql.QueueColumn, unknown>>): Promise<Queue | undefined> {
    const row = await this.database.first<sql.QueueSqlRow>(sql.insertQueue(Object.keys(values) as sql.QueueColumn[]), values);
    return row && sql.toQueue(row);
  }

  /** Re-reads the list, and tells the other instances sharing a PostgreSQL database to (see JobStore.announceQueues). */
  private async changed(): Promise<void> {
    await this.reload();
    await this.announce();
  }

  /** Set by the app: how a change reaches other instances (nothing on SQLite, where this process is the only one). */
  announce: () => Promise<void> = async () => {};
}
