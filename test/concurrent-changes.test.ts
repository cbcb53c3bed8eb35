// Changes that check something and then act on it, made at the same time (the services went async: between a
// check and its write other calls now run; on PostgreSQL other instances do too). The calls go to the services
// directly, together, so that they do interleave.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { createTestDatabase, onSqlite, TEST_DATABASE_URL, TEST_PASSWORD_HASH_COST } from './helpers/server';

let dir: string;
let app: App;
let pg: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jobgraph-concurrent-'));
  // On PostgreSQL (TEST_DATABASE_URL) a database of its own; else a SQLite file.
  pg = TEST_DATABASE_URL ? await createTestDatabase() : undefined;
  const database = pg ? { DATABASE_URL: pg.url } : { DATABASE_PATH: join(dir, 'jobgraph.db') };
  const config = loadConfig({ ...database, WORKERS: '1', QUOTE_SERVER: '127.0.0.1:9' });
  app = await createApp(config, createLogger({ level: 'silent' }), { passwordHashCost: TEST_PASSWORD_HASH_COST });
  await app.users.bootstrapAdmin('admin', 'first-admin-password');
});
afterAll(async () => {
  await app.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'done',
    (error: { code?: string }) => error.code ?? String(error),
  );

describe('the last active admin', () => {
  test('two admins demoted and deleted at once: one of them stays', async () => {
    const first = (await app.users.listUsers()).find((user) => user.username === 'admin')!;
    const second = await app.users.createUser({ username: 'second-admin', password: 'second-admin-password', role: 'ADMIN' });
    const results = await Promise.all([outcome(app.users.updateUser(first.id, { role: 'USER' })), outcome(app.users.deleteUser(second.id))]);
    expect(results.sort()).toEqual(['CONFLICT', 'done']);
  });
});

describe('queues', () => {
  test('two updates of one queue at once each keep what the other changed', async () => {
    await app.queues.create({ name: 'both-changes', concurrency: 2, maxLength: 10 });
    await Promise.all([app.queues.update('both-changes', { paused: true }), app.queues.update('both-changes', { maxLength: 20 })]);
    await app.queues.reload();
    expect(app.queues.get('both-changes')).toMatchObject({ paused: true, maxLength: 20, concurrency: 2 });
  });
});

// One backend's mechanism each: `bun run test` runs this file on SQLite and again on PostgreSQL, so both run (CI requires both).
describe.skipIf(!onSqlite)('SQLite: a job submitted while another transaction is open', () => {
  test('is not part of it: that transaction rolling back keeps the job, and its queue counts it', async () => {
    await app.queues.create({ name: 'beside-a-rollback' });
    await app.queues.update('beside-a-rollback', { paused: true });
    const actor = { id: (await app.users.listUsers())[0]!.id, role: 'ADMIN' as const };
    let begun!: () => void;
    let finish!: () => void;
    const open = new Promise<void>((resolve) => (begun = resolve));
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    // Another service's transaction, between two of its statements (a relay cache write, say), that then fails.
    const failing = app.database.transaction(async () => {
      begun();
      await finishing;
      throw new Error('this transaction fails');
    });
    await open;
    const submitted = app.jobs.submit(actor, 'PI', { simulations: 1000 }, { queue: 'beside-a-rollback' });
    finish();
    await expect(failing).rejects.toThrow('this transaction fails');
    const job = await submitted;
    const stored = { sqlite: 'SELECT count(*) AS n FROM jobs WHERE id = $id', postgres: 'SELECT count(*) AS n FROM jobs WHERE id = $id' };
    expect(Number((await app.database.first<{ n: number | string }>(stored, { id: job.id }))!.n)).toBe(1);
    expect(await app.jobs.waitingCount('beside-a-rollback')).toBe(1);
  });
});

describe.skipIf(onSqlite)('PostgreSQL: a queue changed by another instance', () => {
  test("a submission holds to the queue's maxLength as stored, not as this instance last read it", async () => {
    await app.queues.create({ name: 'limited-elsewhere', maxLength: 100 });
    // Another instance lowers the limit; this one has not heard of it yet.
    if (app.database.dialect !== 'postgres') throw new Error('PostgreSQL only');
    await app.database.sql`UPDATE queues SET max_length = 1 WHERE name = 'limited-elsewhere'`;
    const actor = { id: (await app.users.listUsers())[0]!.id, role: 'ADMIN' as const };
    const submitted = app.jobs.submitMany(actor, 'PI', [{ simulations: 1000 }, { simulations: 1000 }], { queue: 'limited-elsewhere' });
    expect(await outcome(submitted)).toBe('CONFLICT');
  });
});
