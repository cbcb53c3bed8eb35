import type { SQL } from 'bun';
import type { Logger } from 'pino';
import type { PgDb, PgTables } from '../../db/client';
import { executePg } from '../../db/statements';
import type { Selection } from '../../db/selection';
import { conflict, notFound } from '../../errors';
import type { Clock, Job, JobKindName, JobStatus } from '../model';
import {
  type Claim,
  type EventFilter,
  type EventPosition,
  type FiredTick,
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
import { type EventSqlRow, type FlowSqlRow, fromPg, type PgJobRow, toFlow, toStoredEvent } from './rows';
import { jobQuery, jobsQuery, jobsWhere, nodesOf, parentsByChild } from './selects';
import { cancelFlow, flowReads, insertFlow, release } from './sql/flow';
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
import { heartbeat } from './sql/heartbeat';
import { insert } from './sql/insert';
import { note } from './sql/note';
import { progress } from './sql/progress';
import * as reads from './sql/reads';
import { OUT_OF_ATTEMPTS, RECOVERED, recover } from './sql/recover';
import { retry } from './sql/retry';
import { fail, lockOutcomes, requeue, succeedMany } from './sql/settle';

/** Instances tell each other, through LISTEN/NOTIFY, that jobs may be claimable or that queues changed. */
const JOBS_CHANNEL = 'jobgraph_jobs';
const QUEUES_CHANNEL = 'jobgraph_queues';
/** Sent by a trigger on job_events in every transaction that writes events (migration `event_cursors`). */
const EVENTS_CHANNEL = 'jobgraph_events';
const NOTIFY_JOBS = `SELECT pg_notify('${JOBS_CHANNEL}', '')`;
/**
 * The claim pass's function (claim.postgres.poolManyFunction), named by a hash of its text: an instance of another
 * version makes and calls its own. Its plans are generic, made once per connection, with sequential scans ruled out
 * while they are made (the function's settings). Left to choose, PostgreSQL may keep a connection's generic plan from
 * its sixth claim on; made while `jobs` was a few pages (a new database), that plan updated the claimed rows through a
 * sequential scan of the whole table, for the connection's life (auto_explain under the bulk bench: 52 of 62 slow
 * claims with generic plans forced; 25–100 ms a pass). Planned at every pass instead, the claim cost ~1 ms of planning
 * a pass. Every table the pass reads has the index it needs, so with `enable_seqscan` off the generic plan is the
 * index plan whatever the table's size then.
 */
const CLAIM_FUNCTION = `jobgraph_claim_${Bun.hash(claim.postgres.poolManyFunction('')).toString(36)}`;
/** `<id>:<attempt>` of running jobs just cancelled, comma-separated: whichever instance runs one stops it. */
const CANCEL_CHANNEL = 'jobgraph_cancel';
/** PostgreSQL's undefined_function: claimPlain's function was dropped (e.g. a schema reset under a running instance). */
const UNDEFINED_FUNCTION = '42883';

type Params = Record<string, unknown>;
/** Runs one statement of ./sql/*.ts: on the pool, or inside a transaction. */
type Run = <T>(text: string, params?: Params) => Promise<T[]>;
/** A pool run's success as succeedMany's `$batch` holds it. */
type Success = { id: number; leaseToken: string | null; result: string };
/** A statement of ./sql/*.ts with its parameters. */
type Statement = [text: string, params?: Params];

/**
 * Statements that do not wait on each other's answers, sent together (Bun's client pipelines the queries of one
 * connection: one round trip for all of them); PostgreSQL runs them in order, each with a snapshot of its own.
 */
const all = (run: Run, statements: Statement[]): Promise<unknown[][]> => Promise.all(statements.map(([text, params]) => run<unknown>(text, params)));

/** The distinct owners of new jobs, as insert.postgres.lockOwners' `$owners`. */
const ownersOf = (jobs: NewQueuedJob[]): string => JSON.stringify([...new Set(jobs.flatMap(({ job }) => (job.ownerId == null ? [] : [job.ownerId])))].sort((a, b) => a - b));

/**
 * What the foreign keys of `jobs` checked (none here: migration `jobs_references_triggers`): every queue and owner the
 * new jobs name was found, under the lock that keeps it until commit; NOT_FOUND otherwise. Each queue's maxLength, as stored.
 */
function referenced(jobs: NewQueuedJob[], queues: { name: string; max_length: number }[], owners: { id: number }[]): Map<string, number> {
  const maxLengths = new Map(queues.map(({ name, max_length }) => [name, max_length]));
  const found = new Set(owners.map(({ id }) => id));
  for (const { queue, job } of jobs) {
    if (!maxLengths.has(queue.name)) throw notFound(`queue "${queue.name}" does not exist (deleted meanwhile?)`);
    if (job.ownerId != null && !found.has(job.ownerId)) throw notFound(`user ${job.ownerId} does not exist (deleted meanwhile?)`);
  }
  return maxLengths;
}

/** A flow's new jobs as the `$batch` of ./sql/flow.ts: their ids (from jobs_id_seq) and columns, as JSON. */
function jobRows(jobs: NewQueuedJob[], ids: number[], statusOf: (i: number) => string = () => 'QUEUED'): string {
  return JSON.stringify(
    jobs.map(({ queue, job, inputJson }, i) => ({
      id: ids[i],
      kind: job.kind,
      status: statusOf(i),
      queue: queue.name,
      owner_id: job.ownerId,
      max_attempts: job.maxAttempts,
      priority: job.priority,
      timeout_ms: job.timeoutMs,
      run_at: job.runAt ?? null,
      input: inputJson,
    })),
  );
}

/**
 * The job store on PostgreSQL, shared by any number of jobgraph instances: claims lock the rows they take with
 * `FOR UPDATE SKIP LOCKED` (so instances never wait on each other's claims, nor take the same job), every running
 * job carries a lease token that only its holder may complete, fail or renew, and any instance recovers leases that
 * ran out (a kill -9). New jobs and changed queues are announced with NOTIFY; idle instances LISTEN and wake.
 * Each transition is one statement of ./sql/*.ts (a CTE that changes `jobs` and writes its job_events rows), so it
 * is atomic alone; those that take several (insertJobs, claimJobs, settleJobs) run them in one transaction here.
 */
export class PgJobStore implements JobStore {
  readonly shared = true;
  /**
   * Names this instance in the lease tokens it takes (`<instance>.<claim>:<job>`): an operator (or a test) can tell
   * whose leases are running or expired. Logged at start.
   */
  readonly instance = crypto.randomUUID().slice(0, 8);
  private readonly listeners = new Set<(what: 'jobs' | 'queues') => void>();
  private readonly flowListeners = new Set<(change: FlowChange) => void>();
  private readonly eventListeners = new Set<() => void>();
  private readonly cancelListeners = new Set<(cancelled: { id: number; attempt: number }[]) => void>();
  /** The parents of the jobs the last claimJobs took (read with them): parentsOf answers from here once per job. */
  private readonly claimedParents = new Map<number, ParentNode[]>();
  /**
   * Jobs this store claimed that are no flow's nodes (claim.postgres.poolMany's `in_flow`), until settled: their
   * successes go in succeedMany's smaller statement. Jobs claimed another way are not here (the full one, as before).
   */
  private readonly outsideFlows = new Set<number>();
  /** Successes waiting for the succeedMany in flight to end (see succeed); `succeeding` while one is. */
  private successesWaiting: { successes: Success[]; done: (rows: PgJobRow[]) => void; failed: (error: unknown) => void }[] = [];
  private succeeding = false;
  /** See throttledUntil: set by each claimJobs. */
  private throttled: number | null = null;
  private unlisten: (() => Promise<void>)[] = [];

  private constructor(
    private readonly sql: SQL,
    private readonly db: PgDb,
    private readonly tables: PgTables,
    private readonly clock: Clock,
  ) {}

  static async open(database: { sql: SQL; db: PgDb; tables: PgTables }, clock: Clock, log: Logger): Promise<PgJobStore> {
    const store = new PgJobStore(database.sql, database.db, database.tables, clock);
    await PgJobStore.makeClaimFunction(database.sql);
    log.info({ instance: store.instance }, 'job store on PostgreSQL');
    for (const [channel, what] of [
      [JOBS_CHANNEL, 'jobs'],
      [QUEUES_CHANNEL, 'queues'],
    ] as const) {
      const subscription = await database.sql.listen(channel, () => {
        for (const listener of store.listeners) {
          try {
            listener(what);
          } catch (error) {
            log.error({ err: error, channel }, 'a NOTIFY listener failed');
          }
        }
      });
      store.unlisten.push(() => subscription.unlisten());
    }
    const events = await database.sql.listen(EVENTS_CHANNEL, () => {
      for (const listener of store.eventListeners) listener();
    });
    store.unlisten.push(() => events.unlisten());
    const cancels = await database.sql.listen(CANCEL_CHANNEL, (payload: string) => {
      const cancelled = payload.split(',').flatMap((entry) => {
        const [id, attempt] = entry.split(':').map(Number);
        return Number.isInteger(id) && Number.isInteger(attempt) ? [{ id: id!, attempt: attempt! }] : [];
      });
      for (const listener of store.cancelListeners) {
        try {
          listener(cancelled);
        } catch (error) {
          log.error({ err: error, channel: CANCEL_CHANNEL }, 'a NOTIFY listener failed');
        }
      }
    });
    store.unlisten.push(() => cancels.unlisten());
    return store;
  }

  // ---- transitions -------------------------------------------------------------------------------------

  async insertJobs(jobs: NewQueuedJob[]): Promise<InsertedJobs> {
    if (!jobs.length) return { jobs: [], reused: new Set() };
    return this.transaction((run) => this.insertIn(run, jobs, this.clock.now()));
  }

  /**
   * insertJobs' work, in a transaction (fireSchedule's too). Statements that do not wait on each other's answers are
   * sent together (`all`): the queues' lock, the ids and the waiting counts, then the rows.
   */
  private async insertIn(run: Run, jobs: NewQueuedJob[], now: number): Promise<InsertedJobs> {
    // The queues' turns first (see insert.postgres.lockQueues): submissions to one queue, and their keys, take turns.
    const names = JSON.stringify([...new Set(jobs.map(({ queue }) => queue.name))].sort());
    const keyless = jobs.every(({ job }) => job.idempotencyKey == null);
    // The waiting counts are read after the lock (a later statement: its snapshot sees every insert committed before).
    const [limits, owners, idRows, counted] = await all(run, [
      [insert.postgres.lockQueues, { names }],
      [insert.postgres.lockOwners, { owners: ownersOf(jobs) }],
      [insert.postgres.ids, { n: jobs.length }],
      ...(keyless ? [[insert.postgres.waiting, { names }] as Statement] : []),
    ]);
    const maxLengths = referenced(jobs, limits as { name: string; max_length: number }[], owners as { id: number }[]);
    const ids = (idRows as { id: number }[]).map((row) => row.id);
    // Keys first: a job whose key is remembered is not inserted, nor counted against its queue's maxLength.
    const reusedIds = new Map<number, number>();
    let waiting = counted as { queue: string; n: number }[] | undefined;
    if (!keyless) {
      const keyed = jobs.flatMap(({ job, keyExpiresAt }, i) =>
        job.idempotencyKey == null ? [] : [{ owner_id: job.ownerId, key: job.idempotencyKey, job_id: ids[i]!, expires_at: keyExpiresAt ?? now, i }],
      );
      const keys = JSON.stringify(keyed);
      const [, claimedRows, heldRows, waitingRows] = await all(run, [
        [freeStaleKey.postgres, { keys, now }],
        [claimKey.postgres.claim, { keys }],
        [claimKey.postgres.find, { keys }],
        [insert.postgres.waiting, { names }],
      ]);
      const claimed = new Set((claimedRows as { job_id: number }[]).map((row) => row.job_id));
      const held = new Map((heldRows as { owner_id: number; key: string; job_id: number }[]).map((row) => [`${row.owner_id}\0${row.key}`, row.job_id]));
      for (const { owner_id, key, job_id, i } of keyed) if (!claimed.has(job_id)) reusedIds.set(i, held.get(`${owner_id}\0${key}`)!);
      waiting = waitingRows as { queue: string; n: number }[];
    }
    const adding = new Map<string, number>();
    jobs.forEach(({ queue }, i) => reusedIds.has(i) || adding.set(queue.name, (adding.get(queue.name) ?? 0) + 1));
    const waitingByQueue = new Map(waiting!.map((row) => [row.queue, row.n]));
    for (const [name, n] of adding) {
      const count = waitingByQueue.get(name) ?? 0;
      const maxLength = maxLengths.get(name)!;
      if (count + n > maxLength) throw conflict(`queue "${name}" is full: ${count} jobs waiting, at most ${maxLength}`);
    }
    const rows = jobs.flatMap(({ queue, job, inputJson }, i) =>
      reusedIds.has(i)
        ? []
        : [
            {
              id: ids[i],
              kind: job.kind,
              queue: queue.name,
              owner_id: job.ownerId,
              max_attempts: job.maxAttempts,
              priority: job.priority,
              timeout_ms: job.timeoutMs,
              run_at: job.runAt ?? null,
              idempotency_key: job.idempotencyKey ?? null,
              schedule: job.schedule ?? null,
              input: inputJson,
            },
          ],
    );
    const batch = JSON.stringify(rows);
    const written = await all(run, [
      // NOTIFY is delivered at commit: idle instances wake and claim.
      ...(rows.length ? ([[insert.postgres.rows, { batch, now }], [NOTIFY_JOBS]] as Statement[]) : []),
      // The jobs an idempotency key named instead (those of this batch included: read after its inserts).
      ...(reusedIds.size ? [[insert.postgres.reused, { ids: JSON.stringify([...new Set(reusedIds.values())]) }] as Statement] : []),
    ]);
    const reused = reusedIds.size ? new Map((written.at(-1) as PgJobRow[]).map((row) => [row.id, fromPg(row)])) : new Map<number, Job>();
    const result = jobs.map(({ queue, job }, i) => {
      const heldBy = reusedIds.get(i);
      return heldBy === undefined ? newJob(ids[i]!, { ...job, queue: queue.name }, now) : reused.get(heldBy)!;
    });
    return { jobs: result, reused: new Set(reusedIds.keys()) };
  }

  async fireSchedule(tick: ScheduleTick, job: NewQueuedJob | null): Promise<FiredTick> {
    return this.transaction(async (run) => {
      const params = { name: tick.name, due: tick.due, next: tick.next };
      if (!(await run(fireSchedule.postgres.advance, params)).length) return { advanced: false, job: null };
      if (!job || (tick.skipIfUnfinished && (await run(fireSchedule.postgres.unfinishedRun, { name: tick.name })).length)) return { advanced: true, job: null };
      await run(fireSchedule.postgres.ran, { name: tick.name, due: tick.due });
      const inserted = await this.insertIn(run, [{ ...job, job: { ...job.job, schedule: tick.name } }], this.clock.now());
      return { advanced: true, job: inserted.jobs[0]! };
    });
  }

  async insertFlow(flow: NewFlow): Promise<{ flow: Flow; jobs: Job[] }> {
    const now = this.clock.now();
    const adding = new Map<string, { maxLength: number; n: number }>();
    // Only the nodes without parents wait in their queue now; the others join it when released.
    for (const { queue, parents } of flow.nodes) {
      if (parents.length) continue;
      const entry = adding.get(queue.name);
      if (entry) entry.n++;
      else adding.set(queue.name, { maxLength: queue.maxLength, n: 1 });
    }
    const { flowRow, ids } = await this.transaction(async (run) => {
      // The queues' rows locked (every node's: they are its jobs' references) and their waiting jobs counted after (as
      // insertJobs does), the owners locked, the flow's row and the ids, sent together; CONFLICT (and a rollback) when
      // a queue would overfill.
      const names = JSON.stringify([...new Set(flow.nodes.map(({ queue }) => queue.name))].sort());
      const [limits, owners, waiting, flowIds, idRows] = await all(run, [
        [insert.postgres.lockQueues, { names }],
        [insert.postgres.lockOwners, { owners: ownersOf(flow.nodes) }],
        [insert.postgres.waiting, { names }],
        [insertFlow.postgres.flow, { name: flow.name, ownerId: flow.ownerId, total: flow.nodes.length, now }],
        [insert.postgres.ids, { n: flow.nodes.length }],
      ]);
      const maxLengths = referenced(flow.nodes, limits as { name: string; max_length: number }[], owners as { id: number }[]);
      for (const [name, entry] of adding) entry.maxLength = maxLengths.get(name)!;
      const waitingByQueue = new Map((waiting as { queue: string; n: number }[]).map((row) => [row.queue, row.n]));
      for (const [name, { maxLength, n }] of adding) {
        const count = waitingByQueue.get(name) ?? 0;
        if (count + n > maxLength) throw conflict(`queue "${name}" is full: ${count} jobs waiting, at most ${maxLength}`);
      }
      const [{ id: flowId }] = flowIds as [{ id: number }];
      const ids = (idRows as { id: number }[]).map((row) => row.id);
      const batch = jobRows(flow.nodes, ids, (i) => (flow.nodes[i]!.parents.length ? 'WAITING' : 'QUEUED'));
      const nodes = flow.nodes.map((node, i) => ({ jobId: ids[i], key: node.key, onParentFailure: node.onParentFailure, waitingParents: node.parents.length }));
      const edges = flow.nodes.flatMap((node, i) => node.parents.map((parent) => ({ childId: ids[i], parentId: ids[parent] })));
      const written = await all(run, [
        [insertFlow.postgres.jobs, { batch, now }],
        [insertFlow.postgres.inputs, { batch }],
        [insertFlow.postgres.events, { batch, now }],
        [insertFlow.postgres.nodes, { flowId, batch: JSON.stringify(nodes) }],
        ...(edges.length ? [[insertFlow.postgres.edges, { batch: JSON.stringify(edges) }] as Statement] : []),
        [NOTIFY_JOBS],
        [flowReads.byId.postgres, { id: flowId, ownerId: null }],
      ]);
      const [flowRow] = written.at(-1) as FlowSqlRow[];
      return { flowRow: flowRow!, ids };
    });
    const jobs = flow.nodes.map(({ queue, job, parents }, i): Job => ({ ...newJob(ids[i]!, { ...job, queue: queue.name }, now), status: parents.length ? 'WAITING' : 'QUEUED' }));
    return { flow: toFlow(flowRow), jobs };
  }

  async cancelFlow(id: number, by: number): Promise<{ flow: Flow; jobs: Job[] } | undefined> {
    const now = this.clock.now();
    const done = await this.transaction(async (run) => {
      await run(cancelFlow.postgres.lockNodes, { id });
      if (!(await run(cancelFlow.postgres.flow, { id })).length) return undefined;
      await run(cancelFlow.postgres.mark, { id });
      const rows = await run<PgJobRow>(cancelFlow.postgres.nodes, { id, now, by });
      const change = await this.releaseAfter(run, rows.map((row) => row.id), now);
      const [flowRow] = await run<FlowSqlRow>(flowReads.byId.postgres, { id, ownerId: null });
      return { flow: toFlow(flowRow!), jobs: rows.map(fromPg), change };
    });
    if (!done) return undefined;
    this.tellFlowChange(done.change);
    return { flow: done.flow, jobs: done.jobs };
  }

  onFlowChange(listener: (change: FlowChange) => void): void {
    this.flowListeners.add(listener);
  }

  private tellFlowChange(change: FlowChange | null): void {
    if (change && (change.jobs.length || change.flows.length)) for (const listener of this.flowListeners) listener(change);
  }

  /**
   * ./sql/flow.ts `release` for jobs this transaction made final (see the SQLite store's): after the flows' rows are
   * locked, children cancelled or released round after round, then the flows' counts. Null when none is a flow node.
   */
  private async releaseAfter(run: Run, finished: number[], now: number): Promise<FlowChange | null> {
    if (!finished.length) return null;
    if (!(await run(release.postgres.lockFlows, { finished: JSON.stringify(finished) })).length) return null;
    const change: FlowChange = { jobs: [], flows: [] };
    const all = [...finished];
    let released = false;
    for (let round = finished; round.length; ) {
      const params = { finished: JSON.stringify(round), now };
      const cancelled = await run<PgJobRow>(release.postgres.cancelChildren, params);
      const ready = (await run<{ id: number; waiting: number }>(release.postgres.countDown, params)).filter((row) => row.waiting === 0);
      if (ready.length) {
        const rows = await run<PgJobRow>(release.postgres.release, { ids: JSON.stringify(ready.map((row) => row.id)), now });
        for (const row of rows) change.jobs.push(fromPg(row));
        released ||= rows.length > 0;
      }
      for (const row of cancelled) change.jobs.push(fromPg(row));
      round = cancelled.map((row) => row.id);
      all.push(...round);
    }
    for (const row of await run<FlowSqlRow>(release.postgres.countFlows, { finished: JSON.stringify(all), now })) change.flows.push(toFlow(row));
    if (released) await run(NOTIFY_JOBS);
    return change;
  }


  async claimJobs(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]> {
    this.throttled = null;
    this.claimedParents.clear();
    if (!claims.length) return [];
    if (claims.every((claim) => !claim.rateLimit && claim.order !== 'FAIR')) return this.claimPlain(claims, leaseMs, budget);
    // One transaction for the pass (a queue with nothing to claim costs one statement, not a transaction of its own).
    const rows = await this.transaction(async (run) => {
      // The queues' rows, locked: their pause, concurrency and rate limit hold over every instance (whose lists may lag).
      const names = JSON.stringify(claims.map((claim) => claim.queue));
      const settings = new Map((await run<{ name: string; jobs: number | null; per_seconds: number | null }>(rateLimit.postgres.settings, { names })).map((row) => [row.name, row]));
      const taken: PgJobRow[] = [];
      for (const { queue, limit: wanted, rateLimit: rate, order } of claims) {
        let limit = Math.min(wanted, budget - taken.length);
        if (limit <= 0) break;
        const now = this.clock.now();
        const stored = settings.get(queue);
        // The limit as stored (another instance may have changed it); this instance's list only says to look.
        const jobsPerWindow = rate ? (stored?.jobs ?? null) : null;
        const perMs = jobsPerWindow !== null && stored?.per_seconds != null ? stored.per_seconds * 1000 : null;
        let window: { n: number; oldest: number | null } | null = null;
        if (perMs !== null) {
          const [row] = await run<{ n: number; oldest: string | null }>(rateLimit.postgres.window, { queue, since: now - perMs });
          window = { n: row!.n, oldest: row!.oldest === null ? null : Number(row!.oldest) };
          if (window.n + limit > jobsPerWindow!) {
            limit = Math.max(0, jobsPerWindow! - window.n);
            if (window.oldest !== null) this.throttledAt(window.oldest + perMs);
          }
          if (limit === 0) continue;
        }
        const params = this.claimParams(queue, limit, 'pool', now, leaseMs);
        const fromQueue = order === 'FAIR' ? await this.claimFair(run, params) : await run<PgJobRow>(claim.postgres.pool, params);
        if (perMs !== null && window && fromQueue.length) {
          await run(rateLimit.postgres.prune, { queue, since: now - perMs });
          await run(rateLimit.postgres.record, { queue, now, count: fromQueue.length });
          if (window.n + fromQueue.length >= jobsPerWindow!) this.throttledAt((window.oldest ?? now) + perMs);
        }
        taken.push(...fromQueue);
      }
      return taken;
    });
    return rows.map(fromPg);
  }

  /**
   * A pass over queues without a rate limit nor FAIR order (most): one call (claim.postgres.poolMany) locks their rows,
   * then claims over them all, with a snapshot taken after the lock. The claimed jobs' parents come with them, for
   * parentsOf. Its function is made at open; made again if it was dropped meanwhile.
   */
  private async claimPlain(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]> {
    const now = this.clock.now();
    const params = {
      ...this.leaseParams('pool', now, leaseMs),
      names: JSON.stringify(claims.map((claim) => claim.queue)),
      claims: JSON.stringify(claims.map(({ queue, limit }, ord) => ({ queue, limit, ord }))),
      budget,
    };
    type Claimed = PgJobRow & { parents: string | null; in_flow: boolean };
    const call = () => this.run<{ claimed: Claimed[] }>(claim.postgres.poolMany(CLAIM_FUNCTION), params);
    const [{ claimed: rows }] = (await call().catch(async (error) => {
      if ((error as { errno?: string }).errno !== UNDEFINED_FUNCTION) throw error;
      await PgJobStore.makeClaimFunction(this.sql);
      return call();
    })) as [{ claimed: Claimed[] }];
    // Jobs claimed but never settled here (their runs lost) would stay: past a bound the set starts again (the full
    // statement is always right).
    if (this.outsideFlows.size > 100_000) this.outsideFlows.clear();
    for (const { id, parents, in_flow } of rows) {
      this.claimedParents.set(id, parents === null ? [] : (parentsByChild(JSON.parse(parents)).get(id) ?? []));
      if (!in_flow) this.outsideFlows.add(id);
    }
    return rows.map(fromPg);
  }

  /** claimPlain's function, unless this version's is there (instances starting together take turns). */
  private static async makeClaimFunction(sql: SQL): Promise<void> {
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('jobgraph:claim-function'))`;
      const [{ found }] = await tx`SELECT to_regproc(${CLAIM_FUNCTION}) IS NOT NULL AS found`;
      if (!found) await tx.unsafe(claim.postgres.poolManyFunction(CLAIM_FUNCTION));
    });
  }

  /**
   * A FAIR queue's claim (./sql/claim-fair.ts), inside claimJobs' transaction after the queue row's lock: owners in
   * turn from the queue's cursor, which then moves on; the lock makes the running counts behind ownerConcurrency exact
   * over every instance.
   */
  private async claimFair(run: Run, params: ReturnType<PgJobStore['claimParams']>): Promise<PgJobRow[]> {
    const [{ cursor } = { cursor: 0 }] = await run<{ cursor: number }>(claimFair.postgres.cursor, { queue: params.queue });
    const taken = await run<PgJobRow>(claimFair.postgres.pool, { ...params, cursor });
    const owner = lastTurn(cursor, taken.map((row) => row.owner_id));
    if (owner !== null) await run(claimFair.postgres.moveCursor, { queue: params.queue, owner });
    return taken;
  }

  throttledUntil(): number | null {
    return this.throttled;
  }

  private throttledAt(at: number): void {
    if (this.throttled === null || at < this.throttled) this.throttled = at;
  }

  async claimJobsOfKind(queue: string, kind: JobKindName, limit: number, leaseMs: number): Promise<Job[]> {
    const rows = await this.run<PgJobRow>(claimKind.postgres, { ...this.claimParams(queue, limit, 'pool', this.clock.now(), leaseMs), kind });
    return rows.map(fromPg);
  }

  async pullJob(queue: string, claimant: string, by: number, leaseMs: number): Promise<Job | null> {
    const [row] = await this.run<PgJobRow>(claim.postgres.pull, { ...this.claimParams(queue, 1, claimant, this.clock.now(), leaseMs), by });
    return row ? fromPg(row) : null;
  }

  async settleJobs(outcomes: Outcome[]): Promise<Job[]> {
    if (!outcomes.length) return [];
    const now = this.clock.now();
    // The successes first, with their children's release: one statement, no transaction (./sql/settle.ts), shared
    // with other calls' successes while one is in flight (succeed).
    const successes = outcomes.flatMap((outcome) => ('result' in outcome ? [{ id: outcome.lease.id, leaseToken: outcome.lease.leaseToken, result: JSON.stringify(outcome.result ?? null) }] : []));
    const settled = successes.length ? await this.succeed(successes) : [];
    const failures = outcomes.filter((outcome) => 'error' in outcome);
    for (const { lease } of failures) this.outsideFlows.delete(lease.id);
    if (!failures.length) return settled.map(fromPg);
    const { rows, change } = await this.transaction(async (run) => {
      await run(lockOutcomes.postgres, { ids: JSON.stringify(failures.map((outcome) => outcome.lease.id)) });
      const changed: PgJobRow[] = [];
      let requeued = false;
      for (const outcome of failures) {
        if (!('error' in outcome)) continue;
        const { id, leaseToken } = outcome.lease;
        const { error, retryInMs } = outcome;
        const [row] =
          retryInMs === undefined
            ? await run<PgJobRow>(fail.postgres, { id, leaseToken, error, now })
            : await run<PgJobRow>(requeue.postgres, { id, leaseToken, error, now, runAt: now + retryInMs });
        if (row) changed.push(row);
        if (row && retryInMs !== undefined) requeued = true;
      }
      if (requeued) await run(NOTIFY_JOBS);
      const change = await this.releaseAfter(run, changed.filter((row) => row.status !== 'QUEUED').map((row) => row.id), now);
      return { rows: changed, change };
    });
    this.tellFlowChange(change);
    return [...settled, ...rows].map(fromPg);
  }

  /**
   * Writes successes (succeedMany), one statement at a time: those that come while one is in flight wait for it and
   * go together in the next (a group commit: under load one statement, one commit and one NOTIFY serve many batches
   * of the runner's, which finishes jobs a few at a time). Each caller gets the rows of its own jobs.
   */
  private succeed(successes: Success[]): Promise<PgJobRow[]> {
    return new Promise((done, failed) => {
      this.successesWaiting.push({ successes, done, failed });
      if (!this.succeeding) void this.writeSuccesses();
    });
  }

  private async writeSuccesses(): Promise<void> {
    this.succeeding = true;
    try {
      while (this.successesWaiting.length) {
        const group = this.successesWaiting.splice(0);
        try {
          const successes = group.flatMap((waiting) => waiting.successes);
          const outsideFlows = successes.every(({ id }) => this.outsideFlows.has(id));
          for (const { id } of successes) this.outsideFlows.delete(id);
          const rows = await this.run<PgJobRow & { change: 'done' | 'released' | 'flow' | 'notified'; flow: string | null }>(
            outsideFlows ? succeedMany.postgresOutsideFlows : succeedMany.postgres,
            { batch: JSON.stringify(successes), now: this.clock.now(), jobsChannel: JOBS_CHANNEL },
          );
          const done = new Map<number, PgJobRow>();
          const change: FlowChange = { jobs: [], flows: [] };
          // Rows as they came (the extra columns are ignored by fromPg): no copy of each.
          for (const row of rows) {
            if (row.change === 'done') done.set(row.id, row);
            else if (row.change === 'released') change.jobs.push(fromPg(row));
            else if (row.change === 'flow') change.flows.push(toFlow(JSON.parse(row.flow!) as FlowSqlRow));
          }
          this.tellFlowChange(change);
          for (const { successes, done: answer } of group) answer(successes.flatMap(({ id }) => done.get(id) ?? []));
        } catch (error) {
          for (const { failed } of group) failed(error);
        }
      }
    } finally {
      this.succeeding = false;
    }
  }

  async completeJob(lease: Lease, result: unknown, by: number): Promise<Job | undefined> {
    const params = { id: lease.id, leaseToken: lease.leaseToken, result: JSON.stringify(result), now: this.clock.now(), by };
    const row = await this.finalOne(complete.postgres, params);
    return row ? fromPg(row) : undefined;
  }

  async cancelJob(id: number, by: number): Promise<Job | undefined> {
    const row = await this.finalOne(cancel.postgres, { id, now: this.clock.now(), by });
    if (!row) return undefined;
    // A pool job keeps its claimant when cancelled: it was running, maybe on another instance.
    if (row.claimed_by === 'pool') await this.notifyCancelled([row]);
    return fromPg(row);
  }

  /** A single-row transition that makes its job final, with the release of its children in its transaction. */
  private async finalOne(statement: string, params: Params & { now: number }): Promise<PgJobRow | undefined> {
    const { row, change } = await this.transaction(async (run) => {
      const [row] = await run<PgJobRow>(statement, params);
      return { row, change: row ? await this.releaseAfter(run, [row.id], params.now) : null };
    });
    this.tellFlowChange(change);
    return row;
  }

  async retryJob(id: number, by: number): Promise<Job | undefined> {
    const [row] = await this.run<PgJobRow>(retry.postgres, { id, now: this.clock.now(), by });
    if (!row) return undefined;
    await this.run(NOTIFY_JOBS);
    return fromPg(row);
  }

  async deleteJob(id: number): Promise<void> {
    await this.run(deleteJob.postgres, { id });
  }

  async cancelMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    const now = this.clock.now();
    const { rows, change } = await this.transaction(async (run) => {
      const rows = await run<PgJobRow & { was: JobStatus }>(cancelMatching.postgres, { ...filterParams(filter), now, by, limit });
      return { rows, change: await this.releaseAfter(run, rows.map((row) => row.id), now) };
    });
    this.tellFlowChange(change);
    await this.notifyCancelled(rows.filter((row) => row.was === 'RUNNING'));
    return rows.map(fromPg);
  }

  async retryMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    const rows = await this.run<PgJobRow>(retryMatching.postgres, { ...filterParams(filter), now: this.clock.now(), by, limit });
    if (rows.length) await this.run(NOTIFY_JOBS);
    return rows.map(fromPg);
  }

  async deleteMatching(filter: MatchingJobs, limit: number): Promise<number[]> {
    const rows = await this.run<{ id: number }>(deleteMatching.postgres, { ...filterParams(filter), limit });
    return rows.map((row) => row.id);
  }

  async purgeExpiredKeys(limit: number): Promise<number> {
    return (await this.run(`${purgeExpiredKeys.postgres} RETURNING 1`, { now: this.clock.now(), limit })).length;
  }

  /**
   * Tells every instance which running jobs were cancelled (`<id>:<attempt>`): the one running each stops that attempt
   * at once (its lease, cleared by the cancel, would otherwise only fail at its next renewal). NOTIFY payloads are
   * small (8,000 bytes): in chunks.
   */
  private async notifyCancelled(jobs: { id: number; attempts: number }[]): Promise<void> {
    const entries = jobs.map(({ id, attempts }) => `${id}:${attempts}`);
    for (let i = 0; i < entries.length; i += 400) await this.run(`SELECT pg_notify('${CANCEL_CHANNEL}', $payload)`, { payload: entries.slice(i, i + 400).join(',') });
  }

  forgetQueue(): void {
    // Nothing kept here: counts are read from the table.
  }

  async recoverExpired(): Promise<Job[]> {
    // Beside other instances a running pool job without an expired lease may be theirs: only leases that ran out count.
    const now = this.clock.now();
    const { rows, change } = await this.transaction(async (run) => {
      const rows = await run<PgJobRow>(recover.postgres, { now, outOfAttempts: OUT_OF_ATTEMPTS, recovered: RECOVERED });
      const failed = rows.filter((row) => row.status === 'FAILED').map((row) => row.id);
      return { rows, change: await this.releaseAfter(run, failed, now) };
    });
    this.tellFlowChange(change);
    const jobs = rows.map(fromPg);
    if (jobs.some((job) => job.status === 'QUEUED')) await this.run(NOTIFY_JOBS);
    return jobs;
  }

  async heartbeat(leases: Lease[], leaseMs: number): Promise<Set<number>> {
    if (!leases.length) return new Set();
    const now = this.clock.now();
    const batch = JSON.stringify(leases.map(({ id, leaseToken }) => ({ id, leaseToken })));
    const rows = await this.run<{ id: number }>(heartbeat.postgres, { batch, leaseExpiresAt: now + leaseMs, now });
    return new Set(rows.map((row) => row.id));
  }

  async progress(lease: Lease, fraction: number): Promise<void> {
    await this.run(progress.postgres, { id: lease.id, leaseToken: lease.leaseToken, progress: fraction });
  }

  async addNote(id: number, jobNote: JobNote): Promise<boolean> {
    const rows = await this.run(note.postgres, { id, payload: JSON.stringify(jobNote), now: this.clock.now() });
    return rows.length > 0;
  }

  // ---- reads -------------------------------------------------------------------------------------------

  async flowById(id: number, ownerId: number | null): Promise<Flow | undefined> {
    const [row] = await this.run<FlowSqlRow>(flowReads.byId.postgres, { id, ownerId });
    return row ? toFlow(row) : undefined;
  }

  async listFlows(ownerId: number | null, before: number | null, limit: number): Promise<Flow[]> {
    return (await this.run<FlowSqlRow>(flowReads.page.postgres, { ownerId, before, limit })).map(toFlow);
  }

  async flowNodes(flowId: number): Promise<{ jobId: number; key: string; dependsOn: string[] }[]> {
    return nodesOf(await this.run(flowReads.nodes.postgres, { id: flowId }));
  }

  async flowOfJobs(ids: number[]): Promise<Map<number, number>> {
    if (!ids.length) return new Map();
    const rows = await this.run<{ job_id: number; flow_id: number }>(flowReads.flowOf.postgres, { ids: JSON.stringify(ids) });
    return new Map(rows.map((row) => [row.job_id, row.flow_id]));
  }

  async parentsOf(ids: number[]): Promise<Map<number, ParentNode[]>> {
    if (!ids.length) return new Map();
    // Jobs just claimed: their parents came with the claim (the runner asks right after it, before the next pass).
    if (ids.every((id) => this.claimedParents.has(id))) {
      const byChild = new Map<number, ParentNode[]>();
      for (const id of ids) {
        const parents = this.claimedParents.get(id)!;
        this.claimedParents.delete(id);
        if (parents.length) byChild.set(id, parents);
      }
      return byChild;
    }
    return parentsByChild(await this.run(flowReads.parents.postgres, { ids: JSON.stringify(ids) }));
  }


  async jobById(id: number): Promise<Job | undefined> {
    const [row] = await this.run<PgJobRow>(reads.byId.postgres, { id });
    return row ? fromPg(row) : undefined;
  }

  async inputsOf(ids: number[]): Promise<Map<number, unknown>> {
    if (!ids.length) return new Map();
    const rows = await this.run<{ id: number; input: string }>(reads.inputsOf.postgres, { ids: JSON.stringify(ids) });
    return new Map(rows.map((row) => [row.id, JSON.parse(row.input)]));
  }

  statusesOfKind(kind: JobKindName, ownerId: number | null): Promise<{ id: number; status: JobStatus }[]> {
    return this.run(reads.statusesOfKind.postgres, { kind, ownerId });
  }

  countByOwner(queue: string, ownerId: number | null, limit: number): Promise<{ ownerId: number | null; waiting: number; running: number }[]> {
    return this.run(reads.countByOwner.postgres, { queue, ownerId, limit });
  }

  countByStatus(ownerId: number | null, queue: string | null): Promise<{ status: JobStatus; n: number }[]> {
    return this.run(reads.countByStatus.postgres, { ownerId, queue });
  }

  countActiveByQueueKind(): Promise<{ status: JobStatus; queue: string; kind: JobKindName; n: number }[]> {
    return this.run(reads.countActiveByQueueKind.postgres);
  }

  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
    return this.db.query.jobs.findFirst(jobQuery(id, ownerId, select));
  }

  selectJobs(filter: JobFilter, select?: Selection): Promise<Job[]> {
    return this.db.query.jobs.findMany(jobsQuery(filter, select));
  }

  countJobs(filter: JobFilter): Promise<number> {
    return this.db.$count(this.tables.jobs, jobsWhere(this.tables.jobs, filter));
  }

  countDelayedByQueue(): Promise<{ queue: string; n: number }[]> {
    return this.run(reads.delayedByQueue.postgres, { now: this.clock.now() });
  }

  async nextRunAt(): Promise<number | null> {
    const [row] = await this.run<{ at: string | null }>(reads.nextRunAt.postgres, { now: this.clock.now() });
    return row?.at == null ? null : Number(row.at);
  }

  async pendingCount(): Promise<number> {
    const [row] = await this.run<{ n: number }>(reads.pendingCount.postgres);
    return row!.n;
  }

  async queuedOfKind(queue: string, kind: JobKindName): Promise<number> {
    const [row] = await this.run<{ n: number }>(reads.queuedOfKind.postgres, { queue, kind });
    return row!.n;
  }

  async waitingCount(queue: string): Promise<number> {
    const [row] = await this.run<{ n: number }>(reads.waiting.postgres, { queue });
    return row!.n;
  }

  mayHaveWaiting(): boolean {
    // Other instances add jobs this one does not see: only a claim finds out.
    return true;
  }

  // ---- the event log -----------------------------------------------------------------------------------

  async eventsAfter(after: EventPosition | null, filter: EventFilter, limit: number): Promise<StoredEvent[]> {
    const rows = await this.run<EventSqlRow>(eventLog.eventsAfter.postgres, {
      afterTx: after?.tx ?? '0',
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
    const [[first], [last]] = await Promise.all([
      this.run<EventPosition>(eventLog.eventBounds.postgres.first),
      this.run<EventPosition>(eventLog.eventBounds.postgres.last),
    ]);
    // Events exist but none is settled yet (its transaction is still older than a running one): start before them all.
    return first ? { first, last: last ?? { tx: '0', id: 0 } } : null;
  }

  async eventPositions(ids: number[]): Promise<Map<number, EventPosition>> {
    if (!ids.length) return new Map();
    const rows = await this.run<EventPosition>(eventLog.eventPositions.postgres, { ids: JSON.stringify(ids) });
    return new Map(rows.map((row) => [Number(row.id), { tx: row.tx, id: Number(row.id) }]));
  }

  async databaseId(): Promise<string> {
    await this.run(eventLog.databaseId.postgres.make, { value: crypto.randomUUID() });
    const [row] = await this.run<{ value: string }>(eventLog.databaseId.postgres.read);
    return row!.value;
  }

  onEvents(listener: () => void): void {
    this.eventListeners.add(listener);
  }

  // ---- instances ---------------------------------------------------------------------------------------

  onCancelled(listener: (cancelled: { id: number; attempt: number }[]) => void): void {
    this.cancelListeners.add(listener);
  }

  onWork(listener: (what: 'jobs' | 'queues') => void): void {
    this.listeners.add(listener);
  }

  async announceQueues(): Promise<void> {
    await this.run(`SELECT pg_notify('${QUEUES_CHANNEL}', '')`);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.eventListeners.clear();
    this.cancelListeners.clear();
    await Promise.all(this.unlisten.splice(0).map((unlisten) => unlisten().catch(() => {})));
  }

  // ---- running the statements --------------------------------------------------------------------------

  /** One statement of ./sql/*.ts on the pool (atomic alone). */
  private run: Run = (text, params) => PgJobStore.execute(this.sql, text, params);

  /** Several statements in one transaction: `work` runs them with the `run` it is given. */
  private transaction<T>(work: (run: Run) => Promise<T>): Promise<T> {
    return this.sql.begin((tx) => work((text, params) => PgJobStore.execute(tx, text, params))) as Promise<T>;
  }

  /** Named parameters to PostgreSQL's `$1…`, as the other domains' statements run (src/db/statements.ts). */
  private static execute<T>(client: Pick<SQL, 'unsafe'>, text: string, params: Params = {}): Promise<T[]> {
    return executePg<T>(client, text, params);
  }

  private claimParams(queue: string, limit: number, claimedBy: string, now: number, leaseMs: number) {
    return { queue, limit, ...this.leaseParams(claimedBy, now, leaseMs) };
  }

  private leaseParams(claimedBy: string, now: number, leaseMs: number) {
    // Each claim gets its own token prefix: a late answer from an earlier lease of the same job never matches.
    return { claimedBy, now, leasePrefix: `${this.instance}.${crypto.randomUUID()}:`, leaseExpiresAt: now + leaseMs };
  }
}
