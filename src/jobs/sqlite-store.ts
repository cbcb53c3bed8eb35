import type { Database } from 'bun:sqlite';
import type { Db } from '../db/client';
import { type Selection, withSelection } from '../db/selection';
import { conflict } from '../errors';
import type { Clock, Job, JobKindName, JobStatus } from './model';
import { type JobSqlRow, type JobStatements, prepareJobStatements, toJob } from './queries';
import type { JobFilter, JobStore, Lease, NewJob } from './store';

const RECOVERED = 'its worker or claimant went away; re-queued';
const OUT_OF_ATTEMPTS = 'its worker or claimant went away and it has no attempts left';

/**
 * The job store on SQLite (bun:sqlite, WAL): this process is the only writer, and every transition is an
 * IMMEDIATE transaction around its statement and its event row.
 */
export class SqliteJobStore implements JobStore {
  private readonly sql: JobStatements;
  private readonly sqlite: Database;
  /** Drizzle over the same connection, for the reads a caller selects (selectJob, selectJobs). */
  private readonly db: Db;

  constructor(
    database: { sqlite: Database; db: Db },
    private readonly clock: Clock,
  ) {
    this.sqlite = database.sqlite;
    this.db = database.db;
    this.sql = prepareJobStatements(database.sqlite);
  }

  // ---- transitions -------------------------------------------------------------------------------------

  insertJobs(queue: { name: string; maxLength: number }, job: NewJob, inputsJson: string[]): Job[] {
    return this.write(() => {
      const waiting = this.sql.queuedCount.get({ queue: queue.name })!.n;
      if (waiting + inputsJson.length > queue.maxLength) {
        throw conflict(`queue "${queue.name}" is full: ${waiting} jobs waiting, at most ${queue.maxLength}`);
      }
      const now = this.clock.now();
      const row = { ...job, queue: queue.name };
      const params = { ...row, now };
      return inputsJson.map((input) => {
        const { id } = this.sql.insert.get(params)!;
        this.sql.insertInput.run({ id, input });
        this.event(id, 'queued', null, now);
        return newJob(id, row, now);
      });
    });
  }

  claimJobs(queue: string, limit: number, leaseMs: number): Job[] {
    return this.write(() => {
      const now = this.clock.now();
      const rows = this.sql.claim.all(this.claimParams(queue, limit, 'pool', now, leaseMs));
      if (!rows.length) return [];
      this.events('started', now, rows.map((row) => ({ jobId: row.id, payload: { attempt: row.attempts } })));
      return rows.map(toJob);
    });
  }

  pullJob(queue: string, claimant: string, by: number, leaseMs: number): Job | null {
    return this.write(() => {
      const now = this.clock.now();
      const row = this.sql.claim.get(this.claimParams(queue, 1, claimant, now, leaseMs));
      if (!row) return null;
      this.event(row.id, 'pulled', { by, attempt: row.attempts }, now);
      return toJob(row);
    });
  }

