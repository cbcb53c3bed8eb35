import type { SQL, TransactionSQL } from 'bun';
import type { Logger } from 'pino';
import type { Database, Db, Tables } from '../db/client';
import type { Selection } from '../db/selection';
import { conflict } from '../errors';
import type { Clock, Job, JobKindName, JobStatus } from './model';
import { type JobSqlRow, toJob } from './queries';
import { countJobs, selectJob, selectJobs } from './selects';
import { type Claim, type FiredTick, type InsertedJobs, type MatchingJobs, type ScheduleTick, type JobFilter, type JobNote, type JobStore, type Lease, newJob, type NewQueuedJob, type Outcome } from './store';
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
 * Runs a statement of ./store/sql/*.ts, whose parameters are named (`$now`) on both databases, as PostgreSQL's `$1…`.
 * (The store's own runner replaces this when the job store's per-transition layout lands.)
 */
function named<T = Record<string, unknown>>(sql: Pick<SQL, 'unsafe'>, text: string, params: Record<string, unknown>): Promise<T[]> {
  const names: string[] = [];
  const converted = text.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_match, name: string) => {
    const at = names.indexOf(name);
    if (at >= 0) return `$${at + 1}`;
    names.push(name);
    return `$${names.length}`;
  });
  return sql.unsafe(converted, names.map((name) => params[name]) as never[]) as unknown as Promise<T[]>;
}

/** Instances tell each other, through LISTEN/NOTIFY, that jobs may be claimable or that queues changed. */
const JOBS_CHANNEL = 'jobgraph_jobs';
const QUEUES_CHANNEL = 'jobgraph_queues';
/** Ids (comma-separated) of running jobs just cancelled: whichever instance runs one stops it. */
const CANCEL_CHANNEL = 'jobgraph_cancel';

/** A `jobs` row as Bun's PostgreSQL client gives it: bigint times come as strings. */
type PgJobRow = Omit<JobSqlRow, 'run_at' | 'lease_expires_at' | 'created_at' | 'started_at' | 'finished_at'> &
  Record<'run_at' | 'created_at', string | number> &
  Record<'lease_expires_at' | 'started_at' | 'finished_at', string | number | null>;

const ms = (value: string | number | null) => (value === null ? null : Number(value));
const fromPg = (row: PgJobRow): Job =>
  toJob({
    ...row,
    run_at: Number(row.run_at),
    created_at: Number(row.created_at),
    lease_expires_at: ms(row.lease_expires_at),
    started_at: ms(row.started_at),
    finished_at: ms(row.finished_at),
  });

/** A statement on `jobs` (named `changed` in a CTE) and the job_events row of each row it changed, in one statement. */
const withEvents = (change: string, type: string, payload: string, at: string) => `
  WITH changed AS (${change}),
  logged AS (INSERT INTO job_events (job_id, type, payload, at) SELECT id, '${type}', ${payload}, ${at} FROM changed)
  SELECT * FROM changed ORDER BY id`;

/** Lease the runnable jobs of a queue: rows another instance is claiming right now are skipped, not waited for. */
const CLAIM = (type: string, payload: string, limit = '$3') =>
  withEvents(
    `UPDATE jobs SET status = 'RUNNING', attempts = jobs.attempts + 1, lease_token = $4 || jobs.id, lease_expires_at = $5,
       claimed_by = $6, started_at = $2, progress = 0
     FROM (SELECT id FROM jobs WHERE queue = $1 AND status = 'QUEUED' AND run_at <= $2
           ORDER BY priority, id LIMIT ${limit} FOR UPDATE SKIP LOCKED) AS picked
     WHERE jobs.id = picked.id RETURNING jobs.*`,
    type,
    payload,
    '$2',
  );
/**
 * The pool's claim takes at most the room its queue has over every instance: its concurrency less the pool jobs
 * running (none when paused). Run after the queue's row is locked, so the count is not stale.
 */
