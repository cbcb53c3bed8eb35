// Seed 001 (shared/specs/analytics.md): jobgraph driven exactly as the source statistics server's client drove it —
// `POST //api/<statistic>` without a token (ANONYMOUS_ACCESS=analytics), polling `get_results`, `jobs` and
// `num_jobs`, comparing floats within 0.01 and ignoring key order — and its graceful_shutdown, after which the
// server keeps serving the results.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANALYTICS_FIXTURE, logWhen, startTestServer, type TestServer, until } from './helpers/server';

const LOW = 'Percent of adults aged 18 years and older who have obesity';
const HIGH = 'Percent of adults who engage in muscle-strengthening activities on 2 or more days a week';

/** The source client's comparison: the same keys (any order), floats within 0.01, nested objects alike. */
function expectClose(actual: unknown, expected: unknown, where = 'data'): void {
  if (typeof expected === 'number') {
    expect({ where, close: typeof actual === 'number' && Math.abs(actual - expected) < 0.01 }).toEqual({ where, close: true });
    return;
  }
  expect(typeof actual).toBe('object');
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  expect({ where, keys: Object.keys(a).sort() }).toEqual({ where, keys: Object.keys(e).sort() });
  for (const key of Object.keys(e)) expectClose(a[key], e[key], `${where}.${key}`);
}

// What the nine routes answer on the fixture (test/fixtures/analytics.csv; computed by hand in analytics.test.ts).
const EXPECTED: [route: string, body: Record<string, string>, data: Record<string, unknown>][] = [
  ['states_mean', { question: LOW }, { California: 10, Colorado: 20, Alaska: 22, Arizona: 22, National: 28, Alabama: 32, Arkansas: 45 }],
  ['best5', { question: LOW }, { California: 10, Colorado: 20, Alaska: 22, Arizona: 22, National: 28 }],
  ['state_mean', { question: LOW, state: 'Alaska' }, { Alaska: 22 }],
  ['global_mean', { question: LOW }, { global_mean: 343 / 12 }],
  ['global_mean', { question: HIGH }, { global_mean: 212 / 7 }],
  ['state_mean_by_category', { question: HIGH, state: 'Alaska' }, { Alaska: { "('Age (years)', '18 - 24')": 34, "('Total', 'Total')": 30 } }],
];

