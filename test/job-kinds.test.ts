// Job kinds as their domains define them: one schema per input and result (the API's wording kept), results
// shown by their job's kind, and a list of calc results read with one query for their inputs.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer, gqlData } from './helpers/server';

let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);

async function finished(id: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { job } = await data('query($id: ID!) { job(id: $id) { status } }', { id });
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job.status as string;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job.status}`);
    await Bun.sleep(25);
  }
}

describe('job kinds', () => {
  test('a list of jobs of every kind: each result has its kind’s type, each calc result its own expressions', async () => {
    await data('mutation { createQueue(input: { name: "mixed" }) { name } }');
    const submit = async (mutation: string) => Object.values(await data(mutation))[0] as { id: string };
    const jobs = [
      await submit('mutation { submitCalcJob(input: { expressions: ["1 + 1", "2 * 3"], queue: "mixed" }) { id } }'),
      await submit('mutation { submitPiJob(input: { simulations: 1000, seed: 7, queue: "mixed" }) { id } }'),
      await submit('mutation { submitCalcJob(input: { text: "10 / 4\\n1 / 0", queue: "mixed" }) { id } }'),
      (await data('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED, queue: "mixed" }) { id } }')).submitDiagnosticJobs[0],
    ];
    for (const { id } of jobs) expect(await finished(id)).toBe('SUCCEEDED');

    const { jobs: page } = await data(`{ jobs(first: 10, queue: "mixed") { edges { node { id kind input result {
      __typename
      ... on CalcBatchResult { count results { expression value error } }
      ... on PiEstimate { simulations seed }
      ... on DiagnosticResult { behavior }
    } } } } }`);
    const byId = new Map(page.edges.map((edge: any) => [edge.node.id, edge.node]));
    expect(byId.get(jobs[0]!.id)).toMatchObject({
      kind: 'CALC',
      // Stored as its schema gave it: the lines of one text, and their count.
      input: { text: '1 + 1\n2 * 3', count: 2 },
      result: { __typename: 'CalcBatchResult', count: 2, results: [{ expression: '1 + 1', value: 2, error: null }, { expression: '2 * 3', value: 6, error: null }] },
    });
    expect(byId.get(jobs[1]!.id)).toMatchObject({ kind: 'PI', result: { __typename: 'PiEstimate', simulations: 1000, seed: 7 } });
    expect(byId.get(jobs[2]!.id)).toMatchObject({
      kind: 'CALC',
      result: { count: 2, results: [{ expression: '10 / 4', value: 2.5, error: null }, { expression: '1 / 0', value: null, error: 'division by zero at column 3' }] },
    });
    expect(byId.get(jobs[3]!.id)).toMatchObject({ kind: 'DIAGNOSTIC', result: { __typename: 'DiagnosticResult', behavior: 'SUCCEED' } });
  });

  test('inputs are refused with the messages their schema sets, before anything is stored', async () => {
    const before = (await data('{ jobCounts { total } }')).jobCounts.total;
    const cases: [string, string, string][] = [
      ['submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: -1 })', 'invalid field durationMs: an integer from 0 to 600000', 'durationMs'],
      ['submitPiJob(input: { simulations: 1000, seed: -1 })', 'invalid field seed: an integer from 0 to 4294967295', 'seed'],
      ['submitForecastJob(input: { assets: [1, 2], dateRange: { from: "2026-05-02", to: "2026-05-01" } })', 'invalid field dateRange: 2026-05-01 is before 2026-05-02', 'dateRange'],
      ['submitPiJob(input: { simulations: 1000, timeoutSeconds: 0 })', 'timeoutSeconds must be an integer from 1 to 3600', 'timeoutSeconds'],
    ];
    for (const [call, message, field] of cases) {
      const result = await server.gql(`mutation { ${call} { id } }`, {}, admin);
      expect(result.errors?.[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT', field } });
    }
    expect((await data('{ jobCounts { total } }')).jobCounts.total).toBe(before);
  });

  test('completeJob checks a hand-made result against its kind’s result schema and names the wrong field', async () => {
    await data('mutation { createQueue(input: { name: "hand" }) { name } }');
    await data('mutation { pauseQueue(name: "hand") { paused } }');
    await data('mutation { submitForecastJob(input: { assets: [4, 5], seed: 1, queue: "hand" }) { id } }');
    const { id } = (await data('mutation { pullJob(queue: "hand") { id } }')).pullJob;
    const complete = (result: unknown) => server.gql('mutation($id: ID!, $r: JSON!) { completeJob(id: $id, result: $r) { status } }', { id, r: result }, admin);
    const forecast = { asset: 4, value: 1, weight: 0.5, intercept: 0, slope: 0, standardError: 1 };
    const good = { seed: 1, dateRange: { from: '2026-01-01', to: '2026-01-11' }, forecasts: [forecast, { ...forecast, asset: 5 }] };
    expect((await complete([good])).errors?.[0]).toMatchObject({ message: 'result must be a JSON object', extensions: { code: 'BAD_USER_INPUT' } });
    const badWeight = { ...good, forecasts: [forecast, { ...forecast, asset: 5, weight: 2 }] };
    expect((await complete(badWeight)).errors?.[0]).toMatchObject({
      message: 'result field "forecasts" is missing or of the wrong type',
      extensions: { code: 'BAD_USER_INPUT', field: 'forecasts' },
    });
    expect((await complete({ ...good, seed: undefined })).errors?.[0]?.message).toBe('result field "seed" is missing or of the wrong type');
    expect((await complete(good)).data?.completeJob).toEqual({ status: 'SUCCEEDED' });
  });
});
