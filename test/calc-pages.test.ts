// A calc result is paged: one `results` page holds at most 5,000 lines, so no single request builds and sends
// millions of objects on the event loop (issue 11 review: 330,000 lines stalled every client for 3 s).
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
let token: string;
let jobId: string;
beforeAll(async () => {
  server = await startTestServer();
  token = (await server.userWithRole('USER')).token;
  const submitted = await server.gql<{ submitCalcJob: { id: string } }>(
    'mutation($text: String!) { submitCalcJob(input: { text: $text }) { id } }',
    { text: Array.from({ length: 5_001 }, (_, i) => `${i} + 1`).join('\n') },
    token,
  );
  jobId = submitted.data!.submitCalcJob.id;
  for (let status = ''; status !== 'SUCCEEDED'; ) {
    status = (await server.gql<{ job: { status: string } }>(`{ job(id: "${jobId}") { status } }`, undefined, token)).data!.job.status;
    if (status === 'FAILED') throw new Error('calc job failed');
    await Bun.sleep(20);
  }
});
afterAll(() => server.stop());

const page = (args: string) =>
  server.gql(`{ job(id: "${jobId}") { result { ... on CalcBatchResult { count results${args} { line value } } } } }`, undefined, token);

test('a page of at most 5,000 lines; without limit only when what is left fits', async () => {
  const last = await page('(offset: 4999)');
  expect(last.data!.job.result.results).toEqual([{ line: 5000, value: 5000 }, { line: 5001, value: 5001 }]);
  expect((await page('(limit: 5000)')).data!.job.result.results).toHaveLength(5000);

  const all = await page('');
  expect(all.errors![0]).toMatchObject({
    message: 'this result has 5,001 lines from offset 0; ask for at most 5,000 at a time with limit, or read output',
    extensions: { code: 'BAD_USER_INPUT', field: 'limit' },
  });
  const tooMany = await page('(limit: 5001)');
  expect(tooMany.errors![0]).toMatchObject({ message: 'limit must be at most 5,000', extensions: { code: 'BAD_USER_INPUT' } });
});
