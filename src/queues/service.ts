import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../db/client';
import { queues } from '../db/schema';
import { conflict, notFound } from '../errors';
import { checkLength, integerIn, parseInput } from '../input';

export type Queue = typeof queues.$inferSelect;
export const DEFAULT_QUEUE = 'default';
const MAX_NAME_LENGTH = 64;
const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const NAME_RULE = "queue name must be 1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";
/** Left out (or null), a limit keeps its value: the default for a new queue, the current one for an update. */
const limits = {
  concurrency: integerIn(1, 1024, 'concurrency must be an integer from 1 to 1024').nullish(),
  maxLength: integerIn(1, 10_000_000, 'maxLength must be an integer from 1 to 10,000,000').nullish(),
};
export const createQueueInput = z.object({
  name: z.string({ error: NAME_RULE }).trim().regex(NAME_PATTERN, { error: NAME_RULE }),
  ...limits,
});
export const updateQueueInput = z.object({ ...limits, paused: z.boolean({ error: 'invalid field paused: true or false' }).nullish() });

/** Named FIFO queues: their settings live here; their jobs in the jobs module. */
export class QueuesService {
  private cache: Queue[] | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly defaults: { concurrency: number; maxLength: number },
    private readonly onChange: () => void = () => {},
  ) {}

  /** There is always a default queue. */
  ensureDefault(): void {
    if (!this.find(DEFAULT_QUEUE)) {
      this.db.insert(queues).values({ name: DEFAULT_QUEUE, ...this.defaults }).run();
      this.changed();
    }
  }

  /** All queues, oldest first; cached, since the job runner reads them on every claim pass. */
  list(): Queue[] {
    return (this.cache ??= this.db.select().from(queues).orderBy(queues.id).all());
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

  create(input: z.input<typeof createQueueInput>): Queue {
    const { name, concurrency, maxLength } = parseInput(createQueueInput, input);
    if (this.find(name)) throw conflict(`queue "${name}" already exists`);
    const values = { name, concurrency: concurrency ?? this.defaults.concurrency, maxLength: maxLength ?? this.defaults.maxLength };
    const queue = this.db.insert(queues).values(values).returning().get();
    this.changed();
    this.log.info(values, 'queue created');
    return queue;
  }

  update(name: string, input: z.input<typeof updateQueueInput>): Queue {
    const current = this.get(name);
    const changes = parseInput(updateQueueInput, input);
    const values = {
      concurrency: changes.concurrency ?? current.concurrency,
      maxLength: changes.maxLength ?? current.maxLength,
      paused: changes.paused ?? current.paused,
    };
    const queue = this.db.update(queues).set(values).where(eq(queues.name, name)).returning().get()!;
    this.changed();
    this.log.info({ name, ...values }, 'queue updated');
    return queue;
  }

  /** Deletes the queue and (by cascade) all of its jobs. The default queue stays. */
  delete(name: string): boolean {
    this.get(name);
    if (name === DEFAULT_QUEUE) throw conflict('the default queue cannot be deleted');
    this.db.delete(queues).where(eq(queues.name, name)).run();
    this.changed();
    this.log.info({ name }, 'queue deleted with its jobs');
    return true;
  }

  private changed(): void {
    this.cache = undefined;
    this.onChange();
  }
}
