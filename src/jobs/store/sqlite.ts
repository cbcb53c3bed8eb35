import type { Database, SQLQueryBindings, Statement } from 'bun:sqlite';
import type { SqliteDb } from '../../db/client';
import { jobs as jobsTable } from '../../db/schema';
import type { Selection } from '../../db/selection';
import { conflict } from '../../errors';
import type { Clock, Job, JobKindName, JobStatus } from '../model';
import {
  type Claim,
  type EventFilter,
  type EventPosition,
  type FiredTick,
  idempotencyKeyOf,
  type InsertedJobs,
  type JobFilter,
  type JobNote,
  type JobStore,
  type Lease,
  type MatchingJobs,
  newJob,
  type NewQueuedJob,
  type Outcome,
  type ScheduleTick,
  type FlowChange,
  type NewFlow,
  type ParentNode,
  type StoredEvent,
} from '.';
import type { Flow } from '../../db/schema';
import { type EventSqlRow, type FlowSqlRow, type JobSqlRow, toFlow, toJob, toStoredEvent } from './rows';
import { jobQuery, jobsQuery, jobsWhere, nodesOf, parentsByChild } from './selects';
import { cancelFlow, flowReads, insertFlow, PARENT_FAILED, release } from './sql/flow';
import { cancel } from './sql/cancel';
import { cancelMatching } from './sql/cancelMatching';
import { claimKey, freeStaleKey, purgeExpiredKeys } from './sql/claimIdempotencyKeys';
import { deleteMatching } from './sql/deleteMatching';
import { fireSchedule } from './sql/fireSchedule';
import { filterParams } from './sql/jobFilter';
import { rateLimit } from './sql/rateLimit';
import { retryMatching } from './sql/retryMatching';
import { claim, claimKind } from './sql/claim';
import { claimFair, lastTurn } from './sql/claim-fair';
import { complete } from './sql/complete';
import { deleteJob } from './sql/delete';
import * as eventLog from './sql/event-log';
import { insertEventRows, type Transition, VALUES_CHUNK } from './sql/events';
import { heartbeat } from './sql/heartbeat';
import { insert } from './sql/insert';
import { note } from './sql/note';
import { progress } from './sql/progress';
import * as reads from './sql/reads';
import { OUT_OF_ATTEMPTS, RECOVERED, recover } from './sql/recover';
import { retry } from './sql/retry';
import { fail, requeue, succeedMany } from './sql/settle';

/**
 * The job store on SQLite (bun:sqlite, WAL): this process is the only writer, and every transition is an
 * IMMEDIATE transaction around its statements (./sql/*.ts) and its event rows. The interface is asynchronous (for
 * PostgreSQL); here each method does its work synchronously, when called, and answers with a promise already
 * settled (unless another service's async transaction is open: see {@link SqliteJobStore.othersDone}).
 */
export class SqliteJobStore implements JobStore {
  private readonly sqlite: Database;
  /** Drizzle over the same connection, for the reads a caller selects (selectJob, selectJobs). */
  private readonly db: SqliteDb;
  /** Each statement prepared once, on first use (keyed by its text). */
  private readonly prepared = new Map<string, Statement<any, any>>();
  /** The multi-row statements (see runRows), by their text's maker, then by their number of rows. */
  private readonly bySize = new Map<(rows: number) => string, Statement<any, any>[]>();
  /**
   * QUEUED jobs per queue, kept with every transition so a submission checks maxLength without counting the queue
   * (a COUNT per submission made submitting slower as the queue grew). Exact because this process is the only
   * writer (the file lock): counted once at start, then moved only by the transitions here. A queue missing holds none.
   */
  private readonly waitingByQueue = new Map<string, number>();
  /** The changes to those counts made by the open transaction: applied when it commits, dropped if it rolls back. */
  private pendingWaiting: Map<string, number> | null = null;
  /** What the open transaction did to flows (see releaseAfter), told to the listeners once it commits. */
  private pendingFlowChange: FlowChange | null = null;
  private readonly flowListeners = new Set<(change: FlowChange) => void>();
  /** See throttledUntil: set by each claimJobs. */
  private throttled: number | null = null;
  /** Waits out another service's async transaction (see {@link SqliteJobStore.othersDone}). */
  private readonly idle: () => Promise<void>;
  /** Told after each commit here (see src/db/checkpointer.ts). */
  private readonly walWritten: () => void;
  /** Told after each transition commits (it may have written events): see onEvents. */
  private readonly eventListeners = new Set<() => void>();

