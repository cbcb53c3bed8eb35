import type { Database, Statement } from 'bun:sqlite';
import type { Db } from '../db/client';
import { jobs as jobsTable } from '../db/schema';
import type { Selection } from '../db/selection';
import { conflict } from '../errors';
import type { Clock, Job, JobKindName, JobStatus } from './model';
import { countJobs, selectJob, selectJobs } from './selects';
import { type JobSqlRow, type JobStatements, prepareJobStatements, toJob } from './queries';
import { type Claim, type FiredTick, idempotencyKeyOf, type InsertedJobs, type MatchingJobs, type ScheduleTick, type JobFilter, type JobNote, type JobStore, type Lease, newJob, type NewJob, type NewQueuedJob, type Outcome } from './store';
import { claimKey, freeStaleKey, purgeExpiredKeys } from './store/sql/claimIdempotencyKeys';
import { cancelMatching } from './store/sql/cancelMatching';
import { deleteMatching } from './store/sql/deleteMatching';
import { filterParams } from './store/sql/jobFilter';
import { retryMatching } from './store/sql/retryMatching';
import { fireSchedule } from './store/sql/fireSchedule';
import { rateLimit } from './store/sql/rateLimit';

const RECOVERED = 'its worker or claimant went away; re-queued';
const OUT_OF_ATTEMPTS = 'its worker or claimant went away and it has no attempts left';

/**
 * The job store on SQLite (bun:sqlite, WAL): this process is the only writer, and every transition is an
 * IMMEDIATE transaction around its statement and its event row. The interface is asynchronous (for PostgreSQL);
 * here each method does its work synchronously, when called, and answers with a promise already settled
 * (unless another service's async transaction is open: see othersTransactionOpen).
 */
export class SqliteJobStore implements JobStore {
  private readonly sql: JobStatements;
  private readonly bulk: {
    cancelPick: Statement<{ id: number; status: JobStatus; queue: string }>;
    cancelUpdate: Statement<JobSqlRow>;
    cancelEvents: Statement;
    retry: Statement<JobSqlRow>;
    retryEvents: Statement;
    delete: Statement<{ id: number }>;
  };
  private readonly rates: { window: Statement<{ n: number; oldest: number | null }>; record: Statement; prune: Statement };
  /** See throttledUntil. */
  private throttled: number | null = null;
  private readonly ticks: { advance: Statement<{ name: string }>; unfinishedRun: Statement<{ one: number }>; ran: Statement };
  private readonly keys: { freeStale: Statement; find: Statement<{ jobId: number }>; claim: Statement; purge: Statement };
  private readonly sqlite: Database;
  /** Drizzle over the same connection, for the reads a caller selects (selectJob, selectJobs). */
  private readonly db: Db;
  /**
   * QUEUED jobs per queue, kept with every transition so a submission checks maxLength without counting the queue
   * (a COUNT per submission made submitting slower as the queue grew). Exact because this process is the only
   * writer (the file lock): counted once at start, then moved only by the transitions here. A queue missing holds none.
   */
  private readonly waitingByQueue = new Map<string, number>();
  /** The changes to those counts made by the open transaction: applied when it commits, dropped if it rolls back. */
  private pendingWaiting: Map<string, number> | null = null;

  /** Waits out another service's async transaction (see {@link SqliteJobStore.othersTransactionOpen}). */
  private readonly idle: () => Promise<void>;