const CLAIM_FOR_POOL = CLAIM(
  'started',
  `json_build_object('attempt', attempts)::text`,
  `greatest(0, least($3::int, coalesce((SELECT q.concurrency - (SELECT count(*) FROM jobs r WHERE r.queue = $1 AND r.status = 'RUNNING' AND r.claimed_by = 'pool')
                                        FROM queues q WHERE q.name = $1 AND NOT q.paused), 0)))`,
);
const PULL = CLAIM('pulled', `json_build_object('by', $7::int, 'attempt', attempts)::text`);
/** A person's "run these now": every QUEUED job of one kind in a queue ($7), oldest first, retry times notwithstanding. */
const CLAIM_KIND = withEvents(
  `UPDATE jobs SET status = 'RUNNING', attempts = jobs.attempts + 1, lease_token = $4 || jobs.id, lease_expires_at = $5,
     claimed_by = $6, started_at = $2, progress = 0
   FROM (SELECT id FROM jobs WHERE queue = $1 AND status = 'QUEUED' AND kind = $7
         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) AS picked
   WHERE jobs.id = picked.id RETURNING jobs.*`,
  'started',
  `json_build_object('attempt', attempts)::text`,
  '$2',
);

const SUCCEED_MANY = withEvents(
  `UPDATE jobs SET status = 'SUCCEEDED', result = b.result, error = NULL, progress = 1, finished_at = $2,
     lease_token = NULL, lease_expires_at = NULL
   FROM jsonb_to_recordset($1::text::jsonb) AS b(id int, lease_token text, result text)
   WHERE jobs.id = b.id AND jobs.status = 'RUNNING' AND jobs.lease_token = b.lease_token RETURNING jobs.*`,
  'succeeded',
  `json_build_object('attempt', attempts, 'durationMs', $2 - coalesce(started_at, $2))::text`,
  '$2',
);
const SUCCEED_ONE = withEvents(
  `UPDATE jobs SET status = 'SUCCEEDED', result = $3, error = NULL, progress = 1, finished_at = $4,
     lease_token = NULL, lease_expires_at = NULL
   WHERE id = $1 AND status = 'RUNNING' AND lease_token = $2 RETURNING *`,
  'succeeded',
  `json_build_object('by', $5::int)::text`,
  '$4',
);
const FAIL = withEvents(
  `UPDATE jobs SET status = 'FAILED', error = $3, finished_at = $4, lease_token = NULL, lease_expires_at = NULL
   WHERE id = $1 AND status = 'RUNNING' AND lease_token = $2 RETURNING *`,
  'failed',
  `json_build_object('attempt', attempts, 'error', $3::text)::text`,
  '$4',
);
const REQUEUE = withEvents(
  `UPDATE jobs SET status = 'QUEUED', error = $3, run_at = $5, lease_token = NULL, lease_expires_at = NULL,
     claimed_by = NULL, progress = 0
   WHERE id = $1 AND status = 'RUNNING' AND lease_token = $2 RETURNING *`,
  'retry_scheduled',
  `json_build_object('attempt', attempts, 'error', $3::text, 'runAt', run_at)::text`,
  '$4',
);
const CANCEL = withEvents(
  `UPDATE jobs SET status = 'CANCELLED', finished_at = $2, lease_token = NULL, lease_expires_at = NULL
   WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING *`,
  'cancelled',
  `json_build_object('by', $3::int)::text`,
  '$2',
);
const RETRY = withEvents(
  `UPDATE jobs SET status = 'QUEUED', attempts = 0, error = NULL, result = NULL, progress = 0, run_at = $2,
     started_at = NULL, finished_at = NULL, claimed_by = NULL
   WHERE id = $1 AND status IN ('FAILED', 'CANCELLED') RETURNING *`,
  'retried',
  `json_build_object('by', $3::int)::text`,
  '$2',
);
/**
 * Running jobs whose lease ran out, whoever held it: out of attempts they fail, the others go back to their queue
 * to run at once. The events (written from the rows as they were) name the claimant the update forgets. Rows
 * another instance is changing (completing, recovering) are skipped.
 */