  constructor(
    database: { sqlite: Database; db: SqliteDb; idle(): Promise<void>; walWritten?(): void },
    private readonly clock: Clock,
  ) {
    this.sqlite = database.sqlite;
    this.db = database.db;
    this.idle = database.idle;
    this.walWritten = database.walWritten ?? (() => {});
    for (const { queue, n } of this.all<{ queue: string; n: number }>(reads.waiting.sqlite, {})) this.waitingByQueue.set(queue, n);
  }

  // ---- transitions -------------------------------------------------------------------------------------

  insertJobs(jobs: NewQueuedJob[]): Promise<InsertedJobs> {
    return this.transition(() => this.insertNow(jobs, this.clock.now()));
  }

  /** insertJobs' work, in the open transaction (fireSchedule's too). */
  private insertNow(jobs: NewQueuedJob[], now: number): InsertedJobs {
    // Keys first: a job whose key is remembered is not inserted, nor counted against its queue's maxLength.
    const reusedIds = new Map<number, number>();
    const keyedInBatch = new Map<string, number>();
    jobs.forEach(({ job }, i) => {
      const key = idempotencyKeyOf(job);
      if (key === null) return;
      const first = keyedInBatch.get(key);
      if (first !== undefined) return reusedIds.set(i, -1 - first);
      const params = { ownerId: job.ownerId, key: job.idempotencyKey };
      this.run(freeStaleKey.sqlite, { ...params, now });
      const held = this.get<{ jobId: number }>(claimKey.sqlite.find, params);
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
    // Numbered here, written in three statements per chunk of rows (a statement per job and table cost more than the rows' own work).
    const keyed: { ownerId: number; key: string; jobId: number; expiresAt: number }[] = [];
    let nextId = this.get<{ id: number }>(insert.sqlite.lastId, {})!.id + 1;
    const jobValues: unknown[] = [];
    const inputValues: unknown[] = [];
    const eventValues: unknown[] = [];
    const inserted = jobs.map(({ queue, job, inputJson, keyExpiresAt }, i): Job | undefined => {
      if (reusedIds.has(i)) return undefined;
      const id = nextId++;
      const runAt = job.runAt ?? now;
      const idempotencyKey = job.idempotencyKey ?? null;
      jobValues.push(id, job.kind, queue.name, job.ownerId, job.maxAttempts, job.priority, job.timeoutMs, runAt, now, idempotencyKey, job.schedule ?? null);
      inputValues.push(id, inputJson);
      eventValues.push(id, runAt > now ? JSON.stringify({ runAt }) : null, now);
      if (idempotencyKey !== null) keyed.push({ ownerId: job.ownerId, key: idempotencyKey, jobId: id, expiresAt: keyExpiresAt ?? now });
      return newJob(id, { ...job, queue: queue.name }, now);
    });
    this.runRows(insert.sqlite.jobs, jobValues, 11);
    this.runRows(insert.sqlite.inputs, inputValues, 2);
    this.runRows(insert.sqlite.events, eventValues, 3);
    for (const key of keyed) this.run(claimKey.sqlite.claim, key);
    for (const [name, { n }] of adding) this.addWaiting(name, n);
    // A key already held names a stored job; one repeated within this batch names the job its first use made.
    const result = inserted.map((job, i) => {
      if (job) return job;
      const id = reusedIds.get(i)!;
      return id < 0 ? inserted[-1 - id]! : toJob(this.get<JobSqlRow>(reads.byId.sqlite, { id })!);
    });
    return { jobs: result, reused: new Set(reusedIds.keys()) };
  }

  fireSchedule(tick: ScheduleTick, job: NewQueuedJob | null): Promise<FiredTick> {
    return this.transition(() => {
      const params = { name: tick.name, due: tick.due, next: tick.next };
      if (!this.get(fireSchedule.sqlite.advance, params)) return { advanced: false, job: null };
      if (!job || (tick.skipIfUnfinished && this.get(fireSchedule.sqlite.unfinishedRun, { name: tick.name }))) return { advanced: true, job: null };
      this.run(fireSchedule.sqlite.ran, { name: tick.name, due: tick.due });
      return { advanced: true, job: this.insertNow([{ ...job, job: { ...job.job, schedule: tick.name } }], this.clock.now()).jobs[0]! };
    });
  }

  /** CONFLICT when a queue would hold more than its maxLength waiting with `jobs` added; the count added per queue. */
  private checkRoom(jobs: NewQueuedJob[]): Map<string, { maxLength: number; n: number }> {
    const adding = new Map<string, { maxLength: number; n: number }>();
    for (const { queue } of jobs) {
      const entry = adding.get(queue.name);
      if (entry) entry.n++;
      else adding.set(queue.name, { maxLength: queue.maxLength, n: 1 });
    }
    for (const [name, { maxLength, n }] of adding) {
      const waiting = this.waiting(name);
      if (waiting + n > maxLength) throw conflict(`queue "${name}" is full: ${waiting} jobs waiting, at most ${maxLength}`);
    }
    return adding;
  }

  insertFlow(flow: NewFlow): Promise<{ flow: Flow; jobs: Job[] }> {
    return this.transition(() => {
      // Only the nodes without parents wait in their queue now; the others join it when released.
      const adding = this.checkRoom(flow.nodes.filter((node) => !node.parents.length));
      const now = this.clock.now();
      const { id: flowId } = this.get<{ id: number }>(insertFlow.sqlite.flow, { name: flow.name, ownerId: flow.ownerId, total: flow.nodes.length, now })!;
      const jobs = flow.nodes.map(({ queue, job, inputJson, parents }) => {
        const status = parents.length ? 'WAITING' : 'QUEUED';
        const { kind, ownerId, maxAttempts, priority, timeoutMs } = job;
        const runAt = job.runAt ?? null;
        const { id } = this.get<{ id: number }>(insertFlow.sqlite.job, { kind, status, queue: queue.name, ownerId, maxAttempts, priority, timeoutMs, runAt, now })!;
        this.run(insert.sqlite.input, { id, input: inputJson });
        this.run(insert.sqlite.event, { id, runAt: runAt ?? now, now });
        return { ...newJob(id, { ...job, queue: queue.name }, now), status } as Job;
      });
      const nodes = flow.nodes.map((node, i) => ({ jobId: jobs[i]!.id, key: node.key, onParentFailure: node.onParentFailure, waitingParents: node.parents.length }));
      this.run(insertFlow.sqlite.nodes, { flowId, batch: JSON.stringify(nodes) });
      const edges = flow.nodes.flatMap((node, i) => node.parents.map((parent) => ({ childId: jobs[i]!.id, parentId: jobs[parent]!.id })));
      if (edges.length) this.run(insertFlow.sqlite.edges, { batch: JSON.stringify(edges) });
      for (const [name, { n }] of adding) this.addWaiting(name, n);
      return { flow: toFlow(this.get<FlowSqlRow>(flowReads.byId.sqlite, { id: flowId, ownerId: null })!), jobs };
    });
  }

  cancelFlow(id: number, by: number): Promise<{ flow: Flow; jobs: Job[] } | undefined> {
    return this.transition(() => {
      if (!this.get(cancelFlow.sqlite.flow, { id })) return undefined;
      const now = this.clock.now();
      for (const { queue, n } of this.all<{ queue: string; n: number }>(cancelFlow.sqlite.queued, { id })) this.addWaiting(queue, -n);
      const rows = this.all<JobSqlRow>(cancelFlow.sqlite.nodes, { id, now });
      this.events('cancelled', now, rows.map((row) => ({ jobId: row.id, payload: { by } })));
      this.releaseAfter(rows.map((row) => row.id), now);
      const flow = toFlow(this.get<FlowSqlRow>(flowReads.byId.sqlite, { id, ownerId: null })!);
      return { flow, jobs: rows.map(toJob) };
    });
  }

  onFlowChange(listener: (change: FlowChange) => void): void {
    this.flowListeners.add(listener);
  }

  /**
   * ./sql/flow.ts `release` for jobs this transaction made final: children cancelled (a parent did not succeed,
   * policy CANCEL) or released (their last parent finished), round after round, then the flows' counts.
   */
  private releaseAfter(finished: number[], now: number): void {
    if (!finished.length || !this.get(release.sqlite.anyFlow, {}) || !this.get(release.sqlite.anyNode, { finished: JSON.stringify(finished) })) return;
    const change = this.pendingFlowChange!;
    const all = [...finished];
    for (let round = finished; round.length; ) {
      const params = { finished: JSON.stringify(round), now };
      const cancelled = this.all<JobSqlRow>(release.sqlite.cancelChildren, params);
      this.events('cancelled', now, cancelled.map((row) => ({ jobId: row.id, payload: PARENT_FAILED })));
      const ready = this.all<{ id: number; waiting: number }>(release.sqlite.countDown, params).filter((row) => row.waiting === 0);
      if (ready.length) {
        const released = this.all<JobSqlRow>(release.sqlite.release, { ids: JSON.stringify(ready.map((row) => row.id)), now });
        this.events('released', now, released.map((row) => ({ jobId: row.id, payload: null })));
        for (const row of released) {
          this.addWaiting(row.queue, 1);
          change.jobs.push(toJob(row));
        }
      }
      for (const row of cancelled) change.jobs.push(toJob(row));
      round = cancelled.map((row) => row.id);
      all.push(...round);
    }
    for (const row of this.all<FlowSqlRow>(release.sqlite.countFlows, { finished: JSON.stringify(all), now })) change.flows.push(toFlow(row));
  }

  claimJobs(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]> {
    this.throttled = null;
    if (!claims.length) return Promise.resolve([]);
    return this.transition(() => {
      const now = this.clock.now();
      const claimed: Job[] = [];
      for (const { queue, limit: wanted, rateLimit: rate, order } of claims) {
        if (claimed.length >= budget) break;
        let limit = Math.min(wanted, budget - claimed.length);
        // A rate-limited queue: what its window has left (only such queues read or write queue_starts).
        const window = rate ? this.get<{ n: number; oldest: number | null }>(rateLimit.sqlite.window, { queue, since: now - rate.perMs })! : null;
        if (rate && window) {
          if (window.n + limit > rate.jobs) {
            limit = Math.max(0, rate.jobs - window.n);
            if (window.oldest !== null) this.throttledAt(window.oldest + rate.perMs);
          }
          if (limit === 0) continue;
        }
        const params = this.claimParams(queue, limit, 'pool', now, leaseMs);
        const rows = order === 'FAIR' ? this.claimFair(params) : this.all<JobSqlRow>(claim.sqlite.change, params);
        if (rate && window && rows.length) {
          this.run(rateLimit.sqlite.prune, { queue, since: now - rate.perMs });
          this.run(rateLimit.sqlite.record, { queue, now, ids: JSON.stringify(rows.map((row) => row.id)) });
          // Full now: room again when the oldest start in the window (this claim's, if none was there) leaves it.
          if (window.n + rows.length >= rate.jobs) this.throttledAt((window.oldest ?? now) + rate.perMs);
        }
        for (const job of this.claimed(queue, now, rows)) claimed.push(job);
      }
      return claimed;
    });
  }

  /** A FAIR queue's claim (./sql/claim-fair.ts): owners in turn from the queue's cursor, which then moves on. */
  private claimFair(params: ReturnType<SqliteJobStore['claimParams']>): JobSqlRow[] {
    const cursor = this.get<{ cursor: number }>(claimFair.sqlite.cursor, { queue: params.queue })?.cursor ?? 0;
    const rows = this.all<JobSqlRow>(claimFair.sqlite.change, { ...params, cursor });
    const owner = lastTurn(cursor, rows.map((row) => row.owner_id));
    if (owner !== null) this.run(claimFair.sqlite.moveCursor, { queue: params.queue, owner });
    return rows;
  }

  throttledUntil(): number | null {
    return this.throttled;
  }

  private throttledAt(at: number): void {
    if (this.throttled === null || at < this.throttled) this.throttled = at;
  }

  claimJobsOfKind(queue: string, kind: JobKindName, limit: number, leaseMs: number): Promise<Job[]> {
    return this.transition(() => {
      const now = this.clock.now();
      return this.claimed(queue, now, this.all<JobSqlRow>(claimKind.sqlite.change, { ...this.claimParams(queue, limit, 'pool', now, leaseMs), kind }));
    });
  }

  /** Rows a pool claim took from a queue: they stop counting as waiting, and each gets its `started` event. */
  private claimed(queue: string, now: number, rows: JobSqlRow[]): Job[] {
    if (!rows.length) return [];
    this.addWaiting(queue, -rows.length);
    this.events('started', now, rows.map((row) => ({ jobId: row.id, payload: claim.sqlite.started(row) })));
    return rows.map(toJob);
  }

  pullJob(queue: string, claimant: string, by: number, leaseMs: number): Promise<Job | null> {
    return this.transition(() => {
      const now = this.clock.now();
      const row = this.get<JobSqlRow>(claim.sqlite.change, this.claimParams(queue, 1, claimant, now, leaseMs));
      if (!row) return null;
      this.addWaiting(queue, -1);
      this.events('pulled', now, [{ jobId: row.id, payload: claim.sqlite.pulled(row, by) }]);
      return toJob(row);
    });
  }

  settleJobs(outcomes: Outcome[]): Promise<Job[]> {
    if (!outcomes.length) return Promise.resolve([]);
    return this.transition(() => {
      const now = this.clock.now();
      const changed = this.succeedMany(now, outcomes.flatMap((outcome) => ('result' in outcome ? [{ job: outcome.lease, result: outcome.result }] : [])));
      for (const outcome of outcomes) {
        if (!('error' in outcome)) continue;
        const { id, leaseToken } = outcome.lease;
        const { error, retryInMs } = outcome;
        const job =
          retryInMs === undefined
            ? this.change(fail, { id, leaseToken, error, now })
            : this.change(requeue, { id, leaseToken, error, now, runAt: now + retryInMs });
        if (job) changed.push(job);
        if (job && retryInMs !== undefined) this.addWaiting(job.queue, 1);
      }
      this.releaseAfter(changed.filter((job) => job.status !== 'QUEUED').map((job) => job.id), now);
      return changed;
    });
  }

  /** The successes of settleJobs, in one statement; the jobs are built from their leases (see sql/settle.ts). */
  private succeedMany(now: number, completions: { job: Job; result: unknown }[]): Job[] {
    if (!completions.length) return [];
    const values: unknown[] = [];
    for (const { job, result } of completions) values.push(job.id, job.leaseToken, JSON.stringify(result ?? null));
    const counted = new Set(this.allRows<{ id: number }>(succeedMany.sqlite, values, 3, [now]).map((row) => row.id));
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
  }

  completeJob(lease: Lease, result: unknown, by: number): Promise<Job | undefined> {
    return this.transition(() => {
      const now = this.clock.now();
      const job = this.change(complete, { id: lease.id, leaseToken: lease.leaseToken, result: JSON.stringify(result), now, by });
      if (job) this.releaseAfter([job.id], now);
      return job;
    });
  }

  cancelJob(id: number, by: number): Promise<Job | undefined> {
    return this.transition(() => {
      // RETURNING gives the row after the update: whether it was waiting is read first.
      const before = this.get<{ status: JobStatus }>(reads.statusOf.sqlite, { id });
      const now = this.clock.now();
      const job = this.change(cancel, { id, now, by });
      if (job && before?.status === 'QUEUED') this.addWaiting(job.queue, -1);
      if (job) this.releaseAfter([job.id], now);
      return job;
    });
  }

  retryJob(id: number, by: number): Promise<Job | undefined> {
    return this.transition(() => {
      const job = this.change(retry, { id, now: this.clock.now(), by });
      if (job) this.addWaiting(job.queue, 1);
      return job;
    });
  }

  deleteJob(id: number): Promise<void> {
    return this.transition(() => {
      const deleted = this.get<{ queue: string; status: JobStatus }>(deleteJob.sqlite, { id });
      if (deleted?.status === 'QUEUED') this.addWaiting(deleted.queue, -1);
    });
  }

  cancelMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    return this.transition(() => {
      const now = this.clock.now();
      const picked = this.all<{ id: number; status: JobStatus; queue: string }>(cancelMatching.sqlite.pick, { ...filterParams(filter), limit });
      if (!picked.length) return [];
      const rows = this.all<JobSqlRow>(cancelMatching.sqlite.update, { now, picked: JSON.stringify(picked.map((row) => row.id)) });
      for (const row of picked) if (row.status === 'QUEUED') this.addWaiting(row.queue, -1);
      this.run(cancelMatching.sqlite.events, { now, by, changed: JSON.stringify(rows.map((row) => row.id)) });
      this.releaseAfter(rows.map((row) => row.id), now);
      return rows.map(toJob).sort((a, b) => a.id - b.id);
    });
  }

  retryMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    return this.transition(() => {
      const now = this.clock.now();
      const rows = this.all<JobSqlRow>(retryMatching.sqlite.update, { ...filterParams(filter), limit, now });
      for (const row of rows) this.addWaiting(row.queue, 1);
      if (rows.length) this.run(retryMatching.sqlite.events, { now, by, changed: JSON.stringify(rows.map((row) => row.id)) });
      return rows.map(toJob).sort((a, b) => a.id - b.id);
    });
  }