  constructor(
    database: { sqlite: Database; db: Db; idle(): Promise<void> },
    private readonly clock: Clock,
  ) {
    this.sqlite = database.sqlite;
    this.db = database.db;
    this.idle = database.idle;
    this.sql = prepareJobStatements(database.sqlite);
    const prepare = <Row = JobSqlRow>(text: string) => database.sqlite.prepare<Row, any>(text);
    this.bulk = {
      cancelPick: prepare<{ id: number; status: JobStatus; queue: string }>(cancelMatching.sqlite.pick),
      cancelUpdate: prepare(cancelMatching.sqlite.update),
      cancelEvents: prepare(cancelMatching.sqlite.events),
      retry: prepare(retryMatching.sqlite.update),
      retryEvents: prepare(retryMatching.sqlite.events),
      delete: prepare<{ id: number }>(deleteMatching.sqlite),
    };
    this.rates = {
      window: prepare<{ n: number; oldest: number | null }>(rateLimit.sqlite.window),
      record: prepare(rateLimit.sqlite.record),
      prune: prepare(rateLimit.sqlite.prune),
    };
    this.ticks = {
      advance: prepare<{ name: string }>(fireSchedule.sqlite.advance),
      unfinishedRun: prepare<{ one: number }>(fireSchedule.sqlite.unfinishedRun),
      ran: prepare(fireSchedule.sqlite.ran),
    };
    this.keys = {
      freeStale: database.sqlite.prepare(freeStaleKey.sqlite),
      find: database.sqlite.prepare<{ jobId: number }, any>(claimKey.sqlite.find),
      claim: database.sqlite.prepare(claimKey.sqlite.claim),
      purge: database.sqlite.prepare(purgeExpiredKeys.sqlite),
    };
    for (const { queue, n } of this.sql.queuedByQueue.all({})) this.waitingByQueue.set(queue, n);
  }

  // ---- transitions -------------------------------------------------------------------------------------

