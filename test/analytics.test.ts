import { afterAll, beforeAll, describe, expect, spyOn, test } from 'bun:test';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnalyticsService } from '../src/analytics/service';
import { AnalyticsIndex, compareCodePoints, pythonRepr, pythonTuple, type YearRange } from '../src/compute/analytics';
import { BUNDLED_ANALYTICS_CSV } from '../src/config';
import { openSqlite } from '../src/db/client';
import { createLogger } from '../src/logger';
import { ANALYTICS_FIXTURE, onSqlite, startTestServer, subscribe, type TestServer } from './helpers/server';
import { SERVER_COMMAND } from './helpers/server-bundle';

const FIXTURE = ANALYTICS_FIXTURE;
const LOW = 'Percent of adults aged 18 years and older who have obesity';
const HIGH = 'Percent of adults who engage in muscle-strengthening activities on 2 or more days a week';

const pairs = (list: { state: string; value: number }[]) => list.map(({ state, value }) => [state, Number(value.toFixed(6))]);

describe('analytics on a hand-made fixture (values computed by hand)', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ ANALYTICS_CSV: FIXTURE });
    token = (await server.userWithRole('USER')).token;
  });
  afterAll(() => server.stop());

  const ask = async (field: string, args: Record<string, unknown> = {}) => {
    const declared = Object.entries(args).map(([name, value]) => `$${name}: ${typeof value === 'number' ? 'Int' : 'String!'}`);
    const passed = Object.keys(args).map((name) => `${name}: $${name}`);
    const result = await server.gql(
      `query${declared.length ? `(${declared.join(', ')})` : ''} { analytics { ${field}${passed.length ? `(${passed.join(', ')})` : ''} ${
        ['globalMean', 'states'].includes(field) ? '' : field.includes('Category') ? '{ state category segment value }' : field === 'questions' ? '{ text direction }' : '{ state value rows }'
      } } }`,
      args,
      token,
    );
    return result;
  };
  const data = async (field: string, args: Record<string, unknown> = {}) => {
    const result = await ask(field, args);
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    return result.data!.analytics[field];
  };

  test('ingest: BOM, unnamed index column, trailing-space header, quoted commas; bad values skipped and counted', async () => {
    const result = await server.gql('{ analytics { dataset { rowsRead rowsKept rowsSkipped sha256 } } }', {}, token);
    expect(result.data!.analytics.dataset).toMatchObject({ rowsRead: 21, rowsKept: 19, rowsSkipped: 2 });
    expect(await data('states')).toEqual(['Alabama', 'Alaska', 'Arizona', 'Arkansas', 'California', 'Colorado', 'National']);
    expect(await data('questions')).toEqual([
      { text: LOW, direction: 'LOWER_IS_BETTER' },
      { text: HIGH, direction: 'HIGHER_IS_BETTER' },
    ]);
  });

  test('statesMean ascending, ties by name; stateMean; globalMean over every row, National included', async () => {
    expect(pairs(await data('statesMean', { question: LOW }))).toEqual([
      ['California', 10], ['Colorado', 20], ['Alaska', 22], ['Arizona', 22], ['National', 28], ['Alabama', 32], ['Arkansas', 45],
    ]);
    expect(await data('stateMean', { question: LOW, state: 'Arkansas' })).toEqual({ state: 'Arkansas', value: 45, rows: 3 });
    expect(await data('globalMean', { question: LOW })).toBeCloseTo(343 / 12, 12);
    expect(await data('globalMean', { question: HIGH })).toBeCloseTo(212 / 7, 12);
  });

  test('best5 and worst5 follow each question’s direction', async () => {
    expect(pairs(await data('best5', { question: LOW }))).toEqual([['California', 10], ['Colorado', 20], ['Alaska', 22], ['Arizona', 22], ['National', 28]]);
    expect(pairs(await data('worst5', { question: LOW }))).toEqual([['Arkansas', 45], ['Alabama', 32], ['National', 28], ['Alaska', 22], ['Arizona', 22]]);
    expect(pairs(await data('best5', { question: HIGH }))).toEqual([['Colorado', 40], ['California', 35], ['Alaska', 32], ['National', 28], ['Arkansas', 25]]);
    expect(pairs(await data('worst5', { question: HIGH }))).toEqual([['Alabama', 20], ['Arkansas', 25], ['National', 28], ['Alaska', 32], ['California', 35]]);
  });

  test('differences from the mean are global − state, in statesMean order', async () => {
    const global = 343 / 12;
    expect(pairs(await data('diffFromMean', { question: LOW }))).toEqual(
      ([['California', 10], ['Colorado', 20], ['Alaska', 22], ['Arizona', 22], ['National', 28], ['Alabama', 32], ['Arkansas', 45]] as const).map(([s, v]) => [
        s,
        Number((global - v).toFixed(6)),
      ]),
    );
    expect((await data('stateDiffFromMean', { question: LOW, state: 'Alabama' })).value).toBeCloseTo(global - 32, 12);
  });

  test('means by category: empty stratifications left out, Total/Total kept, the source’s tuple-string order', async () => {
    expect((await data('meanByCategory', { question: LOW })).map((g: any) => [g.state, g.category, g.segment, g.value])).toEqual([
      ['Alabama', 'Gender', 'Female', 34],
      ['Alabama', 'Total', 'Total', 30],
      ['Alaska', 'Income', '$75,000 or greater', 24],
      ['Alaska', 'Total', 'Total', 20],
      ['Arizona', 'Total', 'Total', 22],
      ['Arkansas', 'Gender', 'Male', 47.5],
      ['Arkansas', 'Total', 'Total', 40],
      ['California', 'Total', 'Total', 10],
      ['Colorado', 'Total', 'Total', 26],
      ['National', 'Total', 'Total', 28],
    ]);
    expect((await data('stateMeanByCategory', { question: HIGH, state: 'Alaska' })).map((g: any) => [g.category, g.segment, g.value])).toEqual([
      ['Age (years)', '18 - 24', 34],
      ['Total', 'Total', 30],
    ]);
    expect(pythonTuple('Alabama', 'Age (years)', '18 - 24')).toBe("('Alabama', 'Age (years)', '18 - 24')");
    expect(pythonRepr("Bachelor's")).toBe(`"Bachelor's"`);
    expect(pythonRepr(`it's "x"`)).toBe(`'it\\'s "x"'`);
  });

  test("names sort by code point, as Python's sorted() does, and repr() escapes what Python's does", () => {
    const names = ['b', 'a\u{1F600}', 'a\uFFFD', 'a', 'ab', 'A', 'a\uE000', '\u00e9'];
    // Python: sorted(['b', 'a😀', 'a\ufffd', 'a', 'ab', 'A', 'a\ue000', 'é'])
    expect(names.toSorted(compareCodePoints)).toEqual(['A', 'a', 'ab', 'a\uE000', 'a\uFFFD', 'a\u{1F600}', 'b', '\u00e9']);
    expect(pythonRepr('plain')).toBe("'plain'");
    expect(pythonRepr('tab\there\\')).toBe("'tab\\there\\\\'");
    expect(pythonRepr('\x01\x7f')).toBe("'\\x01\\x7f'");
  });

  test('year filters keep rows whose YearStart is in range', async () => {
    expect(pairs(await data('statesMean', { question: LOW, yearFrom: 2021 }))).toEqual([['Alaska', 24], ['Alabama', 34], ['Arkansas', 47.5]]);
    expect(await data('globalMean', { question: LOW, yearFrom: 2021, yearTo: 2021 })).toBe(38.25);
    expect(pairs(await data('statesMean', { question: LOW, yearTo: 2018 }))).toEqual([['Colorado', 14]]);
    const backwards = await ask('globalMean', { question: LOW, yearFrom: 2022, yearTo: 2020 });
    expect(backwards.errors?.[0]).toMatchObject({ message: 'invalid year range: 2022 is after 2020', extensions: { code: 'BAD_USER_INPUT' } });
  });

  test('unknown questions and states are named, with the closest known one; a state missing for a question is an error', async () => {
    const question = await ask('statesMean', { question: 'Percent of adults who have obesity' });
    expect(question.errors?.[0]).toMatchObject({
      message: `unknown question "Percent of adults who have obesity"; did you mean "${LOW}"?`,
      extensions: { code: 'BAD_USER_INPUT', suggestion: LOW },
    });
    const state = await ask('stateMean', { question: LOW, state: 'Alabma' });
    expect(state.errors?.[0]).toMatchObject({ message: 'unknown state "Alabma"; did you mean "Alabama"?', extensions: { code: 'BAD_USER_INPUT' } });
    const missing = await ask('stateMean', { question: HIGH, state: 'Arizona' });
    expect(missing.errors?.[0]).toMatchObject({ message: `no data for "Arizona" on "${HIGH}"`, extensions: { code: 'BAD_USER_INPUT' } });
    const anonymous = await server.gql('{ analytics { states } }');
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('cached answers are served only to live tokens: not after logout, never to anonymous or WebSocket callers', async () => {
    const { token: own } = await server.userWithRole('USER');
    const query = `{ analytics { best5(question: "${LOW}") { state value } } }`;
    const first = await server.gql(query, {}, own);
    const second = await server.gql(query, {}, own);
    expect(second.data).toEqual(first.data);
    expect((await server.gql(query)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Over WebSocket the answer is computed (and checked) every time.
    const overWs = subscribe(server.wsClient(own), query);
    expect((await overWs.waitFor(1))[0]!.data).toEqual(first.data!);
    expect((await server.gql('mutation { logout }', {}, own)).data).toEqual({ logout: true });
    const revoked = await server.gql(query, {}, own);
    expect(revoked.errors?.[0]).toMatchObject({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
    expect(revoked.data ?? null).toBeNull();
  });

  test('a first answer is computed once per session, then served from the cache (POST, GET, through fragments)', async () => {
    const { token: own } = await server.userWithRole('USER');
    const { token: other } = await server.userWithRole('USER');
    const analytics = server.running.app.analytics;
    const original = analytics.globalMean.bind(analytics);
    let computed = 0;
    analytics.globalMean = (...args) => (computed++, original(...args));
    try {
      const plain = `query($q: String!) { analytics { globalMean(question: $q) } }`;
      for (let i = 0; i < 3; i++) expect((await server.gql(plain, { q: LOW }, own)).data!.analytics.globalMean).toBeCloseTo(343 / 12, 12);
      expect(computed).toBe(1);
      await server.gql(plain, { q: LOW }, other);
      await server.gql(plain, { q: HIGH }, own);
      expect(computed).toBe(3);
      const viaFragment = `query Q($q: String!) { ...F } fragment F on Query { analytics { globalMean(question: $q) } }`;
      await server.gql(viaFragment, { q: LOW }, own);
      await server.gql(viaFragment, { q: LOW }, own);
      expect(computed).toBe(4);
      // GET requests go through Yoga (no pre-parsed body): the plugin answers the second from the cache.
      const get = () =>
        fetch(`${server.url}?query=${encodeURIComponent(`{ analytics { globalMean(question: "${LOW}") } }`)}`, {
          headers: { authorization: `Bearer ${own}`, 'graphql-preflight': '1' },
        }).then((response) => response.json() as Promise<{ data: { analytics: { globalMean: number } } }>);
      expect((await get()).data.analytics.globalMean).toBe((await get()).data.analytics.globalMean);
      expect(computed).toBe(5);
      // Mixed with an uncached root field, even through a fragment: computed every time.
      const mixed = `query($q: String!) { ...F jobCounts { total } } fragment F on Query { analytics { globalMean(question: $q) } }`;
      await server.gql(mixed, { q: LOW }, own);
      await server.gql(mixed, { q: LOW }, own);
      expect(computed).toBe(7);
    } finally {
      analytics.globalMean = original;
    }
  });

  test('a query that mixes analytics with anything else is never served from the cache', async () => {
    const query = '{ analytics { states } jobCounts { total } }';
    const before = (await server.gql(query, {}, token)).data!.jobCounts.total;
    await server.gql('mutation { submitAnalyticsJob(input: { query: GLOBAL_MEAN, question: "' + LOW + '" }) { id } }', {}, token);
    expect((await server.gql(query, {}, token)).data!.jobCounts.total).toBe(before + 1);
  });

  test('submitAnalyticsJob: the source’s result shapes, stored, and pushed on completion', async () => {
    const client = server.wsClient(token);
    const listening = server.nextSubscriptions('jobCompleted');
    const completed = subscribe(client, 'subscription { jobCompleted(kind: ANALYTICS) { id status result { ... on AnalyticsResult { query question state data } } } }');
    await listening;
    const submit = (input: Record<string, unknown>) =>
      server.gql('mutation($input: AnalyticsJobInput!) { submitAnalyticsJob(input: $input) { id status } }', { input }, token);
    const jobs = [
      await submit({ query: 'BEST5', question: LOW }),
      await submit({ query: 'GLOBAL_MEAN', question: HIGH }),
      await submit({ query: 'STATE_MEAN_BY_CATEGORY', question: HIGH, state: 'Alaska' }),
      await submit({ query: 'MEAN_BY_CATEGORY', question: LOW }),
      await submit({ query: 'STATE_MEAN', question: LOW, state: 'California' }),
    ];
    for (const job of jobs) expect(job.errors).toBeUndefined();
    // A job of the previous test may complete after this subscription started (on a slower database): waited past.
    const ids = jobs.map((job) => job.data!.submitAnalyticsJob.id);
    let events = await completed.waitFor(5, 10_000);
    while (!ids.every((id) => events.some((e) => e.data?.jobCompleted.id === id))) events = await completed.waitFor(events.length + 1, 10_000);
    completed.unsubscribe();
    const byId = new Map(events.map((e) => [e.data!.jobCompleted.id, e.data!.jobCompleted]));
    const result = (i: number) => byId.get(jobs[i]!.data!.submitAnalyticsJob.id)!.result;
    expect(result(0).data).toEqual({ California: 10, Colorado: 20, Alaska: 22, Arizona: 22, National: 28 });
    expect(Object.keys(result(0).data)).toEqual(['California', 'Colorado', 'Alaska', 'Arizona', 'National']);
    expect(result(1).data.global_mean).toBeCloseTo(212 / 7, 12);
    expect(result(2)).toMatchObject({ query: 'STATE_MEAN_BY_CATEGORY', state: 'Alaska', data: { Alaska: { "('Age (years)', '18 - 24')": 34, "('Total', 'Total')": 30 } } });
    expect(Object.keys(result(3).data)[2]).toBe("('Alaska', 'Income', '$75,000 or greater')");
    expect(result(4).data).toEqual({ California: 10 });
    // Refused before anything is stored.
    const bad = await submit({ query: 'STATE_MEAN', question: LOW, state: 'Atlantis' });
    expect(bad.errors?.[0]?.message).toStartWith('unknown state "Atlantis"');
    const noState = await submit({ query: 'STATE_MEAN', question: LOW });
    expect(noState.errors?.[0]?.message).toBe('missing field state');
    await client.dispose();
  });
});

describe('the source’s REST interface (/api/…)', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ ANALYTICS_CSV: FIXTURE, SHUTDOWN_TIMEOUT_SECONDS: '5' });
    token = (await server.userWithRole('USER')).token;
  });
  afterAll(() => server.stop());

  const api = (path: string, body?: unknown, auth = token) =>
    fetch(server.url.replace('/graphql', path), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  test('POST a statistic → job_id; get_results → running, then done with the source’s JSON; jobs and num_jobs', async () => {
    const posted = await api('/api/state_mean_by_category', { question: HIGH, state: 'Alaska' });
    expect(posted.status).toBe(200);
    const { job_id } = (await posted.json()) as { job_id: number };
    expect(Number.isInteger(job_id)).toBe(true);
    /** get_results once the job is no longer running. */
    const settled = async (id: number) => {
      let result: any;
      for (let i = 0; i < 100; i++) {
        result = await (await api(`/api/get_results/${id}`)).json();
        if (result.status !== 'running') break;
        await Bun.sleep(20);
      }
      return result;
    };
    expect(await settled(job_id)).toEqual({ status: 'done', data: { Alaska: { "('Age (years)', '18 - 24')": 34, "('Total', 'Total')": 30 } } });
    const best = (await (await api('/api/best5', { question: LOW })).json()) as { job_id: number };
    expect(await settled(best.job_id)).toEqual({
      status: 'done',
      data: { California: 10, Colorado: 20, Alaska: 22, Arizona: 22, National: 28 },
    });
    const jobs = (await (await api('/api/jobs')).json()) as { status: string; data: Record<string, string>[] };
    expect(jobs.status).toBe('done');
    expect(jobs.data).toEqual([{ [job_id]: 'done' }, { [best.job_id]: 'done' }]);
    expect(await (await api('/api/num_jobs')).json()).toBe(0);
  });

  test('bad input, unknown ids and missing tokens get the source’s error shape', async () => {
    expect(await (await api('/api/get_results/999999')).json()).toEqual({ status: 'error', reason: 'Invalid job_id' });
    const bad = await api('/api/states_mean', { question: 'nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).reason).toStartWith('unknown question "nope"');
    expect((await api('/api/state_mean', { question: LOW })).status).toBe(400);
    const anonymous = await api('/api/jobs', undefined, '');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ status: 'error', reason: 'user info error' });
    expect((await api('/api/graceful_shutdown')).status).toBe(403);
    expect((await api('/api/nothing')).status).toBe(404);
  });

  test('graceful_shutdown (admin): new computations answer "shutting down"', async () => {
    const admin = await server.adminToken();
    const answer = (await (await api('/api/graceful_shutdown', undefined, admin)).json()) as { status: string };
    expect(['running', 'done']).toContain(answer.status);
    const after = await api('/api/best5', { question: LOW }, admin).catch(() => null);
    // Either the drain is still on (the source's answer) or the server has already stopped.
    if (after) expect(await after.json()).toEqual({ status: 'error', reason: 'shutting down' });
  });
});

