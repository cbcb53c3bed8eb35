// The SQLite WAL is checkpointed by a thread of its own once the job store commits often (64 commits within a
// second: src/db/checkpointer.ts): the writer's own checkpoint is then only a backstop, at 8,192 pages.
import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalCheckpointer } from '../src/db/checkpointer';
import { openSqlite } from '../src/db/client';
import type { NewQueuedJob } from '../src/jobs/store';
import { SqliteJobStore } from '../src/jobs/store/sqlite';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open() {
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-checkpointer-'));
  dirs.push(dir);
  const path = join(dir, 'jobs.sqlite');
  const database = openSqlite(path);
  database.sqlite.run(`INSERT INTO queues (name, concurrency, max_length, created_at) VALUES ('q', 1000, 1000000, 0)`);
  const store = new SqliteJobStore({ sqlite: database.sqlite, db: database.sqliteDb, idle: database.idle, walWritten: database.walWritten }, { now: () => Date.now() });
  return { path, database, store };
}

const queue = { name: 'q', maxLength: 1_000_000 } as NewQueuedJob['queue'];
const jobs = (n: number): NewQueuedJob[] =>
  Array.from({ length: n }, () => ({
    queue,
    job: { kind: 'DIAGNOSTIC', ownerId: null, maxAttempts: 1, priority: 0, timeoutMs: 60_000, runAt: null, idempotencyKey: null, schedule: null },
    inputJson: '{"behavior":"SUCCEED","durationMs":0}',
  })) as unknown as NewQueuedJob[];

const autocheckpoint = (database: ReturnType<typeof openSqlite>) => (database.sqlite.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

describe('the WAL checkpointer thread', () => {
  test('a store that writes little keeps SQLite’s own checkpoints; one that writes on has its WAL copied into the file by the thread', async () => {
    const { path, database, store } = open();
    await store.insertJobs(jobs(10));
    expect(autocheckpoint(database)).toBe(1000);
    // Small commits in quick succession until the thread starts (64 within a second; more if the machine is slow)...
    let inserted = 10;
    for (let i = 0; i < 2_000 && autocheckpoint(database) === 1000; i++, inserted += 10) await store.insertJobs(jobs(10));
    expect(autocheckpoint(database)).toBe(8192);
    const before = statSync(path).size;
    // ...then more, fewer WAL pages than the writer's backstop: only the thread copies them into the file.
    for (let i = 0; i < 50; i++, inserted += 100) await store.insertJobs(jobs(100));
    let grown = statSync(path).size;
    for (let waited = 0; grown <= before && waited < 10_000; waited += 20) {
      await Bun.sleep(20);
      grown = statSync(path).size;
    }
    expect(grown).toBeGreaterThan(before);
    // What was committed reads back whole.
    expect(database.sqlite.prepare('SELECT count(*) AS n FROM jobs').get()).toEqual({ n: inserted });
    // Closed (the thread's connection first), then opened again: every job is there.
    await database.close();
    const again = openSqlite(path);
    expect(again.sqlite.prepare('SELECT count(*) AS n FROM jobs').get()).toEqual({ n: inserted });
    await again.close();
  });

  test('a thread that cannot open the file leaves the checkpoints to the writer, as before it started', async () => {
    const { path, database } = open();
    const checkpointer = new WalCheckpointer(join(path, 'not-a-folder', 'jobs.sqlite'), database.sqlite);
    for (let i = 0; i < 64; i++) checkpointer.written();
    expect(autocheckpoint(database)).toBe(8192);
    for (let waited = 0; autocheckpoint(database) !== 1000 && waited < 10_000; waited += 20) await Bun.sleep(20);
    expect(autocheckpoint(database)).toBe(1000);
    await checkpointer.close();
    await database.close();
  });
});