const RECOVER = `
  WITH expired AS (SELECT id, attempts >= max_attempts AS out_of_attempts, attempts, claimed_by FROM jobs
                   WHERE status = 'RUNNING' AND lease_expires_at < $1 FOR UPDATE SKIP LOCKED),
  logged AS (INSERT INTO job_events (job_id, type, payload, at)
             SELECT id, CASE WHEN out_of_attempts THEN 'failed' ELSE 'recovered' END,
                    json_build_object('attempt', attempts, 'claimedBy', claimed_by)::text, $1 FROM expired),
  changed AS (UPDATE jobs SET
                status = CASE WHEN e.out_of_attempts THEN 'FAILED' ELSE 'QUEUED' END,
                error = CASE WHEN e.out_of_attempts THEN $2 ELSE $3 END,
                finished_at = CASE WHEN e.out_of_attempts THEN $1 ELSE jobs.finished_at END,
                run_at = CASE WHEN e.out_of_attempts THEN jobs.run_at ELSE $1 END,
                claimed_by = CASE WHEN e.out_of_attempts THEN jobs.claimed_by ELSE NULL END,
                progress = CASE WHEN e.out_of_attempts THEN jobs.progress ELSE 0 END,
                lease_token = NULL, lease_expires_at = NULL
              FROM expired AS e WHERE jobs.id = e.id RETURNING jobs.*)
  SELECT * FROM changed ORDER BY id`;

/**
 * The job store on PostgreSQL, shared by any number of jobgraph instances: claims lock the rows they take with
 * `FOR UPDATE SKIP LOCKED` (so instances never wait on each other's claims, nor take the same job), every running
 * job carries a lease token that only its holder may complete, fail or renew, and any instance recovers leases that
 * ran out (a kill -9). New jobs and changed queues are announced with NOTIFY; idle instances LISTEN and wake.
 * Each transition is one statement (a CTE that changes `jobs` and writes its job_events rows), so it is atomic alone.
 */
export class PgJobStore implements JobStore {
  readonly shared = true;
  /**
   * Names this instance in the lease tokens it takes (`<instance>.<claim>:<job>`): an operator (or a test) can tell
   * whose leases are running or expired. Logged at start.
   */
  readonly instance = crypto.randomUUID().slice(0, 8);
  private readonly listeners = new Set<(what: 'jobs' | 'queues') => void>();
  private readonly cancelListeners = new Set<(cancelled: { id: number; attempt: number }[]) => void>();
  /** See throttledUntil. */
  private throttled: number | null = null;
  private unlisten: (() => Promise<void>)[] = [];

  private constructor(
    private readonly sql: SQL,
    private readonly db: Db,
    private readonly tables: Tables,
    private readonly clock: Clock,
  ) {}

  static async open(database: Database & { dialect: 'postgres' }, clock: Clock, log: Logger): Promise<PgJobStore> {
    const store = new PgJobStore(database.sql, database.db, database.tables, clock);
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

  private query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.sql.unsafe(text, params as never[]) as unknown as Promise<T[]>;
  }

  private notifyJobs(): Promise<unknown> {
    return this.query(`SELECT pg_notify('${JOBS_CHANNEL}', '')`);
  }

  // ---- transitions -------------------------------------------------------------------------------------

  async insertJobs(jobs: NewQueuedJob[]): Promise<InsertedJobs> {
    if (!jobs.length) return { jobs: [], reused: new Set() };
    const now = this.clock.now();
    return this.sql.begin((tx) => this.insertIn(tx, jobs, now));
  }