  deleteMatching(filter: MatchingJobs, limit: number): Promise<number[]> {
    // Finished jobs only: no waiting count moves.
    return this.transition(() => this.all<{ id: number }>(deleteMatching.sqlite, { ...filterParams(filter), limit }).map((row) => row.id));
  }

  purgeExpiredKeys(limit: number): Promise<number> {
    return this.alone(() => this.run(purgeExpiredKeys.sqlite, { now: this.clock.now(), limit }).changes);
  }

  forgetQueue(name: string): void {
    this.waitingByQueue.delete(name);
  }

  recoverExpired(everyPoolJob: boolean): Promise<Job[]> {
    return this.transition(() => {
      const params = { now: this.clock.now(), everyPoolJob: everyPoolJob ? 1 : 0, outOfAttempts: OUT_OF_ATTEMPTS, recovered: RECOVERED };
      // The events first: they name the claimant, which the updates forget.
      if (this.run(recover.sqlite.events, params).changes === 0) return [];
      const failed = this.all<JobSqlRow>(recover.sqlite.fail, params);
      const requeued = this.all<JobSqlRow>(recover.sqlite.requeue, params);
      for (const row of requeued) this.addWaiting(row.queue, 1);
      this.releaseAfter(failed.map((row) => row.id), params.now);
      return [...failed, ...requeued].map(toJob);
    });
  }