describe('the ingest', () => {
  test('loads on first start, reuses the database while the file is unchanged, re-ingests when it changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-analytics-'));
    try {
      const csv = join(dir, 'data.csv');
      copyFileSync(FIXTURE, csv);
      const database = openSqlite(join(dir, 'db.sqlite'));
      const log = createLogger({ level: 'silent' });
      const first = await new AnalyticsService(database, log, csv).load();
      const again = await new AnalyticsService(database, log, csv).load();
      expect(again.loadedAt).toEqual(first.loadedAt);
      expect(again.sha256).toBe(first.sha256);
      await Bun.write(csv, (await Bun.file(csv).text()) + '21,2020,2020,Guam,' + LOW + ',5,1.0,Total,Total\r\n');
      const service = new AnalyticsService(database, log, csv);
      const changed = await service.load();
      expect(changed.sha256).not.toBe(first.sha256);
      expect(changed.rowsKept).toBe(first.rowsKept + 1);
      expect(service.stateMean(LOW, 'Guam')).toEqual({ state: 'Guam', value: 5, rows: 1 });
      // gzip works the same.
      const gz = join(dir, 'data.csv.gz');
      await Bun.write(gz, Bun.gzipSync(new Uint8Array(await Bun.file(FIXTURE).arrayBuffer())));
      expect((await new AnalyticsService(openSqlite(join(dir, 'other.sqlite')), log, gz).load()).rowsKept).toBe(19);
      database.sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the index snapshot', () => {
  const GLOBAL_MEAN = `query($q: String!) { analytics { globalMean(question: $q) stateMean(question: $q, state: "Arkansas") { value rows } dataset { rowsKept } } }`;
  const snapshotOf = async (server: TestServer) => (await server.sql<{ index_snapshot: string | null }>('SELECT index_snapshot FROM analytics_datasets'))[0]!.index_snapshot;

  test('an index with a sum past the largest double is not stored (JSON has no Infinity); a finite one reads back equal', () => {
    const row = (value: number) => ({ question: LOW, state: 'Guam', category: 'Total', segment: 'Total', yearStart: 2020, value });
    expect(new AnalyticsIndex([row(1e308), row(1e308)]).toSnapshot()).toBeNull();
    const finite = new AnalyticsIndex([row(0.1), row(0.2), { ...row(0.3), yearStart: null }]);
    const read = AnalyticsIndex.fromSnapshot(finite.toSnapshot()!, 3);
    expect([read.globalMean(LOW), read.statesMean(LOW, { from: 2020 }), read.stateNames]).toEqual([finite.globalMean(LOW), finite.statesMean(LOW, { from: 2020 }), ['Guam']]);
    expect(() => AnalyticsIndex.fromSnapshot(finite.toSnapshot()!, 4)).toThrow('counts 3 rows, the dataset 4');
  });

  test('a restart reads the index from the snapshot its ingest stored; one missing or unreadable is built from the rows again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-snapshot-'));
    // SQLite: each start on the file the last one left (one server at a time holds it). PostgreSQL: each start on the
    // first server's database, beside it.
    const first = await startTestServer({ ANALYTICS_CSV: FIXTURE, ...(onSqlite ? { DATABASE_PATH: join(dir, 'db.sqlite') } : {}) });
    const servers = [first];
    const restart = async () => {
      if (onSqlite) await servers.pop()!.stop();
      const next = await startTestServer({ ANALYTICS_CSV: FIXTURE, ...(onSqlite ? { DATABASE_PATH: join(dir, 'db.sqlite') } : { DATABASE_URL: first.databaseUrl! }) });
      servers.push(next);
      return next;
    };
    const answers = async (server: TestServer) => {
      const result = await server.gql(GLOBAL_MEAN, { q: LOW }, await server.adminToken());
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      return result.data!.analytics;
    };
    try {
      const expected = await answers(first);
      expect(expected).toMatchObject({ stateMean: { value: 45, rows: 3 }, dataset: { rowsKept: 19 } });
      const stored = JSON.parse((await snapshotOf(first))!);
      expect(stored.format).toBe(1);

      // Read, not rebuilt: a sum changed in the snapshot is what the next start answers.
      const low = stored.questions.find(([question]: [string]) => question === LOW);
      const [, count] = low[1];
      low[1][0] = 42 * count;
      await first.sql('UPDATE analytics_datasets SET index_snapshot = $1', JSON.stringify(stored));
      expect(await answers(await restart())).toEqual({ ...expected, globalMean: 42 });

      // None stored (a database an older version ingested), one of another format, one cut short, one with a tally
      // missing its years, one that does not count the dataset's rows: each built from the rows, and a snapshot of
      // this format stored for the next start.
      const whole = JSON.stringify(stored);
      const fewer = JSON.parse(whole);
      fewer.questions.pop();
      const broken = JSON.parse(whole);
      broken.questions[0][1][2] = null;
      for (const left of [null, JSON.stringify({ format: 0 }), whole.slice(0, whole.length / 2), JSON.stringify(broken), JSON.stringify(fewer)]) {
        await first.sql('UPDATE analytics_datasets SET index_snapshot = $1', left);
        const next = await restart();
        expect(await answers(next)).toEqual(expected);
        expect(JSON.parse((await snapshotOf(next))!).format).toBe(1);
      }
      expect(await answers(await restart())).toEqual(expected);
    } finally {
      for (const server of servers.reverse()) await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a bad ANALYTICS_CSV', () => {
  test('stops the start-up with a message that names the file (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-analytics-'));
    try {
      const notCsv = join(dir, 'not.csv');
      require('node:fs').writeFileSync(notCsv, 'a,b\n1,2\n');
      const cases = [
        [join(dir, 'missing.csv'), `the analytics CSV ${join(dir, 'missing.csv')} does not exist (ANALYTICS_CSV)`],
        [notCsv, `cannot read the analytics CSV ${notCsv}: the analytics CSV lacks the column(s) Question, LocationDesc`],
      ] as const;
      // Both at once, each on its own database.
      const runs = cases.map(([path], i) =>
        Bun.spawn(SERVER_COMMAND, {
          cwd: new URL('..', import.meta.url).pathname,
          env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, `db${i}.sqlite`), ADMIN_PASSWORD: 'admin-password-for-tests', ANALYTICS_CSV: path, LOG_LEVEL: 'silent' },
          stdout: 'ignore',
          stderr: 'pipe',
        }),
      );
      for (const [i, run] of runs.entries()) {
        expect(await run.exited).toBe(2);
        expect(await new Response(run.stderr).text()).toContain(cases[i]![1]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('analytics on the real CDC file', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ ANALYTICS_CSV: BUNDLED_ANALYTICS_CSV });
    token = (await server.userWithRole('USER')).token;
  });
  afterAll(() => server.stop());

  test('row counts, the 55 locations, the nine questions, and the invariants', async () => {
    const result = await server.gql('{ analytics { dataset { rowsRead rowsKept rowsSkipped ingestMs } states questions { text direction } } }', {}, token);
    const { dataset, states, questions } = result.data!.analytics;
    expect(dataset).toMatchObject({ rowsRead: 88_629, rowsKept: 79_851, rowsSkipped: 8_778 });
    expect(states.length).toBe(55);
    expect(states).toContain('National');
    expect(states).toContain('Virgin Islands');
    expect(questions.length).toBe(9);
    for (const { text, direction } of questions) {
      const q = await server.gql(
        'query($q: String!) { analytics { statesMean(question: $q) { state value rows } best5(question: $q) { state value } worst5(question: $q) { state value } globalMean(question: $q) diffFromMean(question: $q) { state value rows } } }',
        { q: text },
        token,
      );
      const { statesMean, best5, worst5, globalMean, diffFromMean } = q.data!.analytics;
      const names = new Set(statesMean.map((s: { state: string }) => s.state));
      for (const s of [...best5, ...worst5]) expect(names.has(s.state)).toBe(true);
      const ascending = statesMean.slice(0, 5).map((s: { state: string }) => s.state);
      const descending = [...statesMean].reverse().slice(0, 5).map((s: { state: string }) => s.state);
      expect(best5.map((s: { state: string }) => s.state)).toEqual(direction === 'LOWER_IS_BETTER' ? ascending : descending);
      expect(worst5.map((s: { state: string }) => s.state)).toEqual(direction === 'LOWER_IS_BETTER' ? descending : ascending);
      // Σ rows·(global − mean) = N·global − Σ values = 0: the diffs agree with the global mean weighted by rows.
      const weighted = diffFromMean.reduce((sum: number, d: { value: number; rows: number }) => sum + d.rows * d.value, 0);
      const totalRows = diffFromMean.reduce((sum: number, d: { rows: number }) => sum + d.rows, 0);
      expect(Math.abs(weighted / totalRows)).toBeLessThan(1e-9);
      expect(globalMean).toBeGreaterThan(0);
    }
  });

  test('spot checks through GraphQL, exact to the bit, with and without year ranges', async () => {
    const result = await server.gql(
      `query($q: String!) { analytics {
        all: globalMean(question: $q) span: globalMean(question: $q, yearFrom: 2015, yearTo: 2018)
        ohio: stateMean(question: $q, state: "Ohio", yearFrom: 2019) { value rows }
        groups: meanByCategory(question: $q, yearFrom: 2013, yearTo: 2016) { state category segment value }
        texas: stateMeanByCategory(question: $q, state: "Texas", yearTo: 2014) { category segment value } } }`,
      { q: LOW },
      token,
    );
    const { all, span, ohio, groups, texas } = result.data!.analytics;
    expect([all, span]).toEqual([30.45898635998923, 30.551775632853726]);
    expect(ohio).toEqual({ value: 35.96875, rows: 80 });
    expect(groups.length).toBe(1422);
    expect(groups.slice(0, 2)).toEqual([
      { state: 'Alabama', category: 'Age (years)', segment: '18 - 24', value: 21.775 },
      { state: 'Alabama', category: 'Age (years)', segment: '25 - 34', value: 32.7 },
    ]);
    expect(texas.at(-1)).toEqual({ category: 'Total', segment: 'Total', value: 30.6 });
  });
});

