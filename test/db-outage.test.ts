// A database outage is not a bug: while PostgreSQL restarts (or SQLite's file is locked by another writer) a caller
// gets UNAVAILABLE with retryAfterSeconds (REST: 503 in the route's shape), /ready says "not ready", and every job
// that was acknowledged exists exactly once afterwards.
import { Database } from 'bun:sqlite';
import { describe, expect, test } from 'bun:test';
import { findPostgresBin, startPostgres } from '../scripts/lib/local-servers';
import { optionalTool } from './helpers/required';
import { ADMIN_PASSWORD, createTestDatabase, onSqlite, startTestServer, TEST_DATABASE_URL, type TestServer, until } from './helpers/server';

const SUBMIT = 'mutation($seed: Float!) { submitPiJob(input: { simulations: 1000, seed: $seed }) { id } }';
const readyStatus = async (server: TestServer) => (await fetch(server.url.replace('/graphql', '/ready'))).status;

type Answer = { kind: 'job'; id: string; seed: number } | { kind: 'unavailable'; retryAfterSeconds: unknown } | { kind: 'other'; detail: string };

/** Submits jobs from `workers` loops until `stop()`; each answer is classified. */
function submissions(server: TestServer, token: string, workers = 8) {
  const answers: Answer[] = [];
  let running = true;
  let seed = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const mine = ++seed;
      try {
        const result = await server.gql(SUBMIT, { seed: mine }, token);
        const error = result.errors?.[0];
        if (result.data?.submitPiJob) answers.push({ kind: 'job', id: result.data.submitPiJob.id, seed: mine });
        else if (error?.extensions?.code === 'UNAVAILABLE') answers.push({ kind: 'unavailable', retryAfterSeconds: error.extensions.retryAfterSeconds });
        else answers.push({ kind: 'other', detail: `${result.status} ${JSON.stringify(result.errors ?? result.data)}` });
      } catch (error) {
        answers.push({ kind: 'other', detail: String(error) });
      }
    }
  });
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const pgBin = TEST_DATABASE_URL ? optionalTool(findPostgresBin(), 'PostgreSQL (initdb, pg_ctl)') : undefined;

describe.skipIf(!pgBin)('PostgreSQL restarting under a stream of submissions', () => {
  test('every answer is a job or UNAVAILABLE; /ready says so meanwhile; every acknowledged job exists exactly once', async () => {
    // A cluster of this test's own: stopping it must not disturb the other tests' server.
    const pg = await startPostgres(pgBin);
    const database = await createTestDatabase(pg.url);
    const server = await startTestServer({ DATABASE_URL: database.url });
    try {
      const token = await server.adminToken();
      const load = submissions(server, token);
      await until(() => load.answers.filter((a) => a.kind === 'job').length >= 50, 'submissions before the restart', 30_000);
      await pg.halt();
      // Down for a while under load, not for one request.
      await until(() => load.answers.filter((a) => a.kind === 'unavailable').length >= 100, 'UNAVAILABLE answers while PostgreSQL is down', 60_000);
      expect(await readyStatus(server)).toBe(503);
      // The REST route answers in its own shape: {error}, 503, Retry-After.
      const rest = await fetch(server.url.replace('/graphql', '/pi'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // Credentials in the body: checked as a login, which reads the database.
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD, simulations: 1000, concurrency: 1 }),
      });
      expect(rest.status).toBe(503);
      expect(await rest.json()).toEqual({ error: 'the database cannot be reached right now; try again shortly' });
      expect(rest.headers.get('retry-after')).toBe('2');
      await pg.resume();
      const afterRestart = load.answers.length;
      await until(() => load.answers.slice(afterRestart).filter((a) => a.kind === 'job').length >= 50, 'submissions after the restart', 60_000);
      await load.stop();
      await until(async () => (await readyStatus(server)) === 200, '/ready once PostgreSQL is back', 30_000);

      const jobs = load.answers.filter((a) => a.kind === 'job');
      const unavailable = load.answers.filter((a) => a.kind === 'unavailable');
      const other = load.answers.filter((a) => a.kind === 'other');
      console.log(`PostgreSQL restart under load: ${load.answers.length} answers: ${jobs.length} jobs, ${unavailable.length} UNAVAILABLE, ${other.length} other`);
      expect(other).toEqual([]);
      expect(unavailable.every((a) => a.retryAfterSeconds === 2)).toBe(true);

      const rows = await server.sql<{ id: number; seed: number }>("SELECT id, CAST(json_extract_path_text(CAST(input AS json), 'seed') AS INTEGER) AS seed FROM jobs JOIN job_inputs ON job_inputs.job_id = jobs.id");
      const byId = new Map(rows.map((row) => [String(row.id), Number(row.seed)]));
      // Each acknowledged job is there, with the input it was submitted with, once (ids are unique; seeds too).
      for (const job of jobs) expect(byId.get(job.id)).toBe(job.seed);
      const seeds = rows.map((row) => Number(row.seed));
      expect(new Set(seeds).size).toBe(seeds.length);
      // A submission answered UNAVAILABLE may have committed before its answer was lost, never twice.
      expect(rows.length).toBeLessThanOrEqual(jobs.length + unavailable.length);
    } finally {
      await server.stop();
      await database.drop().catch(() => {});
      await pg.stop();
    }
  }, 180_000);
});

describe.skipIf(!onSqlite)('SQLite locked by another writer', () => {
  test('a submission that waits past busy_timeout gets UNAVAILABLE; once the lock is gone it goes through', async () => {
    const server = await startTestServer();
    const other = new Database(server.databasePath);
    try {
      const token = await server.adminToken();
      // The server waits for the lock 300 ms here instead of its 5 s (the wait blocks its whole process, this test's
      // too): the same SQLITE_BUSY once the wait is over.
      const { database } = server.running.app;
      if (database.dialect !== 'sqlite') throw new Error('this test runs on SQLite');
      database.sqlite.run('PRAGMA busy_timeout = 300');
      other.run('BEGIN IMMEDIATE');
      const refused = await server.gql(SUBMIT, { seed: 1 }, token);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 2 });
      other.run('ROLLBACK');
      const accepted = await server.gql(SUBMIT, { seed: 2 }, token);
      expect(accepted.data?.submitPiJob.id).toBeString();
    } finally {
      other.close();
      await server.stop();
    }
  }, 60_000);
});