  heartbeat(leases: Lease[], leaseMs: number): Promise<Set<number>> {
    if (!leases.length) return Promise.resolve(new Set());
    // One statement: a transaction of its own, no waiting counts to keep.
    return this.alone(() => {
      const now = this.clock.now();
      const batch = JSON.stringify(leases.map(({ id, leaseToken }) => ({ id, leaseToken })));
      return new Set(this.all<{ id: number }>(heartbeat.sqlite, { now, leaseExpiresAt: now + leaseMs, batch }).map((row) => row.id));
    });
  }

  progress(lease: Lease, fraction: number): Promise<void> {
    return this.alone(() => {
      this.run(progress.sqlite, { id: lease.id, leaseToken: lease.leaseToken, progress: fraction });
    });
  }

  addNote(id: number, jobNote: JobNote): Promise<boolean> {
    return this.transition(() => this.get(note.sqlite, { id, payload: JSON.stringify(jobNote), now: this.clock.now() }) != null);
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

  async flowById(id: number, ownerId: number | null): Promise<Flow | undefined> {
    const row = this.get<FlowSqlRow>(flowReads.byId.sqlite, { id, ownerId });
    return row ? toFlow(row) : undefined;
  }

  async listFlows(ownerId: number | null, before: number | null, limit: number): Promise<Flow[]> {
    return this.all<FlowSqlRow>(flowReads.page.sqlite, { ownerId, before, limit }).map(toFlow);
  }

  async flowNodes(flowId: number): Promise<{ jobId: number; key: string; dependsOn: string[] }[]> {
    return nodesOf(this.all(flowReads.nodes.sqlite, { id: flowId }));
  }

  async flowOfJobs(ids: number[]): Promise<Map<number, number>> {
    const rows = this.all<{ job_id: number; flow_id: number }>(flowReads.flowOf.sqlite, { ids: JSON.stringify(ids) });
    return new Map(rows.map((row) => [row.job_id, row.flow_id]));
  }

  async parentsOf(ids: number[]): Promise<Map<number, ParentNode[]>> {
    // Every claim pass asks: with no flow node at all (most runs) one row read answers it.
    if (!this.get(release.sqlite.anyFlow, {})) return new Map();
    return parentsByChild(this.all(flowReads.parents.sqlite, { ids: JSON.stringify(ids) }));
  }

  async jobById(id: number): Promise<Job | undefined> {
    const row = this.get<JobSqlRow>(reads.byId.sqlite, { id });
    return row ? toJob(row) : undefined;
  }

  async inputsOf(ids: number[]): Promise<Map<number, unknown>> {
    if (ids.length === 1) {
      const row = this.get<{ input: string }>(reads.inputsOf.sqlite.one, { id: ids[0] });
      return new Map(row ? [[ids[0]!, JSON.parse(row.input)]] : []);
    }
    const rows = this.all<{ id: number; input: string }>(reads.inputsOf.sqlite.many, { ids: JSON.stringify(ids) });
    return new Map(rows.map((row) => [row.id, JSON.parse(row.input)]));
  }

  async statusesOfKind(kind: JobKindName, ownerId: number | null): Promise<{ id: number; status: JobStatus }[]> {
    return this.all(reads.statusesOfKind.sqlite, { kind, ownerId });
  }

  async countByOwner(queue: string, ownerId: number | null, limit: number) {
    return this.all<{ ownerId: number | null; waiting: number; running: number }>(reads.countByOwner.sqlite, { queue, ownerId, limit });
  }

  async countByStatus(ownerId: number | null, queue: string | null): Promise<{ status: JobStatus; n: number }[]> {
    return this.all(reads.countByStatus.sqlite, { ownerId, queue });
  }

  async countActiveByQueueKind(): Promise<{ status: JobStatus; queue: string; kind: JobKindName; n: number }[]> {
    return this.all(reads.countActiveByQueueKind.sqlite, {});
  }

  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
    return this.db.query.jobs.findFirst(jobQuery(id, ownerId, select));
  }