  async fireSchedule(tick: ScheduleTick, job: NewQueuedJob | null): Promise<FiredTick> {
    return this.sql.begin(async (tx) => {
      const params = { name: tick.name, due: tick.due, next: tick.next };
      if (!(await named(tx, fireSchedule.postgres.advance, params)).length) return { advanced: false, job: null };
      if (!job || (tick.skipIfUnfinished && (await named(tx, fireSchedule.postgres.unfinishedRun, params)).length)) return { advanced: true, job: null };
      await named(tx, fireSchedule.postgres.ran, params);
      const inserted = await this.insertIn(tx, [{ ...job, job: { ...job.job, schedule: tick.name } }], this.clock.now());
      return { advanced: true, job: inserted.jobs[0]! };
    });
  }

  /** insertJobs' work, in transaction `tx`. */
  private async insertIn(tx: TransactionSQL, jobs: NewQueuedJob[], now: number): Promise<InsertedJobs> {
    const { ids, reusedIds, reusedRows } = await (async () => {
      const run = <T>(text: string, params: unknown[]) => tx.unsafe(text, params as never[]) as unknown as Promise<T[]>;
      // The queue rows are locked so that concurrent submissions to one queue count its waiting jobs in turn; their
      // maxLength is read there too, since this instance's list may predate another instance's change of it.
      const names = JSON.stringify([...new Set(jobs.map(({ queue }) => queue.name))].sort());
      const limits = await run<{ name: string; max_length: number }>(
        `SELECT name, max_length FROM queues WHERE name IN (SELECT jsonb_array_elements_text($1::text::jsonb)) ORDER BY name FOR UPDATE`,
        [names],
      );
      const maxLengths = new Map(limits.map(({ name, max_length }) => [name, max_length]));
      const ids = (await run<{ id: number }>(`SELECT nextval('jobs_id_seq')::int AS id FROM generate_series(1, $1::int)`, [jobs.length])).map((row) => row.id);
      // Keys first: a job whose key is remembered is not inserted, nor counted against its queue's maxLength.
      const reusedIds = new Map<number, number>();
      const keyed = jobs.flatMap(({ job, keyExpiresAt }, i) =>
        job.idempotencyKey == null ? [] : [{ owner_id: job.ownerId, key: job.idempotencyKey, job_id: ids[i]!, expires_at: keyExpiresAt ?? now, i }],
      );
      if (keyed.length) {
        const batch = JSON.stringify(keyed);
        await named(tx, freeStaleKey.postgres, { keys: batch, now });
        const claimed = new Set((await named<{ job_id: number }>(tx, claimKey.postgres.claim, { keys: batch })).map((row) => row.job_id));
        const held = new Map((await named<{ owner_id: number; key: string; job_id: number }>(tx, claimKey.postgres.find, { keys: batch })).map((row) => [`${row.owner_id}\0${row.key}`, row.job_id]));
        for (const { owner_id, key, job_id, i } of keyed) if (!claimed.has(job_id)) reusedIds.set(i, held.get(`${owner_id}\0${key}`)!);
      }
      const adding = new Map<string, number>();
      jobs.forEach(({ queue }, i) => reusedIds.has(i) || adding.set(queue.name, (adding.get(queue.name) ?? 0) + 1));
      const waiting = await run<{ queue: string; n: number }>(
        `SELECT queue, count(*)::int AS n FROM jobs WHERE status = 'QUEUED' AND queue IN (SELECT jsonb_array_elements_text($1::text::jsonb)) GROUP BY queue`,
        [names],
      );
      const waitingByQueue = new Map(waiting.map((row) => [row.queue, row.n]));
      for (const [name, n] of adding) {
        const count = waitingByQueue.get(name) ?? 0;
        const maxLength = maxLengths.get(name) ?? jobs.find(({ queue }) => queue.name === name)!.queue.maxLength;
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
                run_at: job.runAt ?? now,
                idempotency_key: job.idempotencyKey ?? null,
                schedule: job.schedule ?? null,
                input: inputJson,
              },
            ],
      );
      if (rows.length) {
        const batch = JSON.stringify(rows);
        const recordset = `jsonb_to_recordset($1::text::jsonb) AS b(id int, kind text, queue text, owner_id int, max_attempts int, priority int, timeout_ms int,
          run_at bigint, idempotency_key text, schedule text, input text)`;
        await run(
          `INSERT INTO jobs (id, kind, status, queue, owner_id, max_attempts, priority, timeout_ms, run_at, created_at, idempotency_key, schedule)
           SELECT id, kind, 'QUEUED', queue, owner_id, max_attempts, priority, timeout_ms, run_at, $2, idempotency_key, schedule FROM ${recordset}`,
          [batch, now],
        );
        await run(`INSERT INTO job_inputs (job_id, input) SELECT id, input FROM ${recordset}`, [batch]);
        await run(
          `INSERT INTO job_events (job_id, type, payload, at)
           SELECT id, 'queued', CASE WHEN run_at > $2 THEN json_build_object('runAt', run_at)::text END, $2 FROM ${recordset}`,
          [batch, now],
        );
        // Delivered at commit: idle instances wake and claim.
        await run(`SELECT pg_notify('${JOBS_CHANNEL}', '')`, []);
      }
      const reusedRows = reusedIds.size
        ? await run<PgJobRow>(`SELECT * FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::text::jsonb)::int)`, [JSON.stringify([...new Set(reusedIds.values())])])
        : [];
      return { ids, reusedIds, reusedRows };
    })();
    const reused = new Map(reusedRows.map((row) => [row.id, fromPg(row)]));
    const fresh = new Map<number, Job>();
    const result = jobs.map(({ queue, job }, i) => {
      const heldBy = reusedIds.get(i);
      if (heldBy === undefined) {
        const made = newJob(ids[i]!, { ...job, queue: queue.name }, now);
        fresh.set(made.id, made);
        return made;
      }
      return reused.get(heldBy) ?? fresh.get(heldBy)!;
    });
    return { jobs: result, reused: new Set(reusedIds.keys()) };
  }

  async claimJobs(claims: Claim[], leaseMs: number, budget: number): Promise<Job[]> {
    this.throttled = null;
    const claimed: Job[] = [];
    for (const { queue, limit: wanted, rateLimit: rate } of claims) {
      let limit = Math.min(wanted, budget - claimed.length);
      if (limit <= 0) break;
      const rows = await this.sql.begin(async (tx) => {
        // The queue's row, locked: its pause, concurrency and rate limit hold over every instance (whose lists may
        // lag), and the claim (a statement after the lock, so it sees every claim committed before) counts what runs.
        const [settings] = await named<{ jobs: number | null; per_seconds: number | null }>(tx, rateLimit.postgres.settings, { queue });
        const now = this.clock.now();
        // The limit as stored (another instance may have changed it); this instance's list only says to look.
        const perMs = rate && settings?.jobs != null && settings.per_seconds != null ? settings.per_seconds * 1000 : null;
        let window: { n: number; oldest: number | null } | null = null;
        if (perMs !== null) {
          const [row] = await named<{ n: number; oldest: string | null }>(tx, rateLimit.postgres.window, { queue, since: now - perMs });
          window = { n: row!.n, oldest: row!.oldest === null ? null : Number(row!.oldest) };
          if (window.n + limit > settings!.jobs!) {
            limit = Math.max(0, settings!.jobs! - window.n);
            if (window.oldest !== null) this.throttledAt(window.oldest + perMs);
          }
          if (limit === 0) return [];
        }
        const taken = (await tx.unsafe(CLAIM_FOR_POOL, [queue, now, limit, this.leasePrefix(), now + leaseMs, 'pool'])) as PgJobRow[];
        if (perMs !== null && window && taken.length) {
          await named(tx, rateLimit.postgres.prune, { queue, since: now - perMs });
          await named(tx, rateLimit.postgres.record, { queue, now, count: taken.length });
          if (window.n + taken.length >= settings!.jobs!) this.throttledAt((window.oldest ?? now) + perMs);
        }
        return taken;
      });
      for (const row of rows) claimed.push(fromPg(row));
    }
    return claimed;
  }

  throttledUntil(): number | null {
    return this.throttled;
  }

  private throttledAt(at: number): void {
    if (this.throttled === null || at < this.throttled) this.throttled = at;
  }

  async claimJobsOfKind(queue: string, kind: JobKindName, limit: number, leaseMs: number): Promise<Job[]> {
    const now = this.clock.now();
    const rows = await this.query<PgJobRow>(CLAIM_KIND, [queue, now, limit, this.leasePrefix(), now + leaseMs, 'pool', kind]);
    return rows.map(fromPg);
  }

  async pullJob(queue: string, claimant: string, by: number, leaseMs: number): Promise<Job | null> {
    const now = this.clock.now();
    const [row] = await this.query<PgJobRow>(PULL, [queue, now, 1, this.leasePrefix(), now + leaseMs, claimant, by]);
    return row ? fromPg(row) : null;
  }

  async settleJobs(outcomes: Outcome[]): Promise<Job[]> {
    if (!outcomes.length) return [];
    const now = this.clock.now();
    const successes = outcomes.flatMap((outcome) =>
      'result' in outcome ? [{ id: outcome.lease.id, lease_token: outcome.lease.leaseToken, result: JSON.stringify(outcome.result ?? null) }] : [],
    );
    const rows = await this.sql.begin(async (tx) => {
      const run = (text: string, params: unknown[]) => tx.unsafe(text, params as never[]) as unknown as Promise<PgJobRow[]>;
      const changed: PgJobRow[] = successes.length ? await run(SUCCEED_MANY, [JSON.stringify(successes), now]) : [];
      let requeued = false;
      for (const outcome of outcomes) {
        if (!('error' in outcome)) continue;
        const { id, leaseToken } = outcome.lease;
        const [row] =
          outcome.retryInMs === undefined
            ? await run(FAIL, [id, leaseToken, outcome.error, now])
            : await run(REQUEUE, [id, leaseToken, outcome.error, now, now + outcome.retryInMs]);
        if (row) changed.push(row);
        if (row && outcome.retryInMs !== undefined) requeued = true;
      }
      if (requeued) await run(`SELECT pg_notify('${JOBS_CHANNEL}', '')`, []);
      return changed;
    });
    return rows.map(fromPg);
  }

  async completeJob(lease: Lease, result: unknown, by: number): Promise<Job | undefined> {
    const [row] = await this.query<PgJobRow>(SUCCEED_ONE, [lease.id, lease.leaseToken, JSON.stringify(result), this.clock.now(), by]);
    return row ? fromPg(row) : undefined;
  }

  async cancelJob(id: number, by: number): Promise<Job | undefined> {
    const [row] = await this.query<PgJobRow>(CANCEL, [id, this.clock.now(), by]);
    if (!row) return undefined;
    // A pool job (its claimant is kept) may run on another instance.
    if (row.claimed_by === 'pool') await this.notifyCancelled([row]);
    return fromPg(row);
  }

  async retryJob(id: number, by: number): Promise<Job | undefined> {
    const [row] = await this.query<PgJobRow>(RETRY, [id, this.clock.now(), by]);
    if (!row) return undefined;
    await this.notifyJobs();
    return fromPg(row);
  }

  async deleteJob(id: number): Promise<void> {
    await this.query(`DELETE FROM jobs WHERE id = $1`, [id]);
  }

  async cancelMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    const rows = await named<PgJobRow & { was: JobStatus }>(this.sql, cancelMatching.postgres, { ...filterParams(filter), now: this.clock.now(), by, limit });
    await this.notifyCancelled(rows.filter((row) => row.was === 'RUNNING'));
    return rows.map(({ was: _was, ...row }) => fromPg(row));
  }

  async retryMatching(filter: MatchingJobs, by: number, limit: number): Promise<Job[]> {
    const rows = await named<PgJobRow>(this.sql, retryMatching.postgres, { ...filterParams(filter), now: this.clock.now(), by, limit });
    if (rows.length) await this.notifyJobs();
    return rows.map(fromPg);
  }

  async deleteMatching(filter: MatchingJobs, limit: number): Promise<number[]> {
    const rows = await named<{ id: number }>(this.sql, deleteMatching.postgres, { ...filterParams(filter), limit });
    return rows.map((row) => row.id);
  }

  /**
   * Tells every instance which running jobs were cancelled (`<id>:<attempt>`): the one running each stops that attempt
   * at once (its lease, cleared by the cancel, would otherwise only fail at its next renewal). NOTIFY payloads are
   * small (8,000 bytes): in chunks.
   */
  private async notifyCancelled(jobs: { id: number; attempts: number }[]): Promise<void> {
    const entries = jobs.map(({ id, attempts }) => `${id}:${attempts}`);
    for (let i = 0; i < entries.length; i += 400) await this.query(`SELECT pg_notify('${CANCEL_CHANNEL}', $1)`, [entries.slice(i, i + 400).join(',')]);
  }

  async purgeExpiredKeys(limit: number): Promise<number> {
    const rows = await named(this.sql, `${purgeExpiredKeys.postgres} RETURNING 1`, { now: this.clock.now(), limit });
    return rows.length;
  }

  forgetQueue(): void {
    // Nothing kept here: counts are read from the table.
  }

  async recoverExpired(): Promise<Job[]> {
    // Beside other instances a running pool job without an expired lease may be theirs: only leases that ran out count.
    const rows = await this.query<PgJobRow>(RECOVER, [this.clock.now(), OUT_OF_ATTEMPTS, RECOVERED]);
    const jobs = rows.map(fromPg);
    if (jobs.some((job) => job.status === 'QUEUED')) await this.notifyJobs();
    return jobs;
  }

  async heartbeat(leases: Lease[], leaseMs: number): Promise<Set<number>> {
    if (!leases.length) return new Set();
    const now = this.clock.now();
    const batch = JSON.stringify(leases.map(({ id, leaseToken }) => ({ id, lease_token: leaseToken })));
    const rows = await this.query<{ id: number }>(
      `UPDATE jobs SET lease_expires_at = $2
       FROM jsonb_to_recordset($1::text::jsonb) AS b(id int, lease_token text)
       WHERE jobs.id = b.id AND jobs.status = 'RUNNING' AND jobs.lease_token = b.lease_token AND jobs.lease_expires_at >= $3
       RETURNING jobs.id`,
      [batch, now + leaseMs, now],
    );
    return new Set(rows.map((row) => row.id));
  }

  async progress(lease: Lease, fraction: number): Promise<void> {
    await this.query(`UPDATE jobs SET progress = $3 WHERE id = $1 AND status = 'RUNNING' AND lease_token = $2`, [lease.id, lease.leaseToken, fraction]);
  }

  async addNote(id: number, note: JobNote): Promise<boolean> {
    const rows = await this.query(
      `INSERT INTO job_events (job_id, type, payload, at) SELECT id, 'note', $2, $3 FROM jobs WHERE id = $1 RETURNING job_id`,
      [id, JSON.stringify(note), this.clock.now()],
    );
    return rows.length > 0;
  }

  // ---- reads -------------------------------------------------------------------------------------------

  async jobById(id: number): Promise<Job | undefined> {
    const [row] = await this.query<PgJobRow>(`SELECT * FROM jobs WHERE id = $1`, [id]);
    return row ? fromPg(row) : undefined;
  }

  async inputsOf(ids: number[]): Promise<Map<number, unknown>> {
    if (!ids.length) return new Map();
    const rows = await this.query<{ id: number; input: string }>(
      `SELECT job_id AS id, input FROM job_inputs WHERE job_id IN (SELECT jsonb_array_elements_text($1::text::jsonb)::int)`,
      [JSON.stringify(ids)],
    );
    return new Map(rows.map((row) => [row.id, JSON.parse(row.input)]));
  }

  statusesOfKind(kind: JobKindName, ownerId: number | null): Promise<{ id: number; status: JobStatus }[]> {
    return this.query(`SELECT id, status FROM jobs WHERE kind = $1 AND ($2::int IS NULL OR owner_id = $2::int) ORDER BY id`, [kind, ownerId]);
  }

  countByStatus(ownerId: number | null, queue: string | null): Promise<{ status: JobStatus; n: number }[]> {
    return this.query(
      `SELECT status, count(*)::int AS n FROM jobs WHERE ($1::int IS NULL OR owner_id = $1::int) AND ($2::text IS NULL OR queue = $2::text) GROUP BY status`,
      [ownerId, queue],
    );
  }

  countActiveByQueueKind(): Promise<{ status: JobStatus; queue: string; kind: JobKindName; n: number }[]> {
    return this.query(`SELECT status, queue, kind, count(*)::int AS n FROM jobs WHERE status IN ('QUEUED', 'RUNNING') GROUP BY status, queue, kind`);
  }

  selectJob(id: number, ownerId: number | null, select?: Selection): Promise<Job | undefined> {
    return selectJob(this.db, id, ownerId, select);
  }

  selectJobs(filter: JobFilter, select?: Selection): Promise<Job[]> {
    return selectJobs(this.db, filter, select);
  }

  countJobs(filter: JobFilter): Promise<number> {
    return countJobs(this.db, this.tables.jobs, filter);
  }

  countDelayedByQueue(): Promise<{ queue: string; n: number }[]> {
    return this.query(`SELECT queue, count(*)::int AS n FROM jobs WHERE status = 'QUEUED' AND run_at > $1 GROUP BY queue`, [this.clock.now()]);
  }

  async nextRunAt(): Promise<number | null> {
    const [row] = await this.query<{ at: string | null }>(`SELECT min(run_at) AS at FROM jobs WHERE status = 'QUEUED' AND run_at > $1`, [this.clock.now()]);
    return row?.at == null ? null : Number(row.at);
  }

  async pendingCount(): Promise<number> {
    const [row] = await this.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs j JOIN queues q ON q.name = j.queue
       WHERE (j.status = 'QUEUED' AND NOT q.paused) OR (j.status = 'RUNNING' AND j.claimed_by = 'pool')`,
    );
    return row!.n;
  }

  async queuedOfKind(queue: string, kind: JobKindName): Promise<number> {
    const [row] = await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND status = 'QUEUED' AND kind = $2`, [queue, kind]);
    return row!.n;
  }

  async waitingCount(queue: string): Promise<number> {
    const [row] = await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND status = 'QUEUED'`, [queue]);
    return row!.n;
  }

  mayHaveWaiting(): boolean {
    // Other instances add jobs this one does not see: only a claim finds out.
    return true;
  }

  // ---- instances ---------------------------------------------------------------------------------------

  onCancelled(listener: (cancelled: { id: number; attempt: number }[]) => void): void {
    this.cancelListeners.add(listener);
  }

  onWork(listener: (what: 'jobs' | 'queues') => void): void {
    this.listeners.add(listener);
  }

  async announceQueues(): Promise<void> {
    await this.query(`SELECT pg_notify('${QUEUES_CHANNEL}', '')`);
  }

  /** Each claim gets its own token prefix: a late answer from an earlier lease of the same job never matches. */
  private leasePrefix(): string {
    return `${this.instance}.${crypto.randomUUID()}:`;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.cancelListeners.clear();
    await Promise.all(this.unlisten.splice(0).map((unlisten) => unlisten().catch(() => {})));
  }
}

