import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

// A cancel reaches the pool's task through the runner's own stop (no AbortSignal is made for a built-in kind's run):
// with one worker, a HANG that was not stopped would hold it for good and nothing after it could run.
let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer({ WORKERS: '1' });
  admin = await server.adminToken();
});
afterAll(() => server.stop());

async function submit(input: Record<string, unknown>): Promise<string> {
  const result = await server.gql<{ submitDiagnosticJobs: { id: string }[] }>('mutation($input: DiagnosticJobInput!) { submitDiagnosticJobs(input: $input) { id } }', { input }, admin);
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.submitDiagnosticJobs[0]!.id;
}

async function waitForStatus(id: string, status: string, timeoutMs = 20_000): Promise<{ status: string; events: { type: string }[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await server.gql('query($id: ID!) { job(id: $id) { status events { type } } }', { id }, admin)).data?.job;
    if (job?.status === status) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job?.status}, not ${status}`);
    await Bun.sleep(25);
  }
}

describe('stopping a running job on a lone worker', () => {
  test('cancelJob stops the task on the pool: the worker is free for the next job', async () => {
    const hang = await submit({ behavior: 'HANG', maxAttempts: 1, timeoutSeconds: 600 });
    await waitForStatus(hang, 'RUNNING');
    const cancelled = await server.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id: hang }, admin);
    expect(cancelled.data?.cancelJob.status).toBe('CANCELLED');
    const next = await submit({ behavior: 'SUCCEED' });
    expect((await waitForStatus(next, 'SUCCEEDED')).status).toBe('SUCCEEDED');
    expect((await waitForStatus(hang, 'CANCELLED')).events.map((event) => event.type)).toEqual(['queued', 'started', 'cancelled']);
  });

  test('a timed-out task still fails the attempt and frees the worker', async () => {
    const hang = await submit({ behavior: 'HANG', maxAttempts: 1, timeoutSeconds: 1 });
    expect((await waitForStatus(hang, 'FAILED')).events.map((event) => event.type)).toEqual(['queued', 'started', 'failed']);
    const next = await submit({ behavior: 'SUCCEED' });
    expect((await waitForStatus(next, 'SUCCEEDED')).status).toBe('SUCCEEDED');
  });
});