  selectJobs(filter: JobFilter, select?: Selection): Promise<Job[]> {
    return this.db.query.jobs.findMany(jobsQuery(filter, select));
  }

  countJobs(filter: JobFilter): Promise<number> {
    return this.db.$count(jobsTable, jobsWhere(jobsTable, filter));
  }

  async countDelayedByQueue(): Promise<{ queue: string; n: number }[]> {
    return this.all(reads.delayedByQueue.sqlite, { now: this.clock.now() });
  }

  async nextRunAt(): Promise<number | null> {
    return this.get<{ at: number | null }>(reads.nextRunAt.sqlite, { now: this.clock.now() })?.at ?? null;
  }

  async pendingCount(): Promise<number> {
    return this.get<{ n: number }>(reads.pendingCount.sqlite, {})!.n;
  }

  async queuedOfKind(queue: string, kind: JobKindName): Promise<number> {
    return this.get<{ n: number }>(reads.queuedOfKind.sqlite, { queue, kind })!.n;
  }

  async waitingCount(queue: string): Promise<number> {
    return this.waiting(queue);
  }

  mayHaveWaiting(queue: string): boolean {
    return this.waiting(queue) > 0;
  }

  // ---- the event log -----------------------------------------------------------------------------------

  async eventsAfter(after: EventPosition | null, filter: EventFilter, limit: number): Promise<StoredEvent[]> {
    const rows = this.all<EventSqlRow>(eventLog.eventsAfter.sqlite, {
      afterId: after?.id ?? 0,
      ownerId: filter.ownerId ?? null,
      queue: filter.queue ?? null,
      kind: filter.kind ?? null,
      jobId: filter.jobId ?? null,
      types: filter.types ? JSON.stringify(filter.types) : null,
      limit,
    });
    return rows.map(toStoredEvent);
  }