  async insertJobs(jobs: NewQueuedJob[]): Promise<InsertedJobs> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => this.insertNow(jobs, this.clock.now()));
  }

  async fireSchedule(tick: ScheduleTick, job: NewQueuedJob | null): Promise<FiredTick> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      const now = this.clock.now();
      const params = { name: tick.name, due: tick.due, next: tick.next };
      if (!this.ticks.advance.get(params)) return { advanced: false, job: null };
      if (!job || (tick.skipIfUnfinished && this.ticks.unfinishedRun.get({ name: tick.name }))) return { advanced: true, job: null };
      this.ticks.ran.run(params);
      return { advanced: true, job: this.insertNow([{ ...job, job: { ...job.job, schedule: tick.name } }], now).jobs[0]! };
    });
  }

  /** insertJobs' work, in the open transaction. */
  private insertNow(jobs: NewQueuedJob[], now: number): InsertedJobs {
    {
      // Keys first: a job whose key is remembered is not inserted, nor counted against its queue's maxLength.
      const reusedIds = new Map<number, number>();
      const keyedInBatch = new Map<string, number>();
      jobs.forEach(({ job }, i) => {
        const key = idempotencyKeyOf(job);
        if (key === null) return;
        const first = keyedInBatch.get(key);
        if (first !== undefined) return reusedIds.set(i, -1 - first);
        const params = { ownerId: job.ownerId, key: job.idempotencyKey };
        this.keys.freeStale.run({ ...params, now });
        const held = this.keys.find.get(params);
        if (held) reusedIds.set(i, held.jobId);
        else keyedInBatch.set(key, i);
      });
      const adding = new Map<string, { maxLength: number; n: number }>();
      jobs.forEach(({ queue }, i) => {
        if (reusedIds.has(i)) return;
        const entry = adding.get(queue.name);
        if (entry) entry.n++;
        else adding.set(queue.name, { maxLength: queue.maxLength, n: 1 });
      });
      for (const [name, { maxLength, n }] of adding) {
        const waiting = this.waiting(name);
        if (waiting + n > maxLength) throw conflict(`queue "${name}" is full: ${waiting} jobs waiting, at most ${maxLength}`);
      }
      const inserted: (Job | undefined)[] = jobs.map(({ queue, job, inputJson, keyExpiresAt }, i) => {
        if (reusedIds.has(i)) return undefined;
        const row = { ...job, queue: queue.name };
        const { id } = this.sql.insert.get({ ...row, runAt: job.runAt ?? null, idempotencyKey: job.idempotencyKey ?? null, schedule: job.schedule ?? null, now })!;
        this.sql.insertInput.run({ id, input: inputJson });
        this.event(id, 'queued', job.runAt != null && job.runAt > now ? { runAt: job.runAt } : null, now);
        if (job.idempotencyKey != null) this.keys.claim.run({ ownerId: job.ownerId, key: job.idempotencyKey, jobId: id, expiresAt: keyExpiresAt ?? now });
        return newJob(id, row, now);
      });
      for (const [name, { n }] of adding) this.addWaiting(name, n);
      // A key already held names a stored job; one repeated within this batch names the job its first use made.
      const result = inserted.map((job, i) => {
        if (job) return job;
        const id = reusedIds.get(i)!;
        if (id < 0) return inserted[-1 - id]!;
        return toJob(this.sql.byId.get({ id })!);
      });
      return { jobs: result, reused: new Set(reusedIds.keys()) };
    }
  }

  async claimJobs(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]> {
    while (this.othersTransactionOpen()) await this.idle();
    this.throttled = null;
    if (!claims.length) return [];
    return this.write(() => {
      const now = this.clock.now();
      const claimed: Job[] = [];
      for (const { queue, limit: wanted, rateLimit: rate } of claims) {
        if (claimed.length >= budget) break;
        let limit = Math.min(wanted, budget - claimed.length);
        if (rate) {
          const since = now - rate.perMs;
          const window = this.rates.window.get({ queue, since })!;
          if (window.n + limit > rate.jobs) {
            limit = Math.max(0, rate.jobs - window.n);
            if (window.oldest !== null) this.throttledAt(window.oldest + rate.perMs);
          }
          if (limit === 0) continue;
          const rows = this.claimed(queue, now, this.sql.claim.all(this.claimParams(queue, limit, 'pool', now, leaseMs)));
          if (rows.length) {
            this.rates.prune.run({ queue, since });
            this.rates.record.run({ queue, now, ids: JSON.stringify(rows.map((job) => job.id)) });
            // Full now: room again when this claim's starts leave the window (the oldest, if others were there).
            if (window.n + rows.length >= rate.jobs) this.throttledAt((window.oldest ?? now) + rate.perMs);
          }
          for (const job of rows) claimed.push(job);
          continue;
        }
        const rows = this.claimed(queue, now, this.sql.claim.all(this.claimParams(queue, limit, 'pool', now, leaseMs)));
        for (const job of rows) claimed.push(job);
      }
      return claimed;
    });
  }

  throttledUntil(): number | null {
    return this.throttled;
  }

  private throttledAt(at: number): void {
    if (this.throttled === null || at < this.throttled) this.throttled = at;
  }

  async claimJobsOfKind(queue: string, kind: JobKindName, limit: number, leaseMs: number): Promise<Job[]> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      const now = this.clock.now();
      return this.claimed(queue, now, this.sql.claimKind.all({ ...this.claimParams(queue, limit, 'pool', now, leaseMs), kind }));
    });
  }

  /** Rows a pool claim took from a queue: they stop counting as waiting, and each gets its `started` event. */
  private claimed(queue: string, now: number, rows: JobSqlRow[]): Job[] {
    if (!rows.length) return [];
    this.addWaiting(queue, -rows.length);
    this.events('started', now, rows.map((row) => ({ jobId: row.id, payload: { attempt: row.attempts } })));
    return rows.map(toJob);
  }

  async pullJob(queue: string, claimant: string, by: number, leaseMs: number): Promise<Job | null> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      const now = this.clock.now();
      const row = this.sql.claim.get(this.claimParams(queue, 1, claimant, now, leaseMs));
      if (!row) return null;
      this.addWaiting(queue, -1);
      this.event(row.id, 'pulled', { by, attempt: row.attempts }, now);
      return toJob(row);
    });
  }

  async settleJobs(outcomes: Outcome[]): Promise<Job[]> {
    while (this.othersTransactionOpen()) await this.idle();
    if (!outcomes.length) return [];
    return this.write(() => {
      const changed = this.completeJobs(outcomes.flatMap((outcome) => ('result' in outcome ? [{ job: outcome.lease, result: outcome.result }] : [])));
      for (const outcome of outcomes) {
        if (!('error' in outcome)) continue;
        const job =
          outcome.retryInMs === undefined ? this.failJob(outcome.lease, outcome.error) : this.requeueJob(outcome.lease, outcome.error, outcome.retryInMs);
        if (job) changed.push(job);
      }
      return changed;
    });
  }

  private completeJobs(completions: { job: Job; result: unknown }[]): Job[] {
    if (!completions.length) return [];
    return this.write(() => {
      const now = this.clock.now();
      const batch = completions.map(({ job, result }) => ({ id: job.id, leaseToken: job.leaseToken, result: result ?? null }));
      const counted = new Set(this.sql.succeedMany.all({ now, batch: JSON.stringify(batch) }).map((row) => row.id));
      const succeeded = completions
        .filter(({ job }) => counted.has(job.id))
        .map(({ job, result }): Job => ({
          ...job,
          status: 'SUCCEEDED',
          result: result ?? null,
          error: null,
          progress: 1,
          finishedAt: new Date(now),
          leaseToken: null,
          leaseExpiresAt: null,
        }));
      const durationMs = (job: Job) => now - (job.startedAt?.getTime() ?? now);
      this.events('succeeded', now, succeeded.map((job) => ({ jobId: job.id, payload: { attempt: job.attempts, durationMs: durationMs(job) } })));
      return succeeded;
    });
  }

  async completeJob(lease: Lease, result: unknown, by: number): Promise<Job | undefined> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.change(lease.id, 'succeeded', () => ({ by }), (now) =>
      this.sql.succeed.get({ id: lease.id, leaseToken: lease.leaseToken, result: JSON.stringify(result), now }),
    );
  }

  private failJob(lease: Lease, error: string): Job | undefined {
    return this.change(lease.id, 'failed', (row) => ({ attempt: row.attempts, error }), (now) =>
      this.sql.fail.get({ id: lease.id, leaseToken: lease.leaseToken, error, now }),
    );
  }

  private requeueJob(lease: Lease, error: string, delayMs: number): Job | undefined {
    return this.change(lease.id, 'retry_scheduled', (row) => ({ attempt: row.attempts, error, runAt: row.run_at }), (now) =>
      this.queuedAgain(this.sql.requeue.get({ id: lease.id, leaseToken: lease.leaseToken, error, runAt: now + delayMs })),
    );
  }

  async cancelJob(id: number, by: number): Promise<Job | undefined> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.change(id, 'cancelled', () => ({ by }), (now) => {
      // RETURNING gives the row after the update: whether it was waiting is read first.
      const before = this.sql.statusOf.get({ id });
      const row = this.sql.cancel.get({ id, now });
      if (row && before?.status === 'QUEUED') this.addWaiting(row.queue, -1);
      return row;
    });
  }

  async retryJob(id: number, by: number): Promise<Job | undefined> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.change(id, 'retried', () => ({ by }), (now) => this.queuedAgain(this.sql.retry.get({ id, now })));
  }

  async deleteJob(id: number): Promise<void> {
    while (this.othersTransactionOpen()) await this.idle();
    this.write(() => {
      const deleted = this.sql.delete.get({ id });
      if (deleted?.status === 'QUEUED') this.addWaiting(deleted.queue, -1);
    });
  }

  async cancelMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      const now = this.clock.now();
      const picked = this.bulk.cancelPick.all({ ...filterParams(filter), limit });
      if (!picked.length) return [];
      const rows = this.bulk.cancelUpdate.all({ now, picked: JSON.stringify(picked.map((row) => row.id)) });
      for (const row of picked) if (row.status === 'QUEUED') this.addWaiting(row.queue, -1);
      this.bulk.cancelEvents.run({ now, by, changed: JSON.stringify(rows.map((row) => row.id)) });
      return rows.map(toJob).sort((a, b) => a.id - b.id);
    });
  }

  async retryMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      const now = this.clock.now();
      const rows = this.bulk.retry.all({ ...filterParams(filter), limit, now });
      for (const row of rows) this.addWaiting(row.queue, 1);
      if (rows.length) this.bulk.retryEvents.run({ now, by, changed: JSON.stringify(rows.map((row) => row.id)) });
      return rows.map(toJob).sort((a, b) => a.id - b.id);
    });
  }

  async deleteMatching(filter: MatchingJobs, limit: number): Promise<number[]> {
    while (this.othersTransactionOpen()) await this.idle();
    // Finished jobs only: no waiting count moves.
    return this.write(() => this.bulk.delete.all({ ...filterParams(filter), limit }).map((row) => row.id));
  }

  async purgeExpiredKeys(limit: number): Promise<number> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => this.keys.purge.run({ now: this.clock.now(), limit }).changes);
  }

  forgetQueue(name: string): void {
    this.waitingByQueue.delete(name);
  }

  async waitingCount(queue: string): Promise<number> {
    return this.waiting(queue);
  }

  mayHaveWaiting(queue: string): boolean {
    return this.waiting(queue) > 0;
  }

  async queuedOfKind(queue: string, kind: JobKindName): Promise<number> {
    return this.sql.queuedOfKind.get({ queue, kind })!.n;
  }

  async recoverExpired(everyPoolJob: boolean): Promise<Job[]> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      const params = { now: this.clock.now(), everyPoolJob: everyPoolJob ? 1 : 0 };
      // The events first: they name the claimant, which the update forgets.
      if (this.sql.expiredEvents.run(params).changes === 0) return [];
      const failed = this.sql.failExpired.all({ ...params, error: OUT_OF_ATTEMPTS });
      const requeued = this.sql.requeueExpired.all({ ...params, error: RECOVERED });
      for (const row of requeued) this.addWaiting(row.queue, 1);
      return [...failed, ...requeued].map(toJob);
    });
  }

  async heartbeat(leases: Lease[], leaseMs: number): Promise<Set<number>> {
    while (this.othersTransactionOpen()) await this.idle();
    if (!leases.length) return new Set();
    const now = this.clock.now();
    const batch = JSON.stringify(leases.map(({ id, leaseToken }) => ({ id, leaseToken })));
    return new Set(this.sql.heartbeat.all({ now, leaseExpiresAt: now + leaseMs, batch }).map((row) => row.id));
  }

  async progress(lease: Lease, fraction: number): Promise<void> {
    while (this.othersTransactionOpen()) await this.idle();
    this.sql.progress.run({ id: lease.id, leaseToken: lease.leaseToken, progress: fraction });
  }

  async addNote(id: number, note: JobNote): Promise<boolean> {
    while (this.othersTransactionOpen()) await this.idle();
    return this.write(() => {
      if (!this.sql.statusOf.get({ id })) return false;
      this.event(id, 'note', note, this.clock.now());
      return true;
    });
  }

  readonly shared = false;

  onWork(): void {
    // The only process on this file: nothing happens elsewhere.
  }

  onCancelled(): void {
    // The only process on this file: the service stops a cancelled job's run itself.
  }

  async announceQueues(): Promise<void> {}

  async close(): Promise<void> {}

  // ---- reads -------------------------------------------------------------------------------------------

  async jobById(id: number): Promise<Job | undefined> {
    const row = this.sql.byId.get({ id });
    return row ? toJob(row) : undefined;
  }

  async inputsOf(ids: number[]): Promise<Map<number, unknown>> {
    if (ids.length === 1) {
      const row = this.sql.inputOf.get({ id: ids[0] });
      return new Map(row ? [[ids[0]!, JSON.parse(row.input)]] : []);
    }
    return new Map(this.sql.inputsOf.all({ ids: JSON.stringify(ids) }).map((row) => [row.id, JSON.parse(row.input)]));
  }

  async statusesOfKind(kind: JobKindName, ownerId: number | null): Promise<{ id: number; status: JobStatus }[]> {
    return this.sql.statusesOfKind.all({ kind, ownerId });
  }

  async countByStatus(ownerId: number | null, queue: string | null): Promise<{ status: JobStatus; n: number }[]> {
    return this.sql.counts.all({ ownerId, queue });
  }

  async countActiveByQueueKind() {
    return this.sql.activeByQueueKind.all({});
  }

  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
    return selectJob(this.db, id, ownerId, select);
  }

  selectJobs(filter: JobFilter, select?: Selection): Promise<Job[]> {
    return selectJobs(this.db, filter, select);
  }

  countJobs(filter: JobFilter): Promise<number> {
    return countJobs(this.db, jobsTable, filter);
  }

  async countDelayedByQueue(): Promise<{ queue: string; n: number }[]> {
    return this.sql.delayedByQueue.all({ now: this.clock.now() });
  }

  async nextRunAt(): Promise<number | null> {
    return this.sql.nextRunAt.get({ now: this.clock.now() })?.at ?? null;
  }

  async pendingCount(): Promise<number> {
    return this.sql.pendingInActiveQueues.get({})!.n;
  }

  // ---- helpers -----------------------------------------------------------------------------------------

  /** One job's guarded update and, when it took, its event (the payload may read the updated row). */
  private change(
    id: number,
    type: string,
    payload: (row: JobSqlRow) => unknown,
    update: (now: number) => JobSqlRow | null,
  ): Job | undefined {
    return this.write(() => {
      const now = this.clock.now();
      const row = update(now);
      if (!row) return undefined;
      this.event(id, type, payload(row), now);
      return toJob(row);
    });
  }

  private claimParams(queue: string, limit: number, claimedBy: string, now: number, leaseMs: number) {
    // Each claim gets its own token prefix: a late answer from an earlier lease of the same job never matches.
    return { queue, limit, claimedBy, now, leasePrefix: `${crypto.randomUUID()}:`, leaseExpiresAt: now + leaseMs };
  }

  private event(jobId: number, type: string, payload: unknown, at: number): void {
    this.sql.event.run({ jobId, type, payload: payload === null ? null : JSON.stringify(payload), at });
  }

  private events(type: string, at: number, batch: { jobId: number; payload: unknown }[]): void {
    if (batch.length) this.sql.eventMany.run({ type, at, batch: JSON.stringify(batch) });
  }

  /** A row a transition put back in its queue (or null, when its guard no longer held), counted as waiting. */
  private queuedAgain(row: JobSqlRow | null): JobSqlRow | null {
    if (row) this.addWaiting(row.queue, 1);
    return row;
  }

  /** QUEUED jobs of a queue now, this transaction's changes included. */
  private waiting(queue: string): number {
    return (this.waitingByQueue.get(queue) ?? 0) + (this.pendingWaiting?.get(queue) ?? 0);
  }

  /** Counts `delta` more (or fewer) jobs waiting in `queue` once the open transaction commits. */
  private addWaiting(queue: string, delta: number): void {
    const pending = this.pendingWaiting!;
    pending.set(queue, (pending.get(queue) ?? 0) + delta);
  }

  /**
   * Whether another service's async transaction has the connection open (it awaits between its statements: see
   * Database.transaction). A transition made now would be a savepoint inside it, undone if it rolled back after the
   * job was announced, with the waiting counts left wrong: transitions wait for it to end. Not so in the common case
   * (no transaction open), where a transition still runs at once, when called.
   */
  private othersTransactionOpen(): boolean {
    return this.sqlite.inTransaction && !this.pendingWaiting;
  }

  /** In the caller's transaction when there is one (settleJobs), else in its own; waiting counts follow its fate. */
  private write<T>(work: () => T): T {
    // Inside settleJobs' own transaction: part of it. (Never inside another's: see othersTransactionOpen.)
    if (this.pendingWaiting) return work();
    this.pendingWaiting = new Map();
    try {
      const result = this.sqlite.transaction(work).immediate();
      for (const [queue, delta] of this.pendingWaiting) this.waitingByQueue.set(queue, (this.waitingByQueue.get(queue) ?? 0) + delta);
      return result;
    } finally {
      this.pendingWaiting = null;
    }
  }
}
