// The SQLite job store's writer thread (see ./sqlite-writer.ts): its own connection to the database file, and the
// store's transitions run on it, one call at a time in the order the main thread made them.
/// <reference lib="webworker" />
import { Database } from 'bun:sqlite';
import { createDb } from '../../db/client';
import { DomainError } from '../../errors';
import type { Job } from '../model';
import type { FlowChange, Outcome } from '.';
import { SqliteJobStore } from './sqlite';
import { type LeanInserted, type LeanOutcome, type LeanSettled, packJobs, unpackNewJobs, type WriterCall, type WriterMethod, type WriterReply } from './sqlite-writer';

declare const self: Worker;

/** The store here: its commits are also handed to the main thread (the counts' changes, the flows'). */
class WriterStore extends SqliteJobStore {
  last: { waiting: [string, number][]; flowChange: FlowChange } | null = null;

  protected override committed(waiting: ReadonlyMap<string, number>, flowChange: FlowChange): void {
    super.committed(waiting, flowChange);
    this.last = { waiting: [...waiting], flowChange };
  }

  /** settleJobs from the leases' ids, tokens and starts: what succeeded goes back as ids (the main thread has the leases). */
  async settleLean(lean: LeanOutcome[], now: number): Promise<LeanSettled> {
    const outcomes = lean.map(([id, leaseToken, attempts, startedAt, result, error, retryInMs]): Outcome => {
      const lease = { id, leaseToken, attempts, startedAt: startedAt === null ? null : new Date(startedAt) } as Job;
      if (error === null) return { lease, result };
      return retryInMs === null ? { lease, error } : { lease, error, retryInMs };
    });
    const changed = await this.settleJobs(outcomes);
    const succeeded: number[] = [];
    const others: Job[] = [];
    for (const job of changed) {
      if (job.status === 'SUCCEEDED') succeeded.push(job.id);
      else others.push(job);
    }
    return { now, succeeded, others };
  }
}

/** The hot transitions' calls and answers in flat arrays (./sqlite-writer.ts); the others as they are. */
async function lean(store: WriterStore, { method, args }: WriterCall): Promise<unknown> {
  if (method === 'settleJobs') return store.settleLean(args[0] as LeanOutcome[], now);
  if (method === 'claimJobs') return packJobs(await store.claimJobs(...(args as Parameters<WriterStore['claimJobs']>)));
  if (method === 'insertJobs') {
    const { jobs, reused } = await store.insertJobs(unpackNewJobs(args[0] as unknown[]));
    const positions = [...reused];
    return { now, ids: jobs.map((job) => job.id), reused: positions, stored: packJobs(positions.map((i) => jobs[i]!)) } satisfies LeanInserted;
  }
  return (store[method as WriterMethod] as (...args: unknown[]) => unknown)(...args);
}

let now = 0;
let store: WriterStore | undefined;
let connection: Database | undefined;

async function answer(call: WriterCall): Promise<WriterReply> {
  now = call.now;
  if (call.method === 'open') {
    connection = new Database(call.args[0] as string, { strict: true });
    // The main connection's settings (src/db/client.ts openSqlite); the file is migrated already.
    connection.run('PRAGMA synchronous = NORMAL');
    connection.run('PRAGMA foreign_keys = ON');
    connection.run('PRAGMA busy_timeout = 5000');
    store = new WriterStore({ sqlite: connection, db: createDb(connection), idle: async () => {} }, { now: () => now });
    return { id: call.id };
  }
  if (call.method === 'close') {
    connection?.close();
    return { id: call.id };
  }
  store!.last = null;
  const value = await lean(store!, call);
  const reply: WriterReply = { id: call.id, value };
  if (store!.last) Object.assign(reply, store!.last);
  if (call.method === 'claimJobs') reply.throttled = store!.throttledUntil();
  return reply;
}

async function reply(call: WriterCall): Promise<void> {
  try {
    self.postMessage(await answer(call));
  } catch (error) {
    const { message, code, details } = error instanceof DomainError ? error : { message: String((error as Error)?.message ?? error), code: undefined, details: undefined };
    self.postMessage({ id: call.id, error: { message, code, details } } satisfies WriterReply);
  }
}

// One call at a time, in the order sent (a transition here never awaits, but the order must not rest on that).
let turn = Promise.resolve();
self.onmessage = (event: MessageEvent<WriterCall>) => {
  turn = turn.then(() => reply(event.data));
};