  async eventBounds(): Promise<{ first: EventPosition; last: EventPosition } | null> {
    const first = this.get<EventPosition>(eventLog.eventBounds.sqlite.first, {});
    const last = this.get<EventPosition>(eventLog.eventBounds.sqlite.last, {});
    return first && last ? { first, last } : null;
  }

  async eventPositions(ids: number[]): Promise<Map<number, EventPosition>> {
    const rows = this.all<EventPosition>(eventLog.eventPositions.sqlite, { ids: JSON.stringify(ids) });
    return new Map(rows.map((row) => [row.id, row]));
  }

  async databaseId(): Promise<string> {
    return this.alone(() => {
      this.run(eventLog.databaseId.sqlite.make, { value: crypto.randomUUID() });
      return this.get<{ value: string }>(eventLog.databaseId.sqlite.read, {})!.value;
    });
  }

  onEvents(listener: () => void): void {
    this.eventListeners.add(listener);
  }

  // ---- running the statements --------------------------------------------------------------------------

  private statement(text: string): Statement<any, any> {
    let statement = this.prepared.get(text);
    if (!statement) this.prepared.set(text, (statement = this.sqlite.prepare(text)));
    return statement;
  }

  private get<Row>(text: string, params: Record<string, unknown>): Row | null {
    return this.statement(text).get(params) as Row | null;
  }

