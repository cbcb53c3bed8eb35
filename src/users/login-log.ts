// The login log (login_events) kept meaningful and bounded: a refused attempt while throttled is counted into one row
// per refused key and window instead of a row each (a throttled client could otherwise add ~17 M rows a day), and
// rows older than LOGIN_EVENTS_RETENTION_DAYS are deleted in the background, a batch at a time.
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { Database } from '../db/client';
import type { LoginEvent } from '../events';
import * as q from './queries';

/** How often counted refusals are added to their row (tests pass a shorter `flushMs`). */
const FLUSH_MS = 5000;
/** How often old rows are looked for (and once just after start). */
const PRUNE_EVERY_MS = 3_600_000;
/** Rows deleted per statement: a long DELETE would hold SQLite's write lock (and PostgreSQL's row locks) for long. */
export const PRUNE_BATCH = 1000;
/** Keys with a counting row at most; past it, the oldest are let go (their next refusal starts a new row). */
const MAX_KEYS = 100_000;

interface CountingRow {
  id: Promise<number>;
  /** Refusals counted here and not yet added to the row. */
  pending: number;
  /** When the row stops taking refusals (its first refusal plus the window). */
  until: number;
}

export class LoginLog {
  private readonly counting = new Map<string, CountingRow>();
  private flushTimer: ReturnType<typeof setInterval> | undefined;
  private pruneTimer: ReturnType<typeof setInterval> | undefined;
  private firstPrune: ReturnType<typeof setTimeout> | undefined;
  /** The background prune under way, if any: `stop` waits for it. */
  private pruning: Promise<unknown> | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly database: Database,
    private readonly options: { windowMs: number; retentionDays: number; log: Logger; clock: Clock; flushMs?: number },
  ) {}

  /** Stores one attempt that reached a verdict (or the first refusal of a window, see `recordRefusal`). */
  async record(event: LoginEvent, userId?: number): Promise<number> {
    return q.insertLoginEvent(this.database, { ...event, userId: userId ?? null });
  }

  /**
   * A refusal while throttled. `key` names the budget that refused (a username, or an address when that budget ran
   * out). The first refusal of a key in a window is a row of its own; the next ones add to its `attempts`. Returns
   * whether this one made a new row.
   */
  recordRefusal(event: LoginEvent, key: string): { stored: boolean; done: Promise<void> } {
    const now = this.options.clock.now();
    const row = this.counting.get(key);
    if (row && row.until > now) {
      row.pending += 1;
      return { stored: false, done: Promise.resolve() };
    }
    if (this.counting.size >= MAX_KEYS) this.letGoOfSome();
    const id = this.record(event);
    this.counting.set(key, { id, pending: 0, until: now + this.options.windowMs });
    this.flushTimer ??= setInterval(() => void this.flush(), this.options.flushMs ?? FLUSH_MS).unref();
    return { stored: true, done: id.then(() => {}) };
  }

  /** Adds the counted refusals to their rows (one UPDATE per key that had any). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const now = this.options.clock.now();
      for (const [key, row] of this.counting) {
        const pending = row.pending;
        if (pending > 0) {
          row.pending = 0;
          try {
            await q.addLoginEventAttempts(this.database, await row.id, pending);
          } catch (error) {
            row.pending += pending;
            this.options.log.warn({ err: (error as Error).message }, 'refused logins could not be counted into the login log; retrying');
            return;
          }
        }
        if (row.until <= now && row.pending === 0) this.counting.delete(key);
      }
      if (this.counting.size === 0 && this.flushTimer) {
        clearInterval(this.flushTimer);
        this.flushTimer = undefined;
      }
    });
    return this.flushing;
  }

  /** Deletes rows older than the retention, a batch at a time; returns how many. */
  async prune(): Promise<number> {
    if (this.options.retentionDays === 0) return 0;
    const before = new Date(this.options.clock.now() - this.options.retentionDays * 86_400_000);
    let deleted = 0;
    for (;;) {
      const batch = await q.deleteLoginEventsBefore(this.database, before, PRUNE_BATCH);
      deleted += batch;
      if (batch < PRUNE_BATCH) break;
      // Let requests waiting on the database in between.
      await Bun.sleep(0);
    }
    if (deleted) this.options.log.info({ deleted, before }, 'old login events deleted (LOGIN_EVENTS_RETENTION_DAYS)');
    return deleted;
  }

  /** Prunes just after start, then every hour; timers never keep the process alive. */
  start(): void {
    if (this.options.retentionDays === 0 || this.pruneTimer) return;
    const prune = () => {
      this.pruning = this.prune().catch((error) => this.options.log.warn({ err: (error as Error).message }, 'login events could not be pruned; retrying later'));
    };
    this.firstPrune = setTimeout(prune, 0).unref();
    this.pruneTimer = setInterval(prune, PRUNE_EVERY_MS).unref();
  }

  /** Stops the timers (a prune under way ends first: none deletes after this) and writes what was counted. */
  async stop(): Promise<void> {
    clearTimeout(this.firstPrune);
    clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.pruning;
    await this.flush().catch(() => {});
    clearInterval(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** Oldest first (a Map keeps insertion order); a key with refusals not yet written stays. */
  private letGoOfSome(): void {
    for (const [key, row] of this.counting) {
      if (row.pending === 0) this.counting.delete(key);
      if (this.counting.size < MAX_KEYS / 2) return;
    }
  }
}