describe('seed 001: the statistics server’s REST client, anonymous', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-seed-001-'));
  const logFile = join(dir, 'server.log');
  beforeAll(async () => {
    server = await startTestServer({ ANONYMOUS_ACCESS: 'analytics', LOG_LEVEL: 'info', LOG_FILE: logFile, SHUTDOWN_TIMEOUT_SECONDS: '5' });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The source's URLs, as its README wrote them: `http://host:port//api/…`. */
  const base = () => server.url.replace('/graphql', '/');
  const api = async (path: string, body?: unknown, token?: string) => {
    const response = await fetch(`${base()}/api/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  /** The client's loop: poll get_results until it is no longer running. */
  const settled = async (id: number, token?: string) => {
    let answer: any;
    await until(async () => (answer = (await api(`get_results/${id}`, undefined, token)).body).status !== 'running', `job ${id}`);
    return answer;
  };

  test('every computation: POST → job_id, get_results → done with the source’s JSON; jobs and num_jobs', async () => {
    const ids: number[] = [];
    for (const [route, body, data] of EXPECTED) {
      const posted = await api(route, body);
      expect({ route, status: posted.status, keys: Object.keys(posted.body) }).toEqual({ route, status: 200, keys: ['job_id'] });
      ids.push(posted.body.job_id);
      const result = await settled(posted.body.job_id);
      expect({ route, status: result.status }).toEqual({ route, status: 'done' });
      expectClose(result.data, data, route);
    }
    const worst = await settled((await api('worst5', { question: LOW })).body.job_id);
    expect(Object.keys(worst.data)).toEqual(['Arkansas', 'Alabama', 'National', 'Alaska', 'Arizona']);
    const diff = await settled((await api('diff_from_mean', { question: LOW })).body.job_id);
    expectClose(diff.data.California, 343 / 12 - 10);
    const stateDiff = await settled((await api('state_diff_from_mean', { question: LOW, state: 'California' })).body.job_id);
    expectClose(stateDiff.data, { California: 343 / 12 - 10 });
    const byCategory = await settled((await api('mean_by_category', { question: LOW })).body.job_id);
    expect(Object.keys(byCategory.data)).toContain("('Alaska', 'Income', '$75,000 or greater')");

    const jobs = await api('jobs');
    expect(jobs.status).toBe(200);
    expect(jobs.body.status).toBe('done');
    for (const id of ids) expect(jobs.body.data).toContainEqual({ [id]: 'done' });
    expect(await api('num_jobs')).toEqual({ status: 200, body: 0 });
    expect(await api('get_results/999999')).toEqual({ status: 200, body: { status: 'error', reason: 'Invalid job_id' } });
    // An anonymous computation is a read: no job is stored, none is shown.
    const admin = await server.adminToken();
    const stored = await server.gql<{ jobCounts: { total: number } }>('{ jobCounts { total } }', {}, admin);
    expect(stored.data?.jobCounts.total).toBe(0);
  });

  test('refusals in the source’s shape; every /api request is logged (method, route, status, job id, duration, address)', async () => {
    const unknown = await api('states_mean', { question: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ status: 'error' });
    expect(unknown.body.reason).toStartWith('unknown question "nope"');
    expect((await api('state_mean', { question: LOW })).status).toBe(400);
    expect((await api('nothing')).status).toBe(404);
    const posted = await api('global_mean', { question: LOW });
    const { lines } = await logWhen(logFile, (all) => all.some((line) => line.msg === 'api request' && line.jobId === posted.body.job_id));
    expect(lines.find((line) => line.msg === 'api request' && line.jobId === posted.body.job_id)).toMatchObject({
      method: 'POST',
      route: '/api/global_mean',
      status: 200,
      address: '127.0.0.1',
    });
    expect(lines.find((line) => line.msg === 'api request' && line.route === '/api/states_mean' && line.status === 400)?.durationMs).toBeGreaterThanOrEqual(0);
    expect(lines.find((line) => line.msg === 'rejected input' && line.route === '/api/states_mean')).toMatchObject({ address: '127.0.0.1', status: 400 });
  });

  test('graceful_shutdown: new computations refused, queued ones finish, `running` then `done`, and the results stay readable', async () => {
    // Nobody anonymous may stop the intake.
    expect(await api('graceful_shutdown')).toEqual({ status: 401, body: { status: 'error', reason: 'user info error' } });
    const admin = await server.adminToken();
    const user = await server.userWithRole('USER');
    const durable = (await api('best5', { question: LOW }, user.token)).body.job_id;
    const anonymous = (await api('best5', { question: LOW })).body.job_id;
    // A job that takes a while keeps the drain `running`.
    const slow = await server.gql('mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 400 }, count: 1) { id } }', {}, admin);
    expect(slow.errors).toBeUndefined();
    expect(await api('graceful_shutdown', undefined, admin)).toEqual({ status: 200, body: { status: 'running' } });
    expect(await api('best5', { question: LOW })).toEqual({ status: 200, body: { status: 'error', reason: 'shutting down' } });
    expect(await api('best5', { question: LOW }, user.token)).toEqual({ status: 200, body: { status: 'error', reason: 'shutting down' } });
    let last: any;
    await until(async () => (last = (await api('graceful_shutdown', undefined, admin)).body).status === 'done', 'the drain', 60_000);
    expect(last).toEqual({ status: 'done' });
    // The process keeps serving the reads.
    expect((await settled(durable, user.token)).status).toBe('done');
    expect((await settled(anonymous)).data).toMatchObject({ California: 10 });
    expect((await api('jobs', undefined, user.token)).body.data).toContainEqual({ [durable]: 'done' });
    expect(await api('num_jobs', undefined, user.token)).toEqual({ status: 200, body: 0 });
    expect((await fetch(server.url.replace('/graphql', '/health'))).status).toBe(200);
  }, 90_000);
});

describe('graceful_shutdown on a shared store', () => {
  // The process stays up and keeps running what is queued, on PostgreSQL too, where a draining instance used to
  // claim nothing more: jobs not yet claimed when graceful_shutdown came (on a loaded machine, any) waited forever
  // and the drain answered `running` for good. A queue of concurrency 1 keeps all but one job unclaimed here.
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  test('jobs still queued when the intake stops run one after another; then `done`', async () => {
    const admin = await server.adminToken();
    const gql = async (query: string) => {
      const result = await server.gql(query, {}, admin);
      expect(result.errors).toBeUndefined();
      return result.data as any;
    };
    await gql('mutation { createQueue(input: { name: "one-at-a-time", concurrency: 1 }) { name } }');
    const { submitDiagnosticJobs: jobs } = await gql(
      'mutation { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 300, queue: "one-at-a-time" }, count: 3) { id status } }',
    );
    const status = async (id: string) => (await gql(`{ job(id: "${id}") { status } }`)).job.status as string;
    await until(async () => (await status(jobs[0].id)) === 'RUNNING', 'the first job to start');
    expect(await status(jobs[2].id)).toBe('QUEUED');
    const shutdown = async () =>
      (await fetch(server.url.replace('/graphql', '/api/graceful_shutdown'), { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.json())) as { status: string };
    expect(await shutdown()).toEqual({ status: 'running' });
    await until(async () => (await shutdown()).status === 'done', 'the queued jobs to run');
    for (const { id } of jobs) expect(await status(id)).toBe('SUCCEEDED');
  });
});