  private all<Row>(text: string, params: Record<string, unknown>): Row[] {
    return this.statement(text).all(params) as Row[];
  }

  private run(text: string, params: Record<string, unknown>) {
    return this.statement(text).run(params);
  }

  /** A single-row transition (./sql/events.ts `Transition`): its guarded change and, when it took, its event. */
  private change<Params extends Record<string, unknown> & { now: number }>(transition: Transition<Params>, params: Params): Job | undefined {
    const row = this.get<JobSqlRow>(transition.sqlite.change, params);
    if (!row) return undefined;
    const { type, payload } = transition.sqlite.event;
    this.events(type, params.now, [{ jobId: row.id, payload: payload(row, params) }]);
    return toJob(row);
  }

  private claimParams(queue: string, limit: number, claimedBy: string, now: number, leaseMs: number) {
    // Each claim gets its own token prefix: a late answer from an earlier lease of the same job never matches.
    return { queue, limit, claimedBy, now, leasePrefix: `${crypto.randomUUID()}:`, leaseExpiresAt: now + leaseMs };
  }

  private events(type: string, at: number, batch: { jobId: number; payload: unknown }[]): void {
    const values: unknown[] = [];
    for (const { jobId, payload } of batch) values.push(jobId, type, payload === undefined ? null : JSON.stringify(payload), at);
    this.runRows(insertEventRows, values, 4);
  }

