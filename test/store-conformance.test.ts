// One conformance suite for the job store: every member of JobStore (JOB_STORE_MEMBERS) has its cases here, and each
// case runs on SQLite and — with TEST_DATABASE_URL — on PostgreSQL, against the stores themselves with a clock the
// case moves (leases, backoff and recovery without sleeping). A member without a case fails the suite: a transition
// cannot land on one database only. Adding a transition: src/jobs/store/README.md.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type Database, openPostgres, openSqlite } from '../src/db/client';
import type { Job, JobKindName, QueueOrder } from '../src/jobs/model';
import { type InsertedJobs, JOB_STORE_MEMBERS, type JobStore, type JobStoreMember, type Lease, type NewQueuedJob } from '../src/jobs/store';
import { PgJobStore } from '../src/jobs/store/postgres';
import { SqliteJobStore } from '../src/jobs/store/sqlite';
import { OUT_OF_ATTEMPTS, RECOVERED } from '../src/jobs/store/sql/recover';
import { FakeClock } from './helpers/clock';
import { createTestDatabase, TEST_DATABASE_URL } from './helpers/server';

const LEASE_MS = 30_000;

interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  database: Database;
  /** A store on the backend's database, reading the given clock. */
  open(clock: FakeClock): Promise<JobStore>;
  /** Raw SQL for setting up and looking inside (`$1`… on PostgreSQL, `?` on SQLite: cases pass no parameters). */
  exec<T = Record<string, unknown>>(text: string): Promise<T[]>;
  close(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-conformance-'));
  const database = openSqlite(join(dir, 'jobs.sqlite'));
  return {
    name: 'SQLite',
    database,
    open: async (clock) => new SqliteJobStore({ sqlite: database.sqlite, db: database.sqliteDb, idle: database.idle, walWritten: database.walWritten }, clock),
    exec: async <T,>(text: string) => database.sqlite.prepare(text).all() as T[],
    close: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const scratch = await createTestDatabase();
  const database = await openPostgres(scratch.url);
  return {
    name: 'PostgreSQL',
    database,
    open: (clock) => PgJobStore.open({ sql: database.sql, db: database.pg, tables: database.pgTables }, clock, pino({ level: 'silent' })),
    exec: async <T,>(text: string) => (await database.sql.unsafe(text)) as unknown as T[],
    close: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}

/** What a case gets: a fresh store (no jobs), its stopped clock, and helpers over the same database. */
interface Ctx {
  backend: Backend;
  store: JobStore;
  clock: FakeClock;
  owner: number;
  /** A new queue with a name of its own. */
  queue(settings?: { concurrency?: number; maxLength?: number; paused?: boolean; rateLimit?: { jobs: number; perSeconds: number }; order?: QueueOrder; ownerConcurrency?: number }): Promise<string>;
  /** `n` jobs into `queue` (priority 0, three attempts, ctx.owner's unless given). */
  submit(queue: string, n?: number, job?: { kind?: JobKindName; priority?: number; maxAttempts?: number; input?: unknown; runAt?: number; owner?: number }): Promise<Job[]>;
  /** Another user (another owner of jobs), made once per name. */
  user(name: string): Promise<number>;
  /** Jobs with idempotency keys into `queue`, through `store` (this case's unless given): insertJobs' whole answer. */
  insert(queue: string, jobs: { idempotencyKey?: string; keyExpiresAt?: number }[], store?: JobStore): Promise<InsertedJobs>;
  /** A schedule row due at `due`, submitting to `queue`. */
  schedule(name: string, queue: string, due: number): Promise<void>;
  /** One job to insert into `queue` (what a schedule's tick submits). */
  newQueued(queue: string): NewQueuedJob;
  /** A job's events, oldest first, payloads parsed. */
  events(id: number): Promise<{ type: string; payload: any }[]>;
  /** Another store on the same database (another instance on PostgreSQL), on the same clock; closed after the case. */
  another(): Promise<JobStore>;
}

type Case = (ctx: Ctx) => Promise<void>;

const claimOne = async (ctx: Ctx, queue: string, limit = 1) => ctx.store.claimJobs([{ queue, limit }], LEASE_MS, 100);
/** A claim of a FAIR queue's, its jobs in id order. */
const claimFair = async (ctx: Ctx, queue: string, limit = 1) =>
  (await ctx.store.claimJobs([{ queue, limit, order: 'FAIR' }], LEASE_MS, 100)).sort((x, y) => x.id - y.id);
const lease = (job: Job): Lease => ({ id: job.id, leaseToken: job.leaseToken });
const ids = (jobs: { id: number }[]) => jobs.map((job) => job.id);

/** A diamond a → (b CANCEL, c RUN) → d (CANCEL) in `queue`; jobs in node order. */
async function diamond(ctx: Ctx, queue: string) {
  const node = (key: string, parents: number[], onParentFailure: 'CANCEL' | 'RUN' = 'CANCEL') => ({
    queue: { name: queue, maxLength: 1000 },
    job: { kind: 'PI' as JobKindName, ownerId: ctx.owner, priority: 0, maxAttempts: 1, timeoutMs: 60_000 },
    inputJson: JSON.stringify({ key }),
    key,
    parents,
    onParentFailure,
  });
  return ctx.store.insertFlow({ name: 'diamond', ownerId: ctx.owner, nodes: [node('a', []), node('b', [0]), node('c', [0], 'RUN'), node('d', [1, 2])] });
}

/** Every member's cases. The type makes a missing member a compile error; the test below makes it a failure. */
const CASES: Record<JobStoreMember, Record<string, Case>> = {
  insertJobs: {
    'new jobs are QUEUED, with their input and a `queued` event': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue, 1, { input: { digits: 5 } });
      expect(job).toMatchObject({ status: 'QUEUED', queue, attempts: 0, ownerId: ctx.owner, leaseToken: null });
      expect(await ctx.store.jobById(job!.id)).toEqual(job);
      expect((await ctx.store.inputsOf([job!.id])).get(job!.id)).toEqual({ digits: 5 });
      expect(await ctx.events(job!.id)).toEqual([{ type: 'queued', payload: null }]);
    },
    'a batch: ids new and rising (never a deleted job’s), each job with its own input and `queued` event': async (ctx) => {
      const queue = await ctx.queue();
      const first = await ctx.submit(queue, 3);
      // The newest job deleted: its id is not handed out again (SQLite numbers a batch itself).
      await ctx.store.deleteJob(first[2]!.id);
      const batch = (await ctx.store.insertJobs([0, 1, 2].map((n) => ({ queue: { name: queue, maxLength: 100 }, job: newJobSettings(ctx.owner), inputJson: JSON.stringify({ n }) })))).jobs;
      expect(batch[0]!.id).toBeGreaterThan(first[2]!.id);
      expect(ids(batch)).toEqual([...ids(batch)].sort((x, y) => x - y));
      const inputs = await ctx.store.inputsOf(ids(batch));
      for (const [n, job] of batch.entries()) {
        expect(await ctx.store.jobById(job.id)).toEqual(job);
        expect(inputs.get(job.id)).toEqual({ n });
        expect(await ctx.events(job.id)).toEqual([{ type: 'queued', payload: null }]);
      }
      expect(await ctx.store.waitingCount(queue)).toBe(5);
    },
    'a queue or an owner gone meanwhile: the batch is refused whole, nothing written (what the foreign keys checked)': async (ctx) => {
      const queue = await ctx.queue();
      const gone = await ctx.queue();
      await ctx.backend.exec(`DELETE FROM queues WHERE name = '${gone}'`);
      const owner = await ctx.user('conformance-gone');
      await ctx.backend.exec(`DELETE FROM users WHERE id = ${owner}`);
      const job = (name: string, ownerId = ctx.owner) => ({ queue: { name, maxLength: 100 }, job: newJobSettings(ownerId), inputJson: '{}' });
      await expect(ctx.store.insertJobs([job(queue), job(gone)])).rejects.toThrow();
      await expect(ctx.store.insertJobs([job(queue), job(queue, owner)])).rejects.toThrow();
      expect(await ctx.backend.exec(`SELECT id FROM jobs UNION ALL SELECT job_id FROM job_events UNION ALL SELECT job_id FROM job_inputs`)).toEqual([]);
      expect(await ctx.store.waitingCount(queue)).toBe(0);
    },
    'a user deleted leaves their jobs without an owner; a queue renamed takes its jobs along': async (ctx) => {
      const queue = await ctx.queue();
      const owner = await ctx.user('conformance-leaving');
      const [job] = await ctx.submit(queue, 1, { owner });
      await ctx.backend.exec(`DELETE FROM users WHERE id = ${owner}`);
      expect(await ctx.store.jobById(job!.id)).toMatchObject({ ownerId: null, queue });
      await ctx.backend.exec(`UPDATE queues SET name = '${queue}-renamed' WHERE name = '${queue}'`);
      expect(await ctx.store.jobById(job!.id)).toMatchObject({ ownerId: null, queue: `${queue}-renamed` });
    },
    'maxLength: a batch that would overfill its queue is refused whole (CONFLICT)': async (ctx) => {
      const queue = await ctx.queue({ maxLength: 3 });
      await ctx.submit(queue, 2);
      const refused = await ctx.submit(queue, 2).catch((error) => error);
      expect(refused.code).toBe('CONFLICT');
      expect(await ctx.store.waitingCount(queue)).toBe(2);
      expect(await ctx.submit(queue, 1)).toHaveLength(1);
    },
    // PostgreSQL: submissions to a queue take turns on an advisory lock (not the queue row, which claims lock).
    'maxLength under concurrent submissions (three instances on PostgreSQL), claims running beside: never overfilled': async (ctx) => {
      const queue = await ctx.queue({ maxLength: 5, concurrency: 1 });
      // SQLite: one process per database file (its store keeps the waiting counts), so its submissions race in one store.
      const stores = ctx.store.shared ? [ctx.store, await ctx.another(), await ctx.another()] : [ctx.store, ctx.store, ctx.store];
      const one = (store: JobStore) => store.insertJobs([{ queue: { name: queue, maxLength: 5 }, job: newJobSettings(ctx.owner), inputJson: '{}' }]);
      const outcomes = await Promise.allSettled([
        ...stores.flatMap((store) => [0, 1, 2, 3].map(() => one(store))),
        ...stores.map((store) => store.claimJobs([{ queue, limit: 1 }], LEASE_MS, 1)),
      ]);
      const inserted = outcomes.slice(0, 12).filter((outcome) => outcome.status === 'fulfilled').length;
      const claimed = outcomes.slice(12).flatMap((outcome) => (outcome.status === 'fulfilled' ? (outcome.value as Job[]) : []));
      for (const refused of outcomes.slice(0, 12).filter((outcome) => outcome.status === 'rejected')) expect((refused as PromiseRejectedResult).reason.code).toBe('CONFLICT');
      // A claim only makes room: at most 5 waiting at any time, so at most 5 plus what was claimed got in.
      expect(await ctx.store.waitingCount(queue)).toBeLessThanOrEqual(5);
      expect(inserted).toBeGreaterThanOrEqual(5);
      expect(inserted).toBeLessThanOrEqual(5 + claimed.length);
      expect(await ctx.store.waitingCount(queue)).toBe(inserted - claimed.length);
    },
    'runAt: a job is not claimed before its time; the `queued` event carries it': async (ctx) => {
      const queue = await ctx.queue();
      const runAt = ctx.clock.now() + 5_000;
      const [job] = await ctx.submit(queue, 1, { runAt });
      expect(job!.runAt.getTime()).toBe(runAt);
      expect(await ctx.events(job!.id)).toEqual([{ type: 'queued', payload: { runAt } }]);
      expect(await claimOne(ctx, queue)).toEqual([]);
      expect(await ctx.store.nextRunAt()).toBe(runAt);
      ctx.clock.advance(5_000);
      expect(ids(await claimOne(ctx, queue))).toEqual([job!.id]);
    },
    'idempotency keys: a remembered key returns its job and inserts nothing; a repeat within the batch names one job; an expired key is free': async (ctx) => {
      const queue = await ctx.queue();
      const first = await ctx.insert(queue, [{ idempotencyKey: 'a', keyExpiresAt: ctx.clock.now() + 1_000 }, { idempotencyKey: 'a' }, {}]);
      expect(first.jobs[1]!.id).toBe(first.jobs[0]!.id);
      expect([...first.reused]).toEqual([1]);
      expect(await ctx.store.waitingCount(queue)).toBe(2);
      const again = await ctx.insert(queue, [{ idempotencyKey: 'a', keyExpiresAt: ctx.clock.now() + 1_000 }]);
      expect(again.jobs[0]!.id).toBe(first.jobs[0]!.id);
      expect([...again.reused]).toEqual([0]);
      expect(await ctx.store.waitingCount(queue)).toBe(2);
      ctx.clock.advance(1_000);
      const expired = await ctx.insert(queue, [{ idempotencyKey: 'a', keyExpiresAt: ctx.clock.now() + 1_000 }]);
      expect(expired.jobs[0]!.id).not.toBe(first.jobs[0]!.id);
      expect(expired.reused.size).toBe(0);
    },
    'idempotency keys: concurrent batches with one key (two instances on PostgreSQL) make one job': async (ctx) => {
      const queue = await ctx.queue();
      const other = await ctx.another();
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => ctx.insert(queue, [{ idempotencyKey: 'race', keyExpiresAt: ctx.clock.now() + 60_000 }], i % 2 ? other : ctx.store)));
      expect(new Set(answers.map((answer) => answer.jobs[0]!.id)).size).toBe(1);
      expect(await ctx.store.waitingCount(queue)).toBe(1);
    },
  },
  claimJobs: {
    'priority order: lowest number first, then oldest; each claim leases with a `started` event': async (ctx) => {
      const queue = await ctx.queue();
      const [late] = await ctx.submit(queue, 1, { priority: 5 });
      const [first, second] = await ctx.submit(queue, 2, { priority: 1 });
      const claimed = await claimOne(ctx, queue, 2);
      expect(ids(claimed).sort()).toEqual([first!.id, second!.id].sort());
      expect(ids(await claimOne(ctx, queue))).toEqual([late!.id]);
      for (const job of claimed) {
        expect(job).toMatchObject({ status: 'RUNNING', attempts: 1, claimedBy: 'pool' });
        expect(job.leaseExpiresAt!.getTime()).toBe(ctx.clock.now() + LEASE_MS);
        expect(await ctx.events(job.id)).toEqual([{ type: 'queued', payload: null }, { type: 'started', payload: { attempt: 1 } }]);
      }
    },
    'limits: each claim its own limit, all of them the budget': async (ctx) => {
      const [a, b] = [await ctx.queue(), await ctx.queue()];
      await ctx.submit(a, 3);
      await ctx.submit(b, 3);
      const claimed = await ctx.store.claimJobs([{ queue: a, limit: 2 }, { queue: b, limit: 3 }], LEASE_MS, 4);
      expect(claimed.map((job) => job.queue)).toEqual([a, a, b, b]);
      expect(await ctx.store.waitingCount(a)).toBe(1);
    },
    'jobs not yet due (a retry backoff) wait': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue);
      const [claimed] = await claimOne(ctx, queue);
      await ctx.store.settleJobs([{ lease: claimed!, error: 'boom', retryInMs: 60_000 }]);
      expect(await claimOne(ctx, queue)).toEqual([]);
      ctx.clock.advance(60_000);
      expect(ids(await claimOne(ctx, queue))).toEqual([job!.id]);
    },
    'FAIR: owners with waiting jobs take turns; each owner\'s jobs by priority, then age': async (ctx) => {
      const queue = await ctx.queue({ order: 'FAIR' });
      const [a, b, c] = [ctx.owner, await ctx.user('fair-b'), await ctx.user('fair-c')].sort((x, y) => x - y) as [number, number, number];
      const [aLate] = await ctx.submit(queue, 1, { owner: a, priority: 5 });
      const aFirst = await ctx.submit(queue, 3, { owner: a, priority: 1 });
      const bJobs = await ctx.submit(queue, 2, { owner: b });
      const [cJob] = await ctx.submit(queue, 1, { owner: c });
      const order: number[] = [];
      for (let i = 0; i < 8; i++) order.push(...ids(await claimFair(ctx, queue)));
      expect(order).toEqual([aFirst[0]!.id, bJobs[0]!.id, cJob!.id, aFirst[1]!.id, bJobs[1]!.id, aFirst[2]!.id, aLate!.id]);
      // An owner arriving later takes the next turn after the one who had the last.
      const [d] = await ctx.submit(queue, 1, { owner: c });
      const [e] = await ctx.submit(queue, 1, { owner: a });
      expect(ids(await claimFair(ctx, queue, 2))).toEqual([d!.id, e!.id]);
    },
    'FAIR: a claim of several takes every owner\'s first job, then every owner\'s second': async (ctx) => {
      const queue = await ctx.queue({ order: 'FAIR' });
      const b = await ctx.user('fair-b');
      const aJobs = await ctx.submit(queue, 3);
      const bJobs = await ctx.submit(queue, 3, { owner: b });
      const claimed = await claimFair(ctx, queue, 4);
      expect(ids(claimed).sort((x, y) => x - y)).toEqual(ids([...aJobs.slice(0, 2), ...bJobs.slice(0, 2)]).sort((x, y) => x - y));
      for (const job of claimed) expect(await ctx.events(job.id)).toEqual([{ type: 'queued', payload: null }, { type: 'started', payload: { attempt: 1 } }]);
    },
    'FAIR ownerConcurrency: three concurrent claimers (three instances on PostgreSQL) never run more of one owner': async (ctx) => {
      const queue = await ctx.queue({ order: 'FAIR', ownerConcurrency: 2, concurrency: 100 });
      const b = await ctx.user('fair-b');
      await ctx.submit(queue, 10);
      await ctx.submit(queue, 10, { owner: b });
      const stores = [ctx.store, await ctx.another(), await ctx.another()];
      const rounds = await Promise.all(stores.flatMap((store) => [store, store].map((s) => s.claimJobs([{ queue, limit: 10, order: 'FAIR' }], LEASE_MS, 10))));
      const claimed = rounds.flat();
      expect(claimed.filter((job) => job.ownerId === ctx.owner)).toHaveLength(2);
      expect(claimed.filter((job) => job.ownerId === b)).toHaveLength(2);
      // A finished job makes room for one more of its owner only.
      await ctx.store.settleJobs([{ lease: claimed.find((job) => job.ownerId === b)!, result: 1 }]);
      const more = await ctx.store.claimJobs([{ queue, limit: 10, order: 'FAIR' }], LEASE_MS, 10);
      expect(more.map((job) => job.ownerId)).toEqual([b]);
    },
    'FAIR and pause: a shared store holds a paused FAIR queue over every instance; an unshared one claims what its runner asks': async (ctx) => {
      const queue = await ctx.queue({ order: 'FAIR', paused: true });
      await ctx.submit(queue, 2);
      expect(await ctx.store.claimJobs([{ queue, limit: 2, order: 'FAIR' }], LEASE_MS, 2)).toHaveLength(ctx.store.shared ? 0 : 2);
    },
    'concurrent claims (two instances on PostgreSQL) never take the same job': async (ctx) => {
      const queue = await ctx.queue({ concurrency: 100 });
      await ctx.submit(queue, 40);
      const other = await ctx.another();
      const rounds = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? other : ctx.store).claimJobs([{ queue, limit: 7 }], LEASE_MS, 7)),
      );
      const claimed = rounds.flat().map((job) => job.id);
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed.length).toBe(40);
    },
    'a rate-limited queue: at most `jobs` starts per sliding window; throttledUntil says when room comes back': async (ctx) => {
      // The limit as the queue's row holds it (PostgreSQL reads it there, under the queue's lock) and as the runner passes it.
      const queue = await ctx.queue({ rateLimit: { jobs: 2, perSeconds: 1 } });
      await ctx.submit(queue, 5);
      const rateLimit = { jobs: 2, perMs: 1_000 };
      expect(await ctx.store.claimJobs([{ queue, limit: 5, rateLimit }], LEASE_MS, 10)).toHaveLength(2);
      expect(ctx.store.throttledUntil()).toBe(ctx.clock.now() + 1_000);
      ctx.clock.advance(500);
      expect(await ctx.store.claimJobs([{ queue, limit: 5, rateLimit }], LEASE_MS, 10)).toEqual([]);
      expect(ctx.store.throttledUntil()).toBe(ctx.clock.now() + 500);
      ctx.clock.advance(500);
      expect(await ctx.store.claimJobs([{ queue, limit: 5, rateLimit }], LEASE_MS, 10)).toHaveLength(2);
      ctx.clock.advance(1_000);
      expect(await ctx.store.claimJobs([{ queue, limit: 5, rateLimit }], LEASE_MS, 10)).toHaveLength(1);
      expect(ctx.store.throttledUntil()).toBeNull();
    },
  },
  claimJobsOfKind: {
    "a person's 'run these now': every QUEUED job of the kind, due or not, oldest first": async (ctx) => {
      const queue = await ctx.queue();
      const [pi] = await ctx.submit(queue, 1, { kind: 'PI' });
      await ctx.submit(queue, 1, { kind: 'CALC' });
      const [claimed] = await claimOne(ctx, queue, 2);
      await ctx.store.settleJobs([{ lease: claimed!, error: 'later', retryInMs: 3_600_000 }]);
      const ofKind = await ctx.store.claimJobsOfKind(queue, 'PI', 10, LEASE_MS);
      expect(ids(ofKind)).toEqual([pi!.id]);
      expect(ofKind[0]).toMatchObject({ status: 'RUNNING', attempts: 2 });
      expect((await ctx.events(pi!.id)).at(-1)).toEqual({ type: 'started', payload: { attempt: 2 } });
    },
  },
  pullJob: {
    'leases the next job to a person (`pulled`, by them); null when none is runnable': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue);
      const pulled = await ctx.store.pullJob(queue, `user:${ctx.owner}`, ctx.owner, LEASE_MS);
      expect(pulled).toMatchObject({ id: job!.id, status: 'RUNNING', claimedBy: `user:${ctx.owner}` });
      expect((await ctx.events(job!.id)).at(-1)).toEqual({ type: 'pulled', payload: { by: ctx.owner, attempt: 1 } });
      expect(await ctx.store.pullJob(queue, `user:${ctx.owner}`, ctx.owner, LEASE_MS)).toBeNull();
    },
  },
  settleJobs: {
    'successes, failures and retries in one call, each with its event': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 3);
      const [ok, bad, again] = await claimOne(ctx, queue, 3);
      ctx.clock.advance(250);
      const settled = await ctx.store.settleJobs([
        { lease: ok!, result: { pi: 3.14 } },
        { lease: bad!, error: 'broken' },
        { lease: again!, error: 'flaky', retryInMs: 1_000 },
      ]);
      expect(settled.map((job) => [job.id, job.status])).toEqual([
        [ok!.id, 'SUCCEEDED'],
        [bad!.id, 'FAILED'],
        [again!.id, 'QUEUED'],
      ]);
      expect(await ctx.store.jobById(ok!.id)).toMatchObject({ status: 'SUCCEEDED', result: { pi: 3.14 }, progress: 1, leaseToken: null });
      expect((await ctx.events(ok!.id)).at(-1)).toEqual({ type: 'succeeded', payload: { attempt: 1, durationMs: 250 } });
      expect((await ctx.events(bad!.id)).at(-1)).toEqual({ type: 'failed', payload: { attempt: 1, error: 'broken' } });
      const runAt = ctx.clock.now() + 1_000;
      expect(await ctx.store.jobById(again!.id)).toMatchObject({ status: 'QUEUED', error: 'flaky', runAt: new Date(runAt), claimedBy: null });
      expect((await ctx.events(again!.id)).at(-1)).toEqual({ type: 'retry_scheduled', payload: { attempt: 1, error: 'flaky', runAt } });
      expect(await ctx.store.waitingCount(queue)).toBe(1);
    },
    'an outcome whose lease is no longer its own changes nothing and is left out': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2);
      const [first, second] = await claimOne(ctx, queue, 2);
      await ctx.store.cancelJob(first!.id, ctx.owner);
      const stale = { ...second!, leaseToken: 'someone-else' };
      expect(await ctx.store.settleJobs([{ lease: first!, result: 1 }, { lease: stale, error: 'x' }])).toEqual([]);
      expect((await ctx.store.jobById(first!.id))!.status).toBe('CANCELLED');
      expect((await ctx.store.jobById(second!.id))!.status).toBe('RUNNING');
    },
    // PostgreSQL settles both in one statement, the node's children released in it.
    "a flow's node and a plain job succeeding in one call: both settle, and the node releases its children": async (ctx) => {
      const queue = await ctx.queue();
      const { jobs } = await diamond(ctx, queue);
      await ctx.submit(queue, 1);
      const claimed = await claimOne(ctx, queue, 2);
      expect(claimed.map((job) => job.id)).toContain(jobs[0]!.id);
      const settled = await ctx.store.settleJobs(claimed.map((job) => ({ lease: job, result: { n: job.id } })));
      expect(settled.map((job) => job.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
      const released = await claimOne(ctx, queue, 3);
      expect(released.map((job) => job.id).sort()).toEqual([jobs[1]!.id, jobs[2]!.id].sort());
    },
    // PostgreSQL: each settle counts the child down on the row as the other left it (one statement each, in turn on
    // the flow's row): the child is released once, the flow counted twice.
    'the last two parents of a child succeeding at once (two instances on PostgreSQL): the child is released once': async (ctx) => {
      const queue = await ctx.queue();
      const { flow, jobs } = await diamond(ctx, queue);
      const [a] = await claimOne(ctx, queue);
      await ctx.store.settleJobs([{ lease: a!, result: 1 }]);
      const [b, c] = await claimOne(ctx, queue, 2);
      const other = await ctx.another();
      await Promise.all([ctx.store.settleJobs([{ lease: b!, result: 2 }]), other.settleJobs([{ lease: c!, result: 3 }])]);
      const d = jobs[3]!.id;
      expect((await ctx.store.jobById(d))!.status).toBe('QUEUED');
      expect((await ctx.events(d)).map((event) => event.type)).toEqual(['queued', 'released']);
      expect(await ctx.store.flowById(flow.id, null)).toMatchObject({ status: 'RUNNING', remaining: 1, notSucceeded: 0 });
      expect(ids(await claimOne(ctx, queue, 5))).toEqual([d]);
    },
  },
  completeJob: {
    "completes a pulled job with the person's result, under its lease only": async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue);
      const pulled = (await ctx.store.pullJob(queue, 'user:1', ctx.owner, LEASE_MS))!;
      expect(await ctx.store.completeJob({ id: pulled.id, leaseToken: 'wrong' }, 1, ctx.owner)).toBeUndefined();
      const done = await ctx.store.completeJob(lease(pulled), { answer: 42 }, ctx.owner);
      expect(done).toMatchObject({ status: 'SUCCEEDED', result: { answer: 42 }, leaseToken: null });
      expect((await ctx.events(pulled.id)).at(-1)).toEqual({ type: 'succeeded', payload: { by: ctx.owner } });
      expect(await ctx.store.completeJob(lease(pulled), 2, ctx.owner)).toBeUndefined();
    },
  },
  cancelJob: {
    'queued and running jobs stop (`cancelled`, by whom); finished ones do not': async (ctx) => {
      const queue = await ctx.queue();
      const [running, waiting] = await ctx.submit(queue, 2);
      expect(ids(await claimOne(ctx, queue))).toEqual([running!.id]);
      expect(await ctx.store.cancelJob(waiting!.id, ctx.owner)).toMatchObject({ status: 'CANCELLED' });
      expect(await ctx.store.waitingCount(queue)).toBe(0);
      const cancelled = await ctx.store.cancelJob(running!.id, ctx.owner);
      expect(cancelled).toMatchObject({ status: 'CANCELLED', leaseToken: null });
      expect((await ctx.events(running!.id)).at(-1)).toEqual({ type: 'cancelled', payload: { by: ctx.owner } });
      expect(await ctx.store.cancelJob(running!.id, ctx.owner)).toBeUndefined();
    },
  },
  retryJob: {
    'failed and cancelled jobs queue again with fresh attempts (`retried`); others do not': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue, 1, { maxAttempts: 1 });
      const [claimed] = await claimOne(ctx, queue);
      expect(await ctx.store.retryJob(job!.id, ctx.owner)).toBeUndefined();
      await ctx.store.settleJobs([{ lease: claimed!, error: 'broken' }]);
      const retried = await ctx.store.retryJob(job!.id, ctx.owner);
      expect(retried).toMatchObject({ status: 'QUEUED', attempts: 0, error: null, finishedAt: null });
      expect((await ctx.events(job!.id)).at(-1)).toEqual({ type: 'retried', payload: { by: ctx.owner } });
      expect(await ctx.store.waitingCount(queue)).toBe(1);
      expect(ids(await claimOne(ctx, queue))).toEqual([job!.id]);
    },
  },
  deleteJob: {
    'the job is gone with its events and input, and no longer counts as waiting': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue);
      expect(await ctx.store.addNote(job!.id, { note: 'kept until deleted', by: ctx.owner, username: 'conformance' })).toBe(true);
      await ctx.store.deleteJob(job!.id);
      expect(await ctx.store.jobById(job!.id)).toBeUndefined();
      // Raw rows: PostgreSQL deletes them by a trigger on jobs (no foreign key there), SQLite by ON DELETE CASCADE.
      expect(await ctx.events(job!.id)).toEqual([]);
      expect(await ctx.backend.exec(`SELECT job_id FROM job_inputs WHERE job_id = ${job!.id}`)).toEqual([]);
      expect(await ctx.store.addNote(job!.id, { note: 'too late', by: ctx.owner, username: 'conformance' })).toBe(false);
      expect(await ctx.events(job!.id)).toEqual([]);
      expect(await ctx.store.waitingCount(queue)).toBe(0);
      expect(ctx.store.mayHaveWaiting(queue) && !ctx.store.shared).toBe(false);
    },
  },
  throttledUntil: {
    'null after a claim that held nothing back': async (ctx) => {
      const queue = await ctx.queue({ rateLimit: { jobs: 10, perSeconds: 1 } });
      await ctx.submit(queue, 1);
      await ctx.store.claimJobs([{ queue, limit: 5, rateLimit: { jobs: 10, perMs: 1_000 } }], LEASE_MS, 10);
      expect(ctx.store.throttledUntil()).toBeNull();
    },
  },
  fireSchedule: {
    'a due tick is taken once, with its job; a second taker (another instance) gets nothing': async (ctx) => {
      const queue = await ctx.queue();
      const due = ctx.clock.now();
      await ctx.schedule('tick', queue, due);
      const other = await ctx.another();
      const tick = { name: 'tick', due, next: due + 1_000, skipIfUnfinished: false };
      const job = ctx.newQueued(queue);
      const [a, b] = await Promise.all([ctx.store.fireSchedule(tick, job), other.fireSchedule(tick, job)]);
      const won = [a, b].filter((fired) => fired.advanced);
      expect(won).toHaveLength(1);
      expect(won[0]!.job).toMatchObject({ status: 'QUEUED', schedule: 'tick', queue });
      expect([a, b].find((fired) => !fired.advanced)!.job).toBeNull();
      const [row] = await ctx.backend.exec<{ next_run_at: string; last_run_at: string }>(`SELECT next_run_at, last_run_at FROM schedules WHERE name = 'tick'`);
      expect(Number(row!.next_run_at)).toBe(due + 1_000);
      expect(Number(row!.last_run_at)).toBe(due);
      expect(await ctx.store.waitingCount(queue)).toBe(1);
    },
    'overlap SKIP: an unfinished run takes the tick without a job; a paused schedule is not taken': async (ctx) => {
      const queue = await ctx.queue();
      const due = ctx.clock.now();
      await ctx.schedule('skip', queue, due);
      const first = await ctx.store.fireSchedule({ name: 'skip', due, next: due + 1_000, skipIfUnfinished: true }, ctx.newQueued(queue));
      expect(first.job).not.toBeNull();
      const second = await ctx.store.fireSchedule({ name: 'skip', due: due + 1_000, next: due + 2_000, skipIfUnfinished: true }, ctx.newQueued(queue));
      expect(second).toEqual({ advanced: true, job: null });
      await ctx.backend.exec(`UPDATE schedules SET paused = TRUE WHERE name = 'skip'`);
      expect(await ctx.store.fireSchedule({ name: 'skip', due: due + 2_000, next: due + 3_000, skipIfUnfinished: false }, ctx.newQueued(queue))).toEqual({ advanced: false, job: null });
      expect(await ctx.store.waitingCount(queue)).toBe(1);
    },
    'a missed tick (no job asked for) only moves the schedule on': async (ctx) => {
      const queue = await ctx.queue();
      const due = ctx.clock.now();
      await ctx.schedule('missed', queue, due);
      expect(await ctx.store.fireSchedule({ name: 'missed', due, next: due + 1_000, skipIfUnfinished: false }, null)).toEqual({ advanced: true, job: null });
      expect(await ctx.store.waitingCount(queue)).toBe(0);
    },
  },
  cancelMatching: {
    'QUEUED and RUNNING jobs matching the filter, up to the limit, each with its `cancelled` event': async (ctx) => {
      const [queue, other] = [await ctx.queue(), await ctx.queue()];
      const jobs = await ctx.submit(queue, 4);
      await ctx.submit(other, 1);
      const [running] = await claimOne(ctx, queue);
      const first = await ctx.store.cancelMatching({ queue }, ctx.owner, 3);
      expect(first).toHaveLength(3);
      expect(first.every((job) => job.status === 'CANCELLED' && job.leaseToken === null)).toBe(true);
      const rest = await ctx.store.cancelMatching({ queue }, ctx.owner, 3);
      expect(ids([...first, ...rest]).sort()).toEqual(ids(jobs).sort());
      expect(ids([...first, ...rest])).toContain(running!.id);
      expect((await ctx.events(running!.id)).at(-1)).toEqual({ type: 'cancelled', payload: { by: ctx.owner } });
      expect(await ctx.store.waitingCount(queue)).toBe(0);
      expect(await ctx.store.waitingCount(other)).toBe(1);
      expect(await ctx.store.cancelMatching({ queue }, ctx.owner, 3)).toEqual([]);
    },
    'every filter narrows: ids, owner, kind, status, created before and after': async (ctx) => {
      const queue = await ctx.queue();
      const [a, b] = await ctx.submit(queue, 2, { kind: 'PI' });
      ctx.clock.advance(10);
      const [c] = await ctx.submit(queue, 1, { kind: 'CALC' });
      expect(await ctx.store.cancelMatching({ ownerId: ctx.owner + 1000 }, ctx.owner, 10)).toEqual([]);
      expect(ids(await ctx.store.cancelMatching({ ids: [b!.id], queue }, ctx.owner, 10))).toEqual([b!.id]);
      expect(ids(await ctx.store.cancelMatching({ kind: 'CALC', createdAfter: c!.createdAt.getTime() }, ctx.owner, 10))).toEqual([c!.id]);
      expect(await ctx.store.cancelMatching({ status: 'RUNNING', queue }, ctx.owner, 10)).toEqual([]);
      expect(ids(await ctx.store.cancelMatching({ createdBefore: a!.createdAt.getTime() + 1, ownerId: ctx.owner }, ctx.owner, 10))).toEqual([a!.id]);
    },
  },
  retryMatching: {
    'FAILED and CANCELLED jobs matching queue again (`retried`), not those finished after the bound': async (ctx) => {
      const queue = await ctx.queue();
      const jobs = await ctx.submit(queue, 3);
      await ctx.store.cancelMatching({ queue }, ctx.owner, 10);
      ctx.clock.advance(10);
      const retried = await ctx.store.retryMatching({ queue, finishedBefore: ctx.clock.now() }, ctx.owner, 2);
      expect(retried).toHaveLength(2);
      expect(retried.every((job) => job.status === 'QUEUED' && job.attempts === 0 && job.finishedAt === null)).toBe(true);
      expect((await ctx.events(retried[0]!.id)).at(-1)).toEqual({ type: 'retried', payload: { by: ctx.owner } });
      expect(await ctx.store.waitingCount(queue)).toBe(2);
      expect(await ctx.store.retryMatching({ queue, finishedBefore: jobs[0]!.createdAt.getTime() }, ctx.owner, 10)).toEqual([]);
      expect(await ctx.store.retryMatching({ queue }, ctx.owner, 10)).toHaveLength(1);
    },
    'flow nodes are left out (retryJob refuses them: their flow counted their end once)': async (ctx) => {
      const queue = await ctx.queue();
      const { flow } = await diamond(ctx, queue);
      await ctx.store.cancelFlow(flow.id, ctx.owner);
      const [loose] = await ctx.submit(queue, 1);
      await ctx.store.cancelMatching({ ids: [loose!.id] }, ctx.owner, 10);
      expect((await ctx.store.retryMatching({ queue }, ctx.owner, 10)).map((job) => job.id)).toEqual([loose!.id]);
    },
  },
  deleteMatching: {
    'finished jobs matching go with their events and inputs; others stay': async (ctx) => {
      const queue = await ctx.queue();
      const [done, waiting] = await ctx.submit(queue, 2);
      await ctx.store.cancelMatching({ ids: [done!.id] }, ctx.owner, 10);
      ctx.clock.advance(100);
      expect(await ctx.store.deleteMatching({ queue, finishedBefore: ctx.clock.now() - 200 }, 10)).toEqual([]);
      expect(await ctx.store.deleteMatching({ queue, status: 'CANCELLED', finishedBefore: ctx.clock.now() }, 10)).toEqual([done!.id]);
      expect(await ctx.store.jobById(done!.id)).toBeUndefined();
      expect(await ctx.events(done!.id)).toEqual([]);
      expect((await ctx.store.inputsOf([done!.id])).size).toBe(0);
      expect((await ctx.store.jobById(waiting!.id))!.status).toBe('QUEUED');
    },
  },
  purgeExpiredKeys: {
    'expired idempotency keys go, a batch at a time; live ones stay': async (ctx) => {
      const queue = await ctx.queue();
      const now = ctx.clock.now();
      await ctx.insert(queue, [{ idempotencyKey: 'old1', keyExpiresAt: now + 10 }, { idempotencyKey: 'old2', keyExpiresAt: now + 10 }, { idempotencyKey: 'live', keyExpiresAt: now + 60_000 }]);
      ctx.clock.advance(10);
      expect(await ctx.store.purgeExpiredKeys(1)).toBe(1);
      expect(await ctx.store.purgeExpiredKeys(10)).toBe(1);
      expect(await ctx.store.purgeExpiredKeys(10)).toBe(0);
      const [{ n }] = (await ctx.backend.exec<{ n: number }>(`SELECT count(*) AS n FROM idempotency_keys`)) as [{ n: number }];
      expect(Number(n)).toBe(1);
    },
  },
  countDelayedByQueue: {
    'QUEUED jobs not yet due, by queue': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2, { runAt: ctx.clock.now() + 1_000 });
      await ctx.submit(queue, 1);
      expect(await ctx.store.countDelayedByQueue()).toEqual([{ queue, n: 2 }]);
      ctx.clock.advance(1_000);
      expect(await ctx.store.countDelayedByQueue()).toEqual([]);
    },
  },
  onCancelled: {
    'PostgreSQL: another instance hears the running jobs cancelled, with their attempt; SQLite never calls': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2);
      const [running] = await claimOne(ctx, queue);
      const other = await ctx.another();
      const heard: { id: number; attempt: number }[] = [];
      other.onCancelled((cancelled) => heard.push(...cancelled));
      await ctx.store.cancelMatching({ queue }, ctx.owner, 10);
      if (ctx.store.shared) {
        await until(() => heard.length > 0);
        expect(heard).toEqual([{ id: running!.id, attempt: 1 }]);
      } else {
        await Bun.sleep(20);
        expect(heard).toEqual([]);
      }
    },
  },
  forgetQueue: {
    'after a queue is deleted with its jobs (and their events and inputs), none of them wait': async (ctx) => {
      const queue = await ctx.queue();
      const jobs = await ctx.submit(queue, 2);
      await ctx.backend.exec(`DELETE FROM queues WHERE name = '${queue}'`);
      ctx.store.forgetQueue(queue);
      expect(await ctx.store.waitingCount(queue)).toBe(0);
      const ids = jobs.map((job) => job.id).join(', ');
      expect(await ctx.backend.exec(`SELECT job_id FROM job_events WHERE job_id IN (${ids}) UNION ALL SELECT job_id FROM job_inputs WHERE job_id IN (${ids})`)).toEqual([]);
    },
  },
  recoverExpired: {
    'expired leases go back to their queue (`recovered`), or fail with no attempts left; live leases stay': async (ctx) => {
      const queue = await ctx.queue();
      const [again] = await ctx.submit(queue, 1, { maxAttempts: 2 });
      const [last] = await ctx.submit(queue, 1, { maxAttempts: 1 });
      await claimOne(ctx, queue, 2);
      ctx.clock.advance(LEASE_MS / 2);
      expect(await ctx.store.recoverExpired(false)).toEqual([]);
      const [live] = await ctx.submit(queue);
      await claimOne(ctx, queue);
      ctx.clock.advance(LEASE_MS / 2 + 1);
      const recovered = await ctx.store.recoverExpired(false);
      expect(recovered.map((job) => [job.id, job.status, job.error]).sort()).toEqual(
        [
          [again!.id, 'QUEUED', RECOVERED],
          [last!.id, 'FAILED', OUT_OF_ATTEMPTS],
        ].sort(),
      );
      expect((await ctx.events(again!.id)).at(-1)).toEqual({ type: 'recovered', payload: { attempt: 1, claimedBy: 'pool' } });
      expect((await ctx.events(last!.id)).at(-1)).toEqual({ type: 'failed', payload: { attempt: 1, claimedBy: 'pool' } });
      expect((await ctx.store.jobById(live!.id))!.status).toBe('RUNNING');
      expect(ids(await claimOne(ctx, queue))).toEqual([again!.id]);
    },
    "a recovered lease's late answer changes nothing": async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue);
      const [claimed] = await claimOne(ctx, queue);
      ctx.clock.advance(LEASE_MS + 1);
      await ctx.store.recoverExpired(false);
      expect(await ctx.store.settleJobs([{ lease: claimed!, result: 'late' }])).toEqual([]);
      expect((await ctx.store.jobById(claimed!.id))!.status).toBe('QUEUED');
    },
    'at start-up on SQLite (`everyPoolJob`), every running pool job counts, expired or not': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue);
      await claimOne(ctx, queue);
      const recovered = await ctx.store.recoverExpired(!ctx.store.shared);
      // PostgreSQL never passes it (another instance may hold the lease): only expired leases count there.
      expect(recovered.length).toBe(ctx.store.shared ? 0 : 1);
    },
  },
  heartbeat: {
    'extends the leases still held; not an expired one, nor a wrong token': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 3);
      const [held, wrong, expired] = await claimOne(ctx, queue, 3);
      ctx.clock.advance(LEASE_MS - 1);
      expect(await ctx.store.heartbeat([lease(held!), { id: wrong!.id, leaseToken: 'nope' }], LEASE_MS)).toEqual(new Set([held!.id]));
      expect((await ctx.store.jobById(held!.id))!.leaseExpiresAt!.getTime()).toBe(ctx.clock.now() + LEASE_MS);
      ctx.clock.advance(2);
      expect(await ctx.store.heartbeat([lease(held!), lease(expired!)], LEASE_MS)).toEqual(new Set([held!.id]));
      expect(await ctx.store.heartbeat([], LEASE_MS)).toEqual(new Set());
    },
  },
  progress: {
    "a running job's progress, under its lease only": async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue);
      const [running] = await claimOne(ctx, queue);
      await ctx.store.progress(lease(running!), 0.5);
      await ctx.store.progress({ id: running!.id, leaseToken: 'nope' }, 0.9);
      expect((await ctx.store.jobById(running!.id))!.progress).toBe(0.5);
    },
  },
  addNote: {
    'a `note` event with its author; false for a job that does not exist': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue);
      const note = { note: 'looks stuck', by: ctx.owner, username: 'conformance' };
      expect(await ctx.store.addNote(job!.id, note)).toBe(true);
      expect((await ctx.events(job!.id)).at(-1)).toEqual({ type: 'note', payload: note });
      expect((await ctx.store.jobById(job!.id))!.status).toBe('QUEUED');
      expect(await ctx.store.addNote(job!.id + 1_000_000, note)).toBe(false);
    },
  },
  jobById: {
    'the job as stored; undefined when missing': async (ctx) => {
      const [job] = await ctx.submit(await ctx.queue());
      expect(await ctx.store.jobById(job!.id)).toEqual(job);
      expect(await ctx.store.jobById(job!.id + 1_000_000)).toBeUndefined();
    },
  },
  inputsOf: {
    'inputs by id, one or many; missing ones left out': async (ctx) => {
      const queue = await ctx.queue();
      const [a, b] = [...(await ctx.submit(queue, 1, { input: { a: 1 } })), ...(await ctx.submit(queue, 1, { input: [2] }))];
      expect(await ctx.store.inputsOf([a!.id])).toEqual(new Map([[a!.id, { a: 1 }]]));
      expect(await ctx.store.inputsOf([a!.id, b!.id, 9_999_999])).toEqual(new Map<number, unknown>([[a!.id, { a: 1 }], [b!.id, [2]]]));
    },
  },
  statusesOfKind: {
    "one kind's ids and statuses, oldest first, for one owner or all": async (ctx) => {
      const queue = await ctx.queue();
      const [a, b] = await ctx.submit(queue, 2, { kind: 'CALC' });
      await ctx.submit(queue, 1, { kind: 'PI' });
      await ctx.store.cancelJob(b!.id, ctx.owner);
      const expected = [
        { id: a!.id, status: 'QUEUED' as const },
        { id: b!.id, status: 'CANCELLED' as const },
      ];
      expect(await ctx.store.statusesOfKind('CALC', null)).toEqual(expected);
      expect(await ctx.store.statusesOfKind('CALC', ctx.owner)).toEqual(expected);
      expect(await ctx.store.statusesOfKind('CALC', ctx.owner + 1)).toEqual([]);
    },
  },
  countByOwner: {
    "one queue's waiting and running jobs by owner, the most waiting first; one owner's alone": async (ctx) => {
      const [queue, other] = [await ctx.queue({ order: 'FAIR' }), await ctx.queue()];
      const b = await ctx.user('fair-b');
      await ctx.submit(queue, 2);
      await ctx.submit(queue, 3, { owner: b });
      await ctx.submit(other, 4);
      await claimFair(ctx, queue, 2);
      const [done] = await ctx.submit(queue, 1);
      await ctx.store.cancelJob(done!.id, ctx.owner);
      expect(await ctx.store.countByOwner(queue, null, 10)).toEqual([
        { ownerId: b, waiting: 2, running: 1 },
        { ownerId: ctx.owner, waiting: 1, running: 1 },
      ]);
      expect(await ctx.store.countByOwner(queue, null, 1)).toEqual([{ ownerId: b, waiting: 2, running: 1 }]);
      expect(await ctx.store.countByOwner(queue, ctx.owner, 10)).toEqual([{ ownerId: ctx.owner, waiting: 1, running: 1 }]);
    },
  },
  countByStatus: {
    'jobs by status, for an owner and a queue or all': async (ctx) => {
      const [a, b] = [await ctx.queue(), await ctx.queue()];
      await ctx.submit(a, 2);
      await ctx.submit(b, 1);
      await claimOne(ctx, a);
      const sorted = (rows: { status: string; n: number }[]) => [...rows].sort((x, y) => x.status.localeCompare(y.status));
      expect(sorted(await ctx.store.countByStatus(null, a))).toEqual([
        { status: 'QUEUED', n: 1 },
        { status: 'RUNNING', n: 1 },
      ]);
      expect(sorted(await ctx.store.countByStatus(ctx.owner, null))).toEqual([
        { status: 'QUEUED', n: 2 },
        { status: 'RUNNING', n: 1 },
      ]);
    },
  },
  countActiveByQueueKind: {
    'QUEUED and RUNNING jobs by status, queue and kind; finished ones not': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2, { kind: 'PI' });
      const [done] = await ctx.submit(queue, 1, { kind: 'CALC' });
      await ctx.store.cancelJob(done!.id, ctx.owner);
      await ctx.store.claimJobsOfKind(queue, 'PI', 1, LEASE_MS);
      const rows = (await ctx.store.countActiveByQueueKind()).filter((row) => row.queue === queue).sort((x, y) => x.status.localeCompare(y.status));
      expect(rows).toEqual([
        { status: 'QUEUED', queue, kind: 'PI', n: 1 },
        { status: 'RUNNING', queue, kind: 'PI', n: 1 },
      ]);
    },
  },
  selectJob: {
    "one job through Drizzle's relational query; another owner's reads as missing": async (ctx) => {
      const [job] = await ctx.submit(await ctx.queue());
      expect(await ctx.store.selectJob(job!.id, null)).toMatchObject({ id: job!.id, status: 'QUEUED', queue: job!.queue });
      expect(await ctx.store.selectJob(job!.id, ctx.owner)).toMatchObject({ id: job!.id });
      expect(await ctx.store.selectJob(job!.id, ctx.owner + 1)).toBeUndefined();
    },
  },
  selectJobs: {
    'the jobs matching every filter, newest first': async (ctx) => {
      const queue = await ctx.queue();
      const [a, b] = await ctx.submit(queue, 2, { kind: 'PI' });
      await ctx.submit(queue, 1, { kind: 'CALC' });
      expect(ids(await ctx.store.selectJobs({ queue, kind: 'PI' }))).toEqual([b!.id, a!.id]);
      expect(ids(await ctx.store.selectJobs({ queue, status: 'RUNNING' }))).toEqual([]);
    },
    "a schedule's runs (its `runs` connection)": async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2);
      const due = ctx.clock.now();
      await ctx.schedule('runs', queue, due);
      const { job } = await ctx.store.fireSchedule({ name: 'runs', due, next: due + 1_000, skipIfUnfinished: false }, ctx.newQueued(queue));
      expect(ids(await ctx.store.selectJobs({ schedule: 'runs' }))).toEqual([job!.id]);
      expect(await ctx.store.countJobs({ schedule: 'runs' })).toBe(1);
    },
  },
  countJobs: {
    'how many jobs match every filter': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2, { kind: 'PI' });
      await ctx.submit(queue, 1, { kind: 'CALC' });
      expect(await ctx.store.countJobs({ queue })).toBe(3);
      expect(await ctx.store.countJobs({ queue, kind: 'PI', ownerId: ctx.owner })).toBe(2);
      expect(await ctx.store.countJobs({ queue, status: 'FAILED' })).toBe(0);
    },
  },
  nextRunAt: {
    'the earliest time a queued job waits for; null when none waits': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2);
      expect(await ctx.store.nextRunAt()).toBeNull();
      const [a, b] = await claimOne(ctx, queue, 2);
      await ctx.store.settleJobs([
        { lease: a!, error: 'x', retryInMs: 5_000 },
        { lease: b!, error: 'x', retryInMs: 2_000 },
      ]);
      expect(await ctx.store.nextRunAt()).toBe(ctx.clock.now() + 2_000);
    },
  },
  pendingCount: {
    'pause: queued jobs of paused queues do not count; running pool jobs do': async (ctx) => {
      const [open, paused] = [await ctx.queue(), await ctx.queue({ paused: true })];
      await ctx.submit(open, 2);
      await ctx.submit(paused, 3);
      await claimOne(ctx, open);
      expect(await ctx.store.pendingCount()).toBe(2);
    },
  },
  queuedOfKind: {
    'QUEUED jobs of one kind in a queue': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2, { kind: 'PI' });
      await ctx.submit(queue, 1, { kind: 'CALC' });
      await ctx.store.claimJobsOfKind(queue, 'PI', 1, LEASE_MS);
      expect(await ctx.store.queuedOfKind(queue, 'PI')).toBe(1);
    },
  },
  waitingCount: {
    'follows every transition that moves a job in or out of QUEUED': async (ctx) => {
      const queue = await ctx.queue();
      const jobs = await ctx.submit(queue, 4);
      const [claimed] = await claimOne(ctx, queue);
      await ctx.store.cancelJob(jobs[3]!.id, ctx.owner);
      await ctx.store.settleJobs([{ lease: claimed!, error: 'x', retryInMs: 0 }]);
      await ctx.store.pullJob(queue, 'user:1', ctx.owner, LEASE_MS);
      expect(await ctx.store.waitingCount(queue)).toBe(2);
      expect(await ctx.store.waitingCount('no-such-queue')).toBe(0);
    },
  },
  mayHaveWaiting: {
    'never false while jobs wait (exact where the store keeps the counts)': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue);
      expect(ctx.store.mayHaveWaiting(queue)).toBe(true);
      await ctx.store.cancelJob(job!.id, ctx.owner);
      expect(ctx.store.mayHaveWaiting(queue)).toBe(ctx.store.shared);
    },
  },
  eventsAfter: {
    'the events after a position, in log order, filtered by owner, queue, kind and job; paged with limit': async (ctx) => {
      const queue = await ctx.queue();
      const jobs = await ctx.submit(queue, 3);
      const other = await ctx.queue();
      await ctx.submit(other, 2, { kind: 'CALC' });
      const all = await ctx.store.eventsAfter(null, { queue }, 100);
      expect(all.map((event) => [event.jobId, event.type])).toEqual(jobs.map((job) => [job.id, 'queued']));
      expect(all[0]).toMatchObject({ queue, kind: 'PI', ownerId: ctx.owner, payload: null });
      expect(all[0]!.at).toBeInstanceOf(Date);
      // After a position: what follows it, in order; a limit pages.
      expect(await ctx.store.eventsAfter(all[0]!, { queue }, 100)).toEqual(all.slice(1));
      expect(await ctx.store.eventsAfter(all[0]!, { queue }, 1)).toEqual(all.slice(1, 2));
      expect(await ctx.store.eventsAfter(null, { jobId: jobs[1]!.id }, 100)).toEqual([all[1]!]);
      expect(await ctx.store.eventsAfter(null, { kind: 'CALC' }, 100)).toHaveLength(2);
      expect(await ctx.store.eventsAfter(null, { queue, ownerId: ctx.owner + 1 }, 100)).toEqual([]);
      // A later transition's event comes after every earlier one.
      await claimOne(ctx, queue);
      const next = await ctx.store.eventsAfter(all[2]!, { queue }, 100);
      expect(next.map((event) => event.type)).toEqual(['started']);
    },
    'of some types only: the others are skipped, paging counts only those returned': async (ctx) => {
      const queue = await ctx.queue();
      const jobs = await ctx.submit(queue, 3);
      await claimOne(ctx, queue);
      await ctx.store.cancelJob(jobs[1]!.id, ctx.owner);
      await ctx.store.cancelJob(jobs[2]!.id, ctx.owner);
      const all = await ctx.store.eventsAfter(null, { queue }, 100);
      expect(all.map((event) => event.type)).toEqual(['queued', 'queued', 'queued', 'started', 'cancelled', 'cancelled']);
      const cancelled = await ctx.store.eventsAfter(null, { queue, types: ['cancelled', 'failed'] }, 1);
      expect(cancelled).toEqual([all[4]!]);
      expect(await ctx.store.eventsAfter(cancelled[0]!, { queue, types: ['cancelled'] }, 100)).toEqual([all[5]!]);
      expect(await ctx.store.eventsAfter(null, { queue, types: ['started', 'queued'] }, 100)).toEqual(all.slice(0, 4));
      expect(await ctx.store.eventsAfter(null, { queue, types: [] }, 100)).toEqual([]);
    },
    'PostgreSQL: an event of a transaction still open is not read, nor any after it, until it commits': async (ctx) => {
      const queue = await ctx.queue();
      const [job] = await ctx.submit(queue);
      if (ctx.backend.name !== 'PostgreSQL') return;
      const [before] = await ctx.store.eventsAfter(null, { queue }, 100);
      const { sql } = ctx.backend.database as { sql: import('bun').SQL };
      let commit!: () => void;
      const open = sql.begin(async (tx) => {
        await tx.unsafe(`INSERT INTO job_events (job_id, type, at) VALUES (${job!.id}, 'note', 1)`);
        await new Promise<void>((resolve) => (commit = resolve));
      });
      await until(() => commit !== undefined);
      await Bun.sleep(50);
      // A later transaction commits first: its event waits behind the open one.
      await ctx.store.addNote(job!.id, { note: 'later', by: ctx.owner, username: 'conformance' });
      expect(await ctx.store.eventsAfter(before!, { queue }, 100)).toEqual([]);
      commit();
      await open;
      expect((await ctx.store.eventsAfter(before!, { queue }, 100)).map((event) => event.payload)).toEqual([null, expect.objectContaining({ note: 'later' })]);
    },
  },
  eventBounds: {
    'the oldest event kept and the newest; null when none': async (ctx) => {
      expect(await ctx.store.eventBounds()).toBeNull();
      const queue = await ctx.queue();
      await ctx.submit(queue, 2);
      const events = await ctx.store.eventsAfter(null, {}, 100);
      const bounds = await ctx.store.eventBounds();
      expect(bounds).toEqual({ first: { tx: events[0]!.tx, id: events[0]!.id }, last: { tx: events[1]!.tx, id: events[1]!.id } });
    },
  },
  eventPositions: {
    'positions by id, for those that exist': async (ctx) => {
      const queue = await ctx.queue();
      await ctx.submit(queue, 2);
      const events = await ctx.store.eventsAfter(null, { queue }, 100);
      const positions = await ctx.store.eventPositions([events[1]!.id, 999_999_999]);
      expect([...positions]).toEqual([[events[1]!.id, { tx: events[1]!.tx, id: events[1]!.id }]]);
    },
  },
  databaseId: {
    'made once, the same for every store on the database': async (ctx) => {
      const id = await ctx.store.databaseId();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await (await ctx.another()).databaseId()).toBe(id);
      expect(await ctx.store.databaseId()).toBe(id);
    },
  },
  onEvents: {
    "hears events committed by this store, and (PostgreSQL) by another instance": async (ctx) => {
      let heard = 0;
      ctx.store.onEvents(() => heard++);
      const queue = await ctx.queue();
      await ctx.submit(queue);
      await until(() => heard > 0);
      if (!ctx.store.shared) return;
      heard = 0;
      const other = await ctx.another();
      await other.insertJobs([{ queue: { name: queue, maxLength: 100 }, job: newJobSettings(ctx.owner), inputJson: '{}' }]);
      await until(() => heard > 0);
    },
  },
  shared: {
    "concurrency and pause: a shared store holds them over every instance; an unshared one claims what its runner asks": async (ctx) => {
      const queue = await ctx.queue({ concurrency: 2 });
      await ctx.submit(queue, 5);
      const first = await claimOne(ctx, queue, 5);
      expect(first).toHaveLength(ctx.store.shared ? 2 : 5);
      const paused = await ctx.queue({ paused: true });
      await ctx.submit(paused, 1);
      expect(await claimOne(ctx, paused)).toHaveLength(ctx.store.shared ? 0 : 1);
      expect(ctx.store.shared).toBe(ctx.backend.name === 'PostgreSQL');
    },
  },
  onWork: {
    "hears another instance's new jobs (PostgreSQL); never called on SQLite": async (ctx) => {
      const heard = hear(ctx.store);
      const other = await ctx.another();
      const queue = await ctx.queue();
      await other.insertJobs([{ queue: { name: queue, maxLength: 100 }, job: newJobSettings(ctx.owner), inputJson: '{}' }]);
      if (ctx.store.shared) await until(() => heard.includes('jobs'));
      else expect(heard).toEqual([]);
    },
  },
  announceQueues: {
    "tells every instance that queues changed (`onWork('queues')`)": async (ctx) => {
      const heard = hear(await ctx.another());
      await ctx.store.announceQueues();
      if (ctx.store.shared) await until(() => heard.includes('queues'));
      else expect(heard).toEqual([]);
    },
  },
  insertFlow: {
    'a node’s queue gone meanwhile (a child’s too): the flow is refused whole, nothing written': async (ctx) => {
      const queue = await ctx.queue();
      const gone = await ctx.queue();
      await ctx.backend.exec(`DELETE FROM queues WHERE name = '${gone}'`);
      const node = (name: string, parents: number[]) => ({
        queue: { name, maxLength: 100 },
        job: { kind: 'PI' as JobKindName, ownerId: ctx.owner, priority: 0, maxAttempts: 1, timeoutMs: 60_000 },
        inputJson: '{}',
        key: `${name}-${parents.length}`,
        parents,
        onParentFailure: 'CANCEL' as const,
      });
      await expect(ctx.store.insertFlow({ name: 'gone', ownerId: ctx.owner, nodes: [node(queue, []), node(gone, [0])] })).rejects.toThrow();
      expect(await ctx.backend.exec(`SELECT id FROM jobs UNION ALL SELECT id FROM flows WHERE name = 'gone' UNION ALL SELECT job_id FROM job_events`)).toEqual([]);
    },
    'nodes with parents are WAITING (never claimed), the others QUEUED; the flow RUNNING with its counts': async (ctx) => {
      const queue = await ctx.queue();
      const { flow, jobs } = await diamond(ctx, queue);
      expect(flow).toMatchObject({ status: 'RUNNING', total: 4, remaining: 4, name: 'diamond', ownerId: ctx.owner });
      expect(jobs.map((job) => job.status)).toEqual(['QUEUED', 'WAITING', 'WAITING', 'WAITING']);
      expect(await ctx.store.waitingCount(queue)).toBe(1);
      expect(ids(await claimOne(ctx, queue, 10))).toEqual([jobs[0]!.id]);
    },
    'settling the last parent releases its child in the same transaction; the last node ends the flow': async (ctx) => {
      const queue = await ctx.queue();
      const { flow, jobs } = await diamond(ctx, queue);
      const changes: { jobs: Job[] }[] = [];
      ctx.store.onFlowChange((change) => changes.push(change));
      const run = async () => {
        const claimed = await claimOne(ctx, queue, 10);
        await ctx.store.settleJobs(claimed.map((job) => ({ lease: job, result: { n: job.id } })));
        return ids(claimed);
      };
      expect(await run()).toEqual([jobs[0]!.id]);
      expect((await ctx.store.jobById(jobs[1]!.id))!.status).toBe('QUEUED');
      expect((await ctx.events(jobs[1]!.id)).map((event) => event.type)).toEqual(['queued', 'released']);
      expect(await run()).toEqual([jobs[1]!.id, jobs[2]!.id]);
      const parents = (await ctx.store.parentsOf([jobs[3]!.id])).get(jobs[3]!.id)!;
      expect(parents.map((parent) => [parent.key, parent.result])).toEqual([
        ['b', { n: jobs[1]!.id }],
        ['c', { n: jobs[2]!.id }],
      ]);
      expect(await run()).toEqual([jobs[3]!.id]);
      expect(await ctx.store.flowById(flow.id, null)).toMatchObject({ status: 'SUCCEEDED', remaining: 0 });
      expect(changes.flatMap((change) => change.jobs.map((job) => job.status))).toEqual(['QUEUED', 'QUEUED', 'QUEUED']);
    },
  },
  cancelFlow: {
    'every unfinished node is cancelled (`cancelled`, by whom) and the flow CANCELLED; a second time nothing': async (ctx) => {
      const queue = await ctx.queue();
      const { flow, jobs } = await diamond(ctx, queue);
      await claimOne(ctx, queue);
      const cancelled = await ctx.store.cancelFlow(flow.id, ctx.owner);
      expect(cancelled!.flow).toMatchObject({ status: 'CANCELLED', remaining: 0 });
      expect(ids(cancelled!.jobs).sort()).toEqual(ids(jobs).sort());
      expect((await ctx.events(jobs[3]!.id)).at(-1)).toEqual({ type: 'cancelled', payload: { by: ctx.owner } });
      expect(await ctx.store.waitingCount(queue)).toBe(0);
      expect(await ctx.store.cancelFlow(flow.id, ctx.owner)).toBeUndefined();
    },
    'racing a node that finishes at the same moment: one of the two wins, neither fails (no deadlock)': async (ctx) => {
      const queue = await ctx.queue({ concurrency: 100 });
      for (let round = 0; round < 15; round++) {
        const { flow, jobs } = await diamond(ctx, queue);
        const [running] = await claimOne(ctx, queue);
        expect(running!.id).toBe(jobs[0]!.id);
        const [settled, cancelled] = await Promise.all([ctx.store.settleJobs([{ lease: running!, result: 1 }]), ctx.store.cancelFlow(flow.id, ctx.owner)]);
        // Whichever came second saw the other's outcome: the node SUCCEEDED then the rest cancelled, or all cancelled.
        expect(settled.length + (cancelled?.jobs.some((job) => job.id === running!.id) ? 1 : 0)).toBe(1);
        expect(await ctx.store.flowById(flow.id, null)).toMatchObject({ status: 'CANCELLED', remaining: 0 });
      }
    },
  },
  onFlowChange: {
    'a parent that did not succeed cancels its CANCEL children and releases its RUN children': async (ctx) => {
      const queue = await ctx.queue();
      const { flow, jobs } = await diamond(ctx, queue);
      const changes: Job[] = [];
      ctx.store.onFlowChange((change) => changes.push(...change.jobs));
      await ctx.store.cancelJob(jobs[0]!.id, ctx.owner);
      // b (CANCEL) cancelled, c (RUN) released; d (CANCEL) cancelled through b.
      expect(changes.map((job): (number | string)[] => [job.id, job.status]).sort()).toEqual(
        [
          [jobs[1]!.id, 'CANCELLED'],
          [jobs[2]!.id, 'QUEUED'],
          [jobs[3]!.id, 'CANCELLED'],
        ].sort(),
      );
      expect((await ctx.events(jobs[1]!.id)).at(-1)).toEqual({ type: 'cancelled', payload: { by: null, reason: 'a parent did not succeed' } });
      const [c] = await claimOne(ctx, queue);
      expect((await ctx.store.parentsOf([c!.id])).get(c!.id)!.map((parent) => parent.status)).toEqual(['CANCELLED']);
      await ctx.store.settleJobs([{ lease: c!, result: { ok: true } }]);
      expect(await ctx.store.flowById(flow.id, null)).toMatchObject({ status: 'FAILED', remaining: 0, notSucceeded: 3 });
    },
  },
  flowById: {
    'a flow by id; with an owner, only theirs': async (ctx) => {
      const { flow } = await diamond(ctx, await ctx.queue());
      expect((await ctx.store.flowById(flow.id, null))!.id).toBe(flow.id);
      expect(await ctx.store.flowById(flow.id, ctx.owner + 1000)).toBeUndefined();
    },
  },
  listFlows: {
    'newest first, paged by id, by owner': async (ctx) => {
      const queue = await ctx.queue();
      const first = (await diamond(ctx, queue)).flow;
      const second = (await diamond(ctx, queue)).flow;
      expect(ids(await ctx.store.listFlows(ctx.owner, null, 2))).toEqual([second.id, first.id]);
      expect(ids(await ctx.store.listFlows(null, second.id, 1))).toEqual([first.id]);
      expect(await ctx.store.listFlows(ctx.owner + 1000, null, 10)).toEqual([]);
    },
  },
  flowNodes: {
    'nodes in submission order with their parents’ keys': async (ctx) => {
      const { flow, jobs } = await diamond(ctx, await ctx.queue());
      expect(await ctx.store.flowNodes(flow.id)).toEqual([
        { jobId: jobs[0]!.id, key: 'a', dependsOn: [] },
        { jobId: jobs[1]!.id, key: 'b', dependsOn: ['a'] },
        { jobId: jobs[2]!.id, key: 'c', dependsOn: ['a'] },
        { jobId: jobs[3]!.id, key: 'd', dependsOn: ['b', 'c'] },
      ]);
    },
  },
  flowOfJobs: {
    'the flow of each node; none for a lone job': async (ctx) => {
      const queue = await ctx.queue();
      const { flow, jobs } = await diamond(ctx, queue);
      const [alone] = await ctx.submit(queue);
      expect([...(await ctx.store.flowOfJobs([jobs[0]!.id, alone!.id]))]).toEqual([[jobs[0]!.id, flow.id]]);
    },
  },
  parentsOf: {
    'each child’s parents by key; none for a root': async (ctx) => {
      const { jobs } = await diamond(ctx, await ctx.queue());
      const parents = await ctx.store.parentsOf([jobs[0]!.id, jobs[3]!.id]);
      expect(parents.has(jobs[0]!.id)).toBe(false);
      expect(parents.get(jobs[3]!.id)!.map((parent) => [parent.key, parent.status, parent.result])).toEqual([
        ['b', 'WAITING', null],
        ['c', 'WAITING', null],
      ]);
    },
  },
  close: {
    'stops listening; the database stays open for others': async (ctx) => {
      const other = await ctx.another();
      const heard = hear(other);
      await other.close();
      await ctx.store.announceQueues();
      await ctx.store.insertJobs([{ queue: { name: await ctx.queue(), maxLength: 10 }, job: newJobSettings(ctx.owner), inputJson: '1' }]);
      // A NOTIFY after the close: were the listener still there, it would hear it by the time this round trip is back.
      await ctx.store.announceQueues();
      await ctx.store.pendingCount();
      expect(heard).toEqual([]);
    },
  },
};

