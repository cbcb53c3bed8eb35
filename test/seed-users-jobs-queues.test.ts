import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './helpers/server';

/*
 * Seed 004 (shared/specs/users-jobs-queues.md), driven the way its client drove the source services, each REST call
 * translated to the GraphQL operation that replaces it: an admin logs in and creates the staff; a user submits
 * forecasting jobs (assets 1..100, the default date range) and reads them back; a manager pushes jobs to a queue
 * (at most 8, as the source's config.ini), pulls the oldest one by hand and hands in its result, runs the queue's
 * financial calculations, notes a job's status; the secretary reads it all and changes nothing; an admin deletes a
 * queue with its jobs; the server restarts and everything is still there (the source lost it all).
 */
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-seed004-'));
const env = { DATABASE_PATH: join(dir, 'jobgraph.db') };
let server: TestServer;
const tokens: Record<'admin' | 'manager' | 'user' | 'secretary', string> = { admin: '', manager: '', user: '', secretary: '' };
const ids: { user?: string; forecasts: string[]; pushed: string[] } = { forecasts: [], pushed: [] };

beforeAll(async () => {
  server = await startTestServer(env);
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(token: string, query: string, variables: Record<string, unknown> = {}) {
  const result = await server.gql(query, variables, token || undefined);
  if (result.errors) throw new Error(`${query}: ${JSON.stringify(result.errors)}`);
  return result.data!;
}

const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10);

describe('seed 004: users, jobs, queues and forecasting, as its client used them', () => {
  test('login (the first admin from ADMIN_PASSWORD); the admin creates a manager, a user and a secretary; passwords are never shown', async () => {
    tokens.admin = (await call('', 'mutation($p: String!) { login(username: "admin", password: $p) { token user { role } } }', { p: ADMIN_PASSWORD })).login.token;
    for (const [name, role] of [['mona', 'MANAGER'], ['ulla', 'USER'], ['sam', 'SECRETARY']] as const) {
      const created = await call(tokens.admin, 'mutation($u: String!, $p: String!, $r: Role!) { createUser(input: { username: $u, password: $p, role: $r }) { id role } }', {
        u: name,
        p: `${name}-password`,
        r: role,
      });
      expect(created.createUser.role).toBe(role);
      if (role === 'USER') ids.user = created.createUser.id;
    }
    tokens.manager = await server.login('mona', 'mona-password');
    tokens.user = await server.login('ulla', 'ulla-password');
    tokens.secretary = await server.login('sam', 'sam-password');
    // No field of a user holds a password, for anyone (the admin included).
    const userFields = await call(tokens.admin, '{ __type(name: "User") { fields { name } } }');
    expect(userFields.__type.fields.map((field: any) => field.name).filter((name: string) => /pass/i.test(name))).toEqual([]);
    // A wrong password is the source's answer.
    const wrong = await server.gql('mutation { login(username: "ulla", password: "not-her-password") { token } }', {});
    expect(wrong.errors?.[0]).toMatchObject({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
  });

  test('a user submits forecasting jobs (assets, default date range today → +10 days), reads one, lists them, reads the result', async () => {
    const submittedAt = Date.now();
    for (const [assets, seed] of [[[1, 2, 3], 4], [[100], 5], [[10, 20], 6]] as const) {
      const job = await call(tokens.user, 'mutation($a: [Int!]!, $s: Int) { submitForecastJob(input: { assets: $a, seed: $s }) { id kind status owner { username } } }', { a: assets, s: seed });
      expect(job.submitForecastJob).toMatchObject({ kind: 'FORECAST', owner: { username: 'ulla' } });
      ids.forecasts.push(job.submitForecastJob.id);
    }
    const bad = await server.gql('mutation { submitForecastJob(input: { assets: [0, 101] }) { id } }', {}, tokens.user);
    expect(bad.errors?.[0]).toMatchObject({ message: 'invalid field assets: 0 is not an integer from 1 to 100', extensions: { code: 'BAD_USER_INPUT' } });

    let job: any;
    for (let i = 0; i < 250 && job?.status !== 'SUCCEEDED'; i++) {
      if (i) await Bun.sleep(20);
      job = (await call(tokens.user, 'query($id: ID!) { job(id: $id) { status input result { ... on Forecast { dateRange { from to } meanForecast forecasts { asset weight } } } } }', { id: ids.forecasts[0] })).job;
    }
    expect(job.status).toBe('SUCCEEDED');
    const today = Date.parse(`${isoDay(submittedAt)}T00:00:00Z`);
    expect(job.input.dateRange).toEqual({ from: isoDay(today), to: isoDay(today + 10 * 86_400_000) });
    expect(job.result.dateRange).toEqual(job.input.dateRange);
    expect(job.result.forecasts.map((forecast: any) => forecast.asset)).toEqual([1, 2, 3]);
    for (const { weight } of job.result.forecasts) expect(weight >= 0 && weight <= 1).toBe(true);
    expect(typeof job.result.meanForecast).toBe('number');

    // List: filtered by kind, owner and queue, paged.
    const page = await call(tokens.user, 'query($owner: ID) { jobs(kind: FORECAST, owner: $owner, queue: "default", first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } }', { owner: ids.user });
    expect(page.jobs.edges.map((edge: any) => edge.node.id)).toEqual([ids.forecasts[2], ids.forecasts[1]]);
    expect(page.jobs.pageInfo.hasNextPage).toBe(true);
    const rest = await call(tokens.user, 'query($after: String) { jobs(kind: FORECAST, first: 2, after: $after) { edges { node { id } } } }', { after: page.jobs.pageInfo.endCursor });
    expect(rest.jobs.edges.map((edge: any) => edge.node.id)).toEqual([ids.forecasts[0]]);
  });

  test('a manager pushes to a queue capped at 8 like the source (a 9th is refused), pulls the oldest by hand, completes it; an empty pull is null', async () => {
    const created = await call(tokens.admin, 'mutation { createQueue(input: { name: "financials", maxLength: 8 }) { name maxLength } }');
    expect(created.createQueue).toEqual({ name: 'financials', maxLength: 8 });
    await call(tokens.manager, 'mutation { pauseQueue(name: "financials") { paused } }');
    for (let i = 0; i < 8; i++) {
      const pushed = await call(tokens.manager, 'mutation($a: [Int!]!) { submitForecastJob(input: { assets: $a, seed: 1, queue: "financials" }) { id status } }', { a: [i + 1] });
      ids.pushed.push(pushed.submitForecastJob.id);
    }
    const ninth = await server.gql('mutation { submitForecastJob(input: { assets: [9], queue: "financials" }) { id } }', {}, tokens.manager);
    expect(ninth.errors?.[0]).toMatchObject({ message: 'queue "financials" is full: 8 jobs waiting, at most 8', extensions: { code: 'CONFLICT' } });

    const pulled = (await call(tokens.manager, 'mutation { pullJob(queue: "financials") { id status input } }')).pullJob;
    expect(pulled).toMatchObject({ id: ids.pushed[0], status: 'RUNNING', input: { assets: [1] } });
    const result = { seed: 1, dateRange: pulled.input.dateRange, forecasts: [{ asset: 1, value: 0.1, weight: 0.6, intercept: 0, slope: 0, standardError: 1 }] };
    const completed = await call(tokens.manager, 'mutation($id: ID!, $r: JSON!) { completeJob(id: $id, result: $r) { status result { ... on Forecast { meanForecast } } } }', { id: pulled.id, r: result });
    expect(completed.completeJob).toEqual({ status: 'SUCCEEDED', result: { meanForecast: 0.1 } });

    await call(tokens.admin, 'mutation { createQueue(input: { name: "empty" }) { name } }');
    expect((await call(tokens.manager, 'mutation { pullJob(queue: "empty") { id } }')).pullJob).toBeNull();
  });

  test("the manager notes a job's status (the source's PUT), then runs the queue's financial calculations: all results at once, each with its mean", async () => {
    const noted = await call(tokens.manager, 'mutation($id: ID!) { addJobNote(id: $id, note: "processing") { status events { type payload } } }', { id: ids.pushed[1] });
    expect(noted.addJobNote.status).toBe('QUEUED');
    expect(noted.addJobNote.events.at(-1)).toEqual({ type: 'note', payload: { note: 'processing', by: expect.any(Number), username: 'mona' } });

    const run = (await call(tokens.manager, 'mutation { runQueueForecasts(queue: "financials") { remaining jobs { id status result { ... on Forecast { meanForecast forecasts { asset value weight } } } } } }')).runQueueForecasts;
    expect(run.remaining).toBe(0);
    expect(run.jobs.map((job: any) => job.id)).toEqual(ids.pushed.slice(1));
    for (const [i, job] of run.jobs.entries()) {
      expect(job.status).toBe('SUCCEEDED');
      expect(job.result.forecasts.map((forecast: any) => forecast.asset)).toEqual([i + 2]);
      expect(job.result.meanForecast).toBe(job.result.forecasts[0].value);
    }
  });

  test('the secretary reads every job, queue and result, and changes nothing', async () => {
    const seen = await call(tokens.secretary, 'query($id: ID!) { job(id: $id) { owner { username } result { ... on Forecast { meanForecast } } } queues { name } jobCounts { succeeded } }', { id: ids.forecasts[0] });
    expect(seen.job.owner.username).toBe('ulla');
    expect(seen.queues.map((queue: any) => queue.name)).toEqual(['default', 'financials', 'empty']);
    expect(seen.jobCounts.succeeded).toBeGreaterThanOrEqual(11);
    for (const query of ['mutation { pullJob(queue: "financials") { id } }', `mutation { deleteJob(id: "${ids.forecasts[0]}") }`, 'mutation { submitForecastJob(input: { assets: [1] }) { id } }']) {
      expect((await server.gql(query, {}, tokens.secretary)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  test('a user deletes their job; an admin deletes a queue with its jobs; the default queue stays', async () => {
    expect((await call(tokens.user, 'mutation($id: ID!) { deleteJob(id: $id) }', { id: ids.forecasts[2] })).deleteJob).toBe(true);
    expect((await call(tokens.user, 'query($id: ID!) { job(id: $id) { id } }', { id: ids.forecasts[2] })).job).toBeNull();
    expect((await call(tokens.admin, 'mutation { deleteQueue(name: "financials") }')).deleteQueue).toBe(true);
    expect((await call(tokens.admin, 'query($id: ID!) { job(id: $id) { id } }', { id: ids.pushed[0] })).job).toBeNull();
    expect((await call(tokens.admin, '{ queues { name } }')).queues.map((queue: any) => queue.name)).toEqual(['default', 'empty']);
    const kept = await server.gql('mutation { deleteQueue(name: "default") }', {}, tokens.admin);
    expect(kept.errors?.[0]).toMatchObject({ message: 'the default queue cannot be deleted', extensions: { code: 'CONFLICT' } });
  });

  test('logout revokes the token; after a restart, users, jobs and queues are all still there (the source lost them)', async () => {
    expect((await call(tokens.user, 'mutation { logout }')).logout).toBe(true);
    expect((await server.gql('{ me { id } }', {}, tokens.user)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const before = await call(tokens.admin, '{ users { totalCount } jobs(first: 100) { edges { node { id status } } } queues { name maxLength } }');
    await server.stop();
    server = await startTestServer(env);
    const admin = await server.login('admin', ADMIN_PASSWORD);
    expect(await call(admin, '{ users { totalCount } jobs(first: 100) { edges { node { id status } } } queues { name maxLength } }')).toEqual(before);
    expect(await server.login('ulla', 'ulla-password')).toBeString();
  });
});