  /**
   * A multi-row statement (`statementOf(rows)`, `width` values a row, after the values `before`) over `values`, in
   * statements of VALUES_CHUNK rows and the rest in powers of two: at most eight sizes of each statement are ever
   * prepared (each kept, by size, without building its text again).
   */
  private runRows(statementOf: (rows: number) => string, values: unknown[], width: number): void {
    this.eachChunk(statementOf, values, width, [], (statement, chunk) => statement.run(...chunk));
  }

  /** runRows for a statement RETURNING rows: those of every chunk. */
  private allRows<Row>(statementOf: (rows: number) => string, values: unknown[], width: number, before: unknown[]): Row[] {
    const rows: Row[] = [];
    this.eachChunk(statementOf, values, width, before, (statement, chunk) => {
      for (const row of statement.all(...chunk) as Row[]) rows.push(row);
    });
    return rows;
  }

  private eachChunk(statementOf: (rows: number) => string, values: unknown[], width: number, before: unknown[], run: (statement: Statement<any, any>, chunk: SQLQueryBindings[]) => void): void {
    const rows = values.length / width;
    let sizes = this.bySize.get(statementOf);
    if (!sizes) this.bySize.set(statementOf, (sizes = []));
    for (let first = 0; first < rows; ) {
      const left = rows - first;
      const count = left >= VALUES_CHUNK ? VALUES_CHUNK : 2 ** Math.floor(Math.log2(left));
      const chunk = count === rows && !before.length ? values : [...before, ...values.slice(first * width, (first + count) * width)];
      run((sizes[count] ??= this.sqlite.prepare(statementOf(count))), chunk as SQLQueryBindings[]);
      first += count;
    }
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

  /** Runs `work` as one IMMEDIATE transaction, after {@link SqliteJobStore.othersDone}; the waiting counts follow its fate. */
  private async transition<T>(work: () => T): Promise<T> {
    if (this.sqlite.inTransaction) await this.othersDone();
    this.pendingWaiting = new Map();
    const flowChange: FlowChange = (this.pendingFlowChange = { jobs: [], flows: [] });
    try {
      const result = this.sqlite.transaction(work).immediate();
      this.walWritten();
      for (const [queue, delta] of this.pendingWaiting) this.waitingByQueue.set(queue, (this.waitingByQueue.get(queue) ?? 0) + delta);
      if (flowChange.jobs.length || flowChange.flows.length) for (const listener of this.flowListeners) listener(flowChange);
      // After the commit, so a reader woken here finds the events.
      for (const listener of this.eventListeners) queueMicrotask(listener);
      return result;
    } finally {
      this.pendingWaiting = null;
      this.pendingFlowChange = null;
    }
  }

  /** One statement that keeps no counts (a transaction of its own), after {@link SqliteJobStore.othersDone}. */
  private async alone<T>(work: () => T): Promise<T> {
    if (this.sqlite.inTransaction) await this.othersDone();
    return work();
  }

  /**
   * The guard every transition passes, written once: another service's async transaction may have the connection
   * open (it awaits between its statements: see Database.transaction). A transition made then would be a savepoint
   * inside it, undone if it rolled back after the job was announced, with the waiting counts left wrong, so it waits
   * for it to end. Not so in the common case (no transaction open): a transition then runs at once, when called.
   */
  private async othersDone(): Promise<void> {
    while (this.sqlite.inTransaction) await this.idle();
  }
}