/** What a store's onWork reports, as it arrives. */
function hear(store: JobStore): string[] {
  const heard: string[] = [];
  store.onWork((what) => heard.push(what));
  return heard;
}

const newJobSettings = (ownerId: number, job: { kind?: JobKindName; priority?: number; maxAttempts?: number; runAt?: number; idempotencyKey?: string } = {}) => ({
  kind: job.kind ?? ('PI' as JobKindName),
  ownerId,
  priority: job.priority ?? 0,
  maxAttempts: job.maxAttempts ?? 3,
  timeoutMs: 60_000,
  runAt: job.runAt ?? null,
  idempotencyKey: job.idempotencyKey ?? null,
});

/** Waits for a NOTIFY to arrive (polls; a generous limit only against a hang, never a measure). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('not heard in time');
    await Bun.sleep(10);
  }
}

describe('the conformance suite', () => {
  test('every member of JobStore has at least one case', () => {
    const missing = JOB_STORE_MEMBERS.filter((member) => Object.keys(CASES[member] ?? {}).length === 0);
    expect(missing).toEqual([]);
    expect(Object.keys(CASES).sort()).toEqual([...JOB_STORE_MEMBERS].sort());
  });

  test('every public member of both stores is one of JobStore’s (nothing lands on one store only)', () => {
    // Methods a store has beyond JobStore: its private helpers, named here so a new public one must be listed.
    const own = (prototype: object) => Object.getOwnPropertyNames(prototype).filter((name) => name !== 'constructor');
    const PRIVATE = new Set(['claimed', 'claimFair', 'succeedMany', 'statement', 'get', 'all', 'run', 'runRows', 'allRows', 'eachChunk', 'change', 'claimParams', 'leaseParams', 'claimPlain', 'pipelined', 'succeed', 'writeSuccesses', 'events', 'waiting', 'addWaiting', 'transition', 'alone', 'othersDone', 'transaction', 'insertNow', 'insertIn', 'throttledAt', 'notifyCancelled', 'checkRoom', 'releaseAfter', 'finalOne', 'tellFlowChange', 'eventListeners']);
    for (const prototype of [SqliteJobStore.prototype, PgJobStore.prototype]) {
      const extra = own(prototype).filter((name) => !(JOB_STORE_MEMBERS as readonly string[]).includes(name) && !PRIVATE.has(name));
      expect(extra).toEqual([]);
    }
  });
});

const backends: [name: string, open: () => Promise<Backend>][] = [['SQLite', sqliteBackend]];
if (TEST_DATABASE_URL) backends.push(['PostgreSQL', postgresBackend]);

for (const [name, openBackend] of backends) {
  describe(`job store conformance on ${name}`, () => {
    let backend: Backend;
    let ctx: Ctx;
    const opened: JobStore[] = [];
    let queues = 0;

    beforeAll(async () => {
      backend = await openBackend();
      await backend.exec(`INSERT INTO users (username, password_hash, role) VALUES ('conformance', 'x', 'USER')`);
    });
    afterAll(async () => {
      for (const store of opened.splice(0)) await store.close();
      await backend.close();
    });

    beforeEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await backend.exec(`DELETE FROM jobs`);
      await backend.exec(`DELETE FROM schedules`);
      await backend.exec(`DELETE FROM idempotency_keys`);
      await backend.exec(`DELETE FROM queue_starts`);
      const [{ id: owner }] = await backend.exec<{ id: number }>(`SELECT id FROM users WHERE username = 'conformance'`) as [{ id: number }];
      const clock = new FakeClock({ stopped: true });
      const store = await backend.open(clock);
      opened.push(store);
      ctx = {
        backend,
        store,
        clock,
        owner,
        async queue({ concurrency = 10, maxLength = 1000, paused = false, rateLimit, order = 'FIFO', ownerConcurrency } = {}) {
          const queueName = `q${++queues}`;
          await backend.exec(
            `INSERT INTO queues (name, concurrency, max_length, paused, rate_limit_jobs, rate_limit_per_seconds, claim_order, owner_concurrency)
             VALUES ('${queueName}', ${concurrency}, ${maxLength}, ${paused ? 'TRUE' : 'FALSE'}, ${rateLimit?.jobs ?? 'NULL'}, ${rateLimit?.perSeconds ?? 'NULL'}, '${order}', ${ownerConcurrency ?? 'NULL'})`,
          );
          return queueName;
        },
        async submit(queue, n = 1, job = {}) {
          const [{ max_length }] = (await backend.exec<{ max_length: number }>(`SELECT max_length FROM queues WHERE name = '${queue}'`)) as [{ max_length: number }];
          const inputJson = JSON.stringify(job.input ?? {});
          return (await store.insertJobs(Array.from({ length: n }, () => ({ queue: { name: queue, maxLength: max_length }, job: newJobSettings(job.owner ?? owner, job), inputJson })))).jobs;
        },
        async user(name) {
          await backend.exec(`INSERT INTO users (username, password_hash, role) SELECT '${name}', 'x', 'USER' WHERE NOT EXISTS (SELECT 1 FROM users WHERE username = '${name}')`);
          const [{ id }] = (await backend.exec<{ id: number }>(`SELECT id FROM users WHERE username = '${name}'`)) as [{ id: number }];
          return id;
        },
        async insert(queue, jobs, into = store) {
          return into.insertJobs(
            jobs.map(({ idempotencyKey, keyExpiresAt }) => ({ queue: { name: queue, maxLength: 1000 }, job: newJobSettings(owner, { idempotencyKey }), inputJson: '{}', keyExpiresAt })),
          );
        },
        async schedule(name, queue, due) {
          await backend.exec(
            `INSERT INTO schedules (name, cron, timezone, job, request, queue, overlap, next_run_at, owner_id) VALUES ('${name}', '* * * * * *', 'UTC', '{}', '{}', '${queue}', 'ALLOW', ${due}, ${owner})`,
          );
        },
        newQueued(queue) {
          return { queue: { name: queue, maxLength: 1000 }, job: newJobSettings(owner), inputJson: '{}' };
        },
        async events(id) {
          const rows = await backend.exec<{ type: string; payload: string | null }>(`SELECT type, payload FROM job_events WHERE job_id = ${Number(id)} ORDER BY id`);
          return rows.map(({ type, payload }) => ({ type, payload: payload === null ? null : JSON.parse(payload) }));
        },
        async another() {
          const other = await backend.open(clock);
          opened.push(other);
          return other;
        },
      };
    });

    for (const member of JOB_STORE_MEMBERS) {
      for (const [title, run] of Object.entries(CASES[member])) test(`${member}: ${title}`, () => run(ctx), 30_000);
    }
  });
}