  completeJobs(completions: { job: Job; result: unknown }[]): Job[] {
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

  completeJob(lease: Lease, result: unknown, by: number): Job | undefined {
    return this.change(lease.id, 'succeeded', () => ({ by }), (now) =>
      this.sql.succeed.get({ id: lease.id, leaseToken: lease.leaseToken, result: JSON.stringify(result), now }),
    );
  }

  failJob(lease: Lease, error: string): Job | undefined {
    return this.change(lease.id, 'failed', (row) => ({ attempt: row.attempts, error }), (now) =>
      this.sql.fail.get({ id: lease.id, leaseToken: lease.leaseToken, error, now }),
    );
  }

  requeueJob(lease: Lease, error: string, delayMs: number): Job | undefined {
    return this.change(lease.id, 'retry_scheduled', (row) => ({ attempt: row.attempts, error, runAt: row.run_at }), (now) =>
      this.sql.requeue.get({ id: lease.id, leaseToken: lease.leaseToken, error, runAt: now + delayMs }),
    );
  }

  cancelJob(id: number, by: number): Job | undefined {
    return this.change(id, 'cancelled', () => ({ by }), (now) => this.sql.cancel.get({ id, now }));
  }

  retryJob(id: number, by: number): Job | undefined {
    return this.change(id, 'retried', () => ({ by }), (now) => this.sql.retry.get({ id, now }));
  }

  deleteJob(id: number): void {
    this.sql.delete.run({ id });
  }

  recoverExpired(everyPoolJob: boolean): Job[] {
    return this.write(() => {
      const params = { now: this.clock.now(), everyPoolJob: everyPoolJob ? 1 : 0 };
      // The events first: they name the claimant, which the update forgets.
      if (this.sql.expiredEvents.run(params).changes === 0) return [];
      const failed = this.sql.failExpired.all({ ...params, error: OUT_OF_ATTEMPTS });
      const requeued = this.sql.requeueExpired.all({ ...params, error: RECOVERED });
      return [...failed, ...requeued].map(toJob);
    });
  }

  heartbeat(leases: Lease[], leaseMs: number): Set<number> {
    if (!leases.length) return new Set();
    const now = this.clock.now();
    const batch = JSON.stringify(leases.map(({ id, leaseToken }) => ({ id, leaseToken })));
    return new Set(this.sql.heartbeat.all({ now, leaseExpiresAt: now + leaseMs, batch }).map((row) => row.id));
  }

  progress(lease: Lease, fraction: number): void {
    this.sql.progress.run({ id: lease.id, leaseToken: lease.leaseToken, progress: fraction });
  }

  batch<T>(work: () => T): T {
    return this.write(work);
  }

  // ---- reads -------------------------------------------------------------------------------------------

  jobById(id: number): Job | undefined {
    const row = this.sql.byId.get({ id });
    return row ? toJob(row) : undefined;
  }

  inputsOf(ids: number[]): Map<number, unknown> {
    if (ids.length === 1) {
      const row = this.sql.inputOf.get({ id: ids[0] });
      return new Map(row ? [[ids[0]!, JSON.parse(row.input)]] : []);
    }
    return new Map(this.sql.inputsOf.all({ ids: JSON.stringify(ids) }).map((row) => [row.id, JSON.parse(row.input)]));
  }

  statusesOfKind(kind: JobKindName, ownerId: number | null): { id: number; status: JobStatus }[] {
    return this.sql.statusesOfKind.all({ kind, ownerId });
  }

  countByStatus(ownerId: number | null, queue: string | null): { status: JobStatus; n: number }[] {
    return this.sql.counts.all({ ownerId, queue });
  }

  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
    return this.db.query.jobs.findFirst(withSelection({ where: { id, ...(ownerId === null ? {} : { ownerId }) } }, select));
  }

  selectJobs({ status, kind, queue, ownerId }: JobFilter, select?: Selection): Promise<Job[]> {
    const where = {
      ...(status ? { status } : {}),
      ...(kind ? { kind } : {}),
      ...(queue ? { queue } : {}),
      ...(ownerId ? { ownerId } : {}),
    };
    return this.db.query.jobs.findMany(withSelection({ where, orderBy: { id: 'desc' as const } }, select));
  }

  nextRunAt(): number | null {
    return this.sql.nextRunAt.get({ now: this.clock.now() })?.at ?? null;
  }

  pendingCount(): number {
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

  /** In the caller's transaction when there is one (see batch), else in its own. */
  private write<T>(work: () => T): T {
    return this.sqlite.inTransaction ? work() : this.sqlite.transaction(work).immediate();
  }
}

/** The row a fresh INSERT makes (the table's defaults included), without reading it back. */
function newJob(id: number, job: NewJob & { queue: string }, now: number): Job {
  return {
    ...job,
    id,
    status: 'QUEUED',
    result: null,
    error: null,
    progress: 0,
    attempts: 0,
    runAt: new Date(now),
    leaseToken: null,
    leaseExpiresAt: null,
    claimedBy: null,
    createdAt: new Date(now),
    startedAt: null,
    finishedAt: null,
  };
}
