import { DomainError, ErrorCode } from '../errors';
import type { Actor } from './model';

/** How long a count read is trusted, plus what was admitted here since: the slack other instances get. */
const FRESH_MS = 1000;

/**
 * MAX_QUEUED_JOBS_PER_USER: a USER may hold at most `limit` unfinished (QUEUED or RUNNING) jobs, so one account cannot
 * fill the database or starve the queues (one created 9,519 jobs in 40 s). Reading the count on every submission
 * would scan the owner's jobs each time, so the last read is kept for a second, with what was admitted here added to
 * it: jobs only leave the count by finishing, so on one instance that sum never understates it. Other instances'
 * submissions of that second are the slack. Managers and admins (operators, batch tooling) are not bounded.
 */
export class UnfinishedJobsBound {
  private readonly known = new Map<number, { unfinished: number; readAt: number }>();

  constructor(
    private readonly limit: number,
    /** The owner's QUEUED plus RUNNING jobs, read from the store. */
    private readonly readUnfinished: (ownerId: number) => Promise<number>,
    private readonly now: () => number,
  ) {}

  /** Admissions of one owner, one after the other: parallel ones would all read the same count and all pass. */
  private readonly turns = new Map<number, Promise<void>>();
  /** Jobs admitted and not yet committed, per owner: a count read does not see them yet. */
  private readonly inFlight = new Map<number, number>();

  /**
   * Takes `count` more jobs for `actor`, or throws CONFLICT naming the bound. Call the returned function once the
   * insert has settled (committed or failed).
   */
  async admit(actor: Actor, count: number): Promise<() => void> {
    if (this.limit === 0 || actor.role !== 'USER') return () => {};
    const turn = (this.turns.get(actor.id) ?? Promise.resolve()).catch(() => {}).then(() => this.admitNow(actor, count));
    this.turns.set(actor.id, turn);
    try {
      await turn;
    } finally {
      if (this.turns.get(actor.id) === turn) this.turns.delete(actor.id);
    }
    this.inFlight.set(actor.id, (this.inFlight.get(actor.id) ?? 0) + count);
    let settled = false;
    return () => {
      if (settled) return;
      settled = true;
      const left = (this.inFlight.get(actor.id) ?? count) - count;
      if (left > 0) this.inFlight.set(actor.id, left);
      else this.inFlight.delete(actor.id);
    };
  }

  private async admitNow(actor: Actor, count: number): Promise<void> {
    const known = this.known.get(actor.id);
    if (known && this.now() - known.readAt < FRESH_MS && known.unfinished + count <= this.limit) {
      known.unfinished += count;
      return;
    }
    // In flight is taken before the read: a job that commits (and leaves inFlight) while the read runs may be missing
    // from the read's snapshot, so it must still be counted here. One committed before the read counts twice: the
    // safe side. No admission of this owner can start meanwhile (turns), so nothing is missed the other way.
    const inFlight = this.inFlight.get(actor.id) ?? 0;
    const unfinished = (await this.readUnfinished(actor.id)) + inFlight;
    if (unfinished + count > this.limit) {
      this.known.delete(actor.id);
      throw new DomainError(
        ErrorCode.CONFLICT,
        `you have ${unfinished.toLocaleString('en-US')} unfinished jobs (queued or running) and may hold at most ${this.limit.toLocaleString('en-US')} (MAX_QUEUED_JOBS_PER_USER): wait for some to finish, or cancel some`,
        { maxUnfinishedJobs: this.limit },
      );
    }
    if (this.known.size >= 10_000) this.known.clear();
    this.known.set(actor.id, { unfinished: unfinished + count, readAt: this.now() });
  }
}
