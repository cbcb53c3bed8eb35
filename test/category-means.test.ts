// meanByCategory and stateMeanByCategory answered as JSON text written from the index (src/graphql/category-means.ts):
// through the real endpoint, every answer's bytes equal those of GraphQL execution for the same ask (the same document with `@include(if: true)` on the list, which the plugin leaves to
// execution), over a dataset with names JSON must escape and means with long decimals; the cache, WebSocket,
// anonymous callers and hostile variables change nobody's answer.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plugin } from 'graphql-yoga';
import { startTestServer, type TestServer } from './helpers/server';

const QUESTIONS = ['Percent of adults aged 18 years and older who have obesity', 'A question with "quotes", a \\ backslash and ünïcödé ✓'];
const STATES = ['Alabama', 'Côte "d\'Ivoire"', 'Tab\there', 'Back\\slash', 'Emoji 🦆', 'National'];
const CATEGORIES: [string, string[]][] = [
  ['Total', ['Total']],
  ['Age (years)', ['18 - 24', '25 - 34', '65 or older']],
  ['Income', ['$75,000 or greater', 'Less than $15,000', 'Data not reported']],
  ['Race/Ethnicity', ['Hispanic', '2 or more races', 'Other']],
];

/** A CSV of every question × state × category × segment × year 2011–2021 (some cells missing), values with long decimals. */
function datasetCsv(): string {
  const quote = (cell: string | number) => `"${String(cell).replaceAll('"', '""')}"`;
  const lines = ['YearStart,YearEnd,LocationDesc,Question,Data_Value,StratificationCategory1,Stratification1'];
  let seed = 7;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const question of QUESTIONS) {
    for (const state of STATES) {
      for (const [category, segments] of CATEGORIES) {
        for (const segment of segments) {
          for (let year = 2011; year <= 2021; year++) {
            // Some groups only have some years, so a year range leaves them out.
            if (next() < 0.2) continue;
            lines.push([year, year, state, question, (next() * 60 + 5).toFixed(3), category, segment].map(quote).join(','));
          }
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

const RANGES: { yearFrom?: number | null; yearTo?: number | null }[] = [{}, { yearFrom: 2011, yearTo: 2021 }, { yearFrom: 2015, yearTo: 2018 }, { yearFrom: 2019 }, { yearTo: 2012 }, { yearFrom: null, yearTo: 2016 }];
const SELECTIONS = ['{ state category segment value }', '{ value segment }', '{ v: value s: state c: category g: segment }', '{ category }'];

/** Executions that reached the plugins after ours (graphql's executor): a written answer never does. */
let executions = 0;
const probe: Plugin = {
  onExecute() {
    executions++;
  },
};

let server: TestServer;
let dir: string;
let token: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jobgraph-category-means-'));
  const csv = join(dir, 'dataset.csv');
  writeFileSync(csv, datasetCsv());
  server = await startTestServer({ ANALYTICS_CSV: csv, ANONYMOUS_ACCESS: 'analytics' }, { probes: [probe] });
  token = (await server.userWithRole('USER')).token;
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The raw answer: status and body text. */
async function post(body: unknown, as: string | undefined = token, headers: Record<string, string> = {}) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(as ? { authorization: `Bearer ${as}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

/** A document asking `field` (aliased when `alias`), and the same with a directive that leaves it to execution. */
function documents(field: string, selection: string, alias = '') {
  const stateful = field === 'stateMeanByCategory';
  const head = `query($q: String!${stateful ? ', $s: String!' : ''}, $from: Int, $to: Int) { analytics { ${alias ? `${alias}: ` : ''}${field}(question: $q${stateful ? ', state: $s' : ''}, yearFrom: $from, yearTo: $to)`;
  return { direct: `${head} ${selection} } }`, executed: `${head} @include(if: true) ${selection} } }` };
}

describe('the JSON written from the index is the bytes execution answers', () => {
  test('meanByCategory: every question × year range × selection (aliases, any order, a subset)', async () => {
    let compared = 0;
    for (const selection of SELECTIONS) {
      const { direct, executed } = documents('meanByCategory', selection);
      for (const question of QUESTIONS) {
        for (const { yearFrom, yearTo } of RANGES) {
          const variables = { q: question, from: yearFrom, to: yearTo };
          const before = executions;
          const written = await post({ query: direct, variables });
          expect(executions).toBe(before);
          const interpreted = await post({ query: executed, variables });
          expect(executions).toBe(before + 1);
          expect(written.status).toBe(200);
          expect(written.text).toBe(interpreted.text);
          expect(JSON.parse(written.text).data.analytics.meanByCategory.length).toBeGreaterThan(0);
          // Asked again (the response cache's copy) and as another session: the same bytes.
          expect((await post({ query: direct, variables })).text).toBe(interpreted.text);
          compared++;
        }
      }
    }
    expect(compared).toBe(SELECTIONS.length * QUESTIONS.length * RANGES.length);
  });

  test('stateMeanByCategory: every state (names JSON escapes) × year range, and two lists in one query', async () => {
    const { direct, executed } = documents('stateMeanByCategory', '{ segment category value state }', 'groups');
    for (const state of STATES) {
      for (const { yearFrom, yearTo } of RANGES) {
        const variables = { q: QUESTIONS[1], s: state, from: yearFrom, to: yearTo };
        const written = await post({ query: direct, variables });
        expect(written.text).toBe((await post({ query: executed, variables })).text);
        expect(written.text).toContain(JSON.stringify(state));
      }
    }
    const both = 'query($q: String!, $s: String!) { a: analytics { one: stateMeanByCategory(question: $q, state: $s) { value } all: meanByCategory(question: $q, yearTo: 2015) { state value } } }';
    const bothExecuted = both.replace('{ value }', '@include(if: true) { value }');
    const variables = { q: QUESTIONS[0], s: STATES[1] };
    expect((await post({ query: both, variables })).text).toBe((await post({ query: bothExecuted, variables })).text);
  });

  test('errors are execution’s: unknown question or state, a bad range, a missing or mistyped variable', async () => {
    const asks: [string, Record<string, unknown>][] = [
      ['meanByCategory', { q: 'no such question', from: null, to: null }],
      ['meanByCategory', { q: QUESTIONS[0], from: 2019, to: 2012 }],
      ['meanByCategory', { q: QUESTIONS[0], from: 1800 }],
      ['meanByCategory', { q: QUESTIONS[0], from: 'soon' }],
      ['meanByCategory', {}],
      ['stateMeanByCategory', { q: QUESTIONS[0], s: 'Atlantis' }],
    ];
    for (const [field, variables] of asks) {
      const { direct, executed } = documents(field, '{ state value }');
      const [written, interpreted] = [await post({ query: direct, variables }), await post({ query: executed, variables })];
      // Execution answers both, compiled or interpreted: their key order differs (compared parsed), and so do the words
      // of a variable that does not coerce (compared by code; those errors have no path).
      expect(written.status).toBe(interpreted.status);
      const [mine, theirs] = [JSON.parse(written.text), JSON.parse(interpreted.text)];
      const resolverErrors = (body: { errors: { path?: unknown }[] }) => body.errors.filter((error) => error.path);
      expect(resolverErrors(mine)).toEqual(resolverErrors(theirs));
      expect(mine.errors.map((error: { extensions: { code: string } }) => error.extensions.code)).toEqual(theirs.errors.map((error: { extensions: { code: string } }) => error.extensions.code));
      expect(mine.errors.length).toBeGreaterThan(0);
    }
  });

  test('a range without rows is an empty list, as execution writes it', async () => {
    for (const field of ['meanByCategory', 'stateMeanByCategory']) {
      const { direct, executed } = documents(field, '{ state value }');
      const variables = { q: QUESTIONS[0], s: 'Alabama', from: 2030 };
      const written = await post({ query: direct, variables });
      expect(written.text).toBe((await post({ query: executed, variables })).text);
      expect(written.text).toContain(':[]');
    }
  });

  test('anonymous callers are execution’s to judge: allowed here (ANONYMOUS_ACCESS=analytics), and the same bytes', async () => {
    const { direct } = documents('meanByCategory', '{ state segment value }');
    const variables = { q: QUESTIONS[0], from: 2014 };
    const anonymous = await post({ query: direct, variables }, undefined);
    expect(anonymous.status).toBe(200);
    expect(anonymous.text).toBe((await post({ query: direct, variables })).text);
  });

  test('over WebSocket and through Yoga’s own HTTP handling (another Accept), the same answer', async () => {
    const { direct } = documents('meanByCategory', '{ state category segment value }');
    const variables = { q: QUESTIONS[1], from: 2013, to: 2020 };
    const expected = (await post({ query: direct, variables })).text;
    const viaYoga = await post({ query: direct, variables }, token, { accept: 'application/graphql-response+json, application/json;q=0.9' });
    expect(viaYoga.text).toBe(expected);
    const client = server.wsClient(token);
    try {
      const result = await new Promise((resolve, reject) => {
        let value: unknown;
        client.subscribe({ query: direct, variables }, { next: (next) => (value = next), error: reject, complete: () => resolve(value) });
      });
      expect(JSON.stringify(result)).toBe(expected);
    } finally {
      await client.dispose();
    }
  });

  test('nothing one caller sends changes another’s answer: hostile variables and documents in between', async () => {
    const { direct } = documents('meanByCategory', '{ state value }');
    const variables = { q: QUESTIONS[0], from: 2012, to: 2019 };
    const baseline = (await post({ query: direct, variables })).text;
    const other = (await server.userWithRole('USER')).token;
    const hostile: [unknown, string | undefined][] = [
      [{ query: direct, variables: { q: { toJSON: 1 }, from: '2012' } }, undefined],
      [{ query: direct, variables: { q: QUESTIONS[1], from: 2012, to: 2019 } }, other],
      [{ query: direct, variables: { q: 'x'.repeat(5000) } }, other],
      [{ query: `${direct} query Other { me { id } }`, variables, operationName: 'Other' }, other],
      [{ query: direct.replace('{ state value }', '{ state value __typename }'), variables }, undefined],
    ];
    for (const [body, as] of hostile) {
      await post(body, as);
      expect((await post({ query: direct, variables })).text).toBe(baseline);
      expect((await post({ query: direct, variables }, other)).text).toBe(baseline);
    }
  });
});