/**
 * Every answer of the nine statistics over the real file, hashed: the non-state statistics for every question and
 * year range (none, from only, to only, each from ≤ to in 2011–2021; meanByCategory over a dozen of them), the
 * state statistics for every state over three ranges. The digest was taken from the implementation before the
 * index kept its per-year tallies in arrays: an answer that moves by one bit, its order or an error message
 * changes it.
 */
const REAL_FILE_ANSWERS = { answers: 9252, sha256: 'c629c25a3402441c77c0dbf3c60d73d46aac4476909a36d5ba34a88fc006d211' };

function digestOfEveryAnswer(analytics: AnalyticsService): { answers: number; sha256: string } {
  type Years = YearRange | undefined;
  const statistics: [string, (question: string, state: string, years: Years) => unknown][] = [
    ['statesMean', (q, _s, y) => analytics.statesMean(q, y)],
    ['best5', (q, _s, y) => analytics.best5(q, y)],
    ['worst5', (q, _s, y) => analytics.worst5(q, y)],
    ['globalMean', (q, _s, y) => analytics.globalMean(q, y)],
    ['diffFromMean', (q, _s, y) => analytics.diffFromMean(q, y)],
    ['meanByCategory', (q, _s, y) => analytics.meanByCategory(q, y)],
    ['stateMean', (q, s, y) => analytics.stateMean(q, s, y)],
    ['stateDiffFromMean', (q, s, y) => analytics.stateDiffFromMean(q, s, y)],
    ['stateMeanByCategory', (q, s, y) => analytics.stateMeanByCategory(q, s, y)],
  ];
  const everyRange: Years[] = [undefined];
  for (let from = 2011; from <= 2021; from++) {
    everyRange.push({ from }, { to: from });
    for (let to = from; to <= 2021; to++) everyRange.push({ from, to });
  }
  const someRanges: Years[] = [undefined, { from: 2015, to: 2018 }, { from: 2019 }];
  const hasher = new Bun.CryptoHasher('sha256');
  let answers = 0;
  for (const { text: question } of analytics.questions()) {
    for (const [name, answer] of statistics) {
      const perState = name.startsWith('state');
      const ranges = perState ? someRanges : name === 'meanByCategory' ? everyRange.filter((_, i) => i % 8 === 0) : everyRange;
      for (const years of ranges) {
        for (const state of perState ? analytics.states() : ['']) {
          let text: string;
          try {
            text = JSON.stringify(answer(question, state, years));
          } catch (error) {
            text = `error: ${(error as Error).message}`;
          }
          hasher.update(`${name}|${question}|${state}|${years?.from}|${years?.to}|${text}\n`);
          answers++;
        }
      }
    }
  }
  return { answers, sha256: hasher.digest('hex') };
}

describe('every answer over the real CDC file, bit for bit', () => {
  test('the digest of every statistic × question × state × year range is unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-analytics-'));
    const database = openSqlite(join(dir, 'db.sqlite'));
    try {
      const analytics = new AnalyticsService(database, createLogger({ level: 'silent' }), BUNDLED_ANALYTICS_CSV);
      await analytics.load();
      expect(digestOfEveryAnswer(analytics)).toEqual(REAL_FILE_ANSWERS);
      // A later start reads the index from the snapshot the ingest stored (not from the rows): every answer the same,
      // to the bit.
      const fromSnapshot = spyOn(AnalyticsIndex, 'fromSnapshot');
      const fromBatches = spyOn(AnalyticsIndex, 'fromBatches');
      try {
        const restarted = new AnalyticsService(database, createLogger({ level: 'silent' }), BUNDLED_ANALYTICS_CSV);
        await restarted.load();
        expect(fromSnapshot).toHaveBeenCalledTimes(1);
        expect(fromBatches).not.toHaveBeenCalled();
        expect(digestOfEveryAnswer(restarted)).toEqual(REAL_FILE_ANSWERS);
      } finally {
        fromSnapshot.mockRestore();
        fromBatches.mockRestore();
      }
    } finally {
      database.sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
