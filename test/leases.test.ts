// Leases, recovery and backoff with a clock the test moves (graphile-worker's resetLockedAt tests edit the lock
// time rather than sleep): the server is real, only the job engine's time is ours.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FakeClock } from './helpers/clock';
import { startTestServer, type TestServer } from './helpers/server';

const LEASE_MS = 1_000;
const PULL_LEASE_MS = 60_000;
const RETRY_BASE_MS = 60_000;

const clock = new FakeClock();
let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer(
    { JOB_LEASE_SECONDS: String(LEASE_MS / 1000), PULL_LEASE_SECONDS: String(PULL_LEASE_MS / 1000), JOB_RETRY_BASE_MS: String(RETRY_BASE_MS) },
    { clock },
  );
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const JOB = 'id status attempts error claimedBy runAt events { type at payload }';
type Job = { id: string; status: string; attempts: number; error: string | null; claimedBy: string | null; runAt: string; events: { type: string; at: string; payload: any }[] };
const types = (job: Job) => job.events.map((event) => event.type);

async function gqlData(query: string, variables: Record<string, unknown> = {}, token = admin) {
  const result = await server.gql(query, variables, token);
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data;
}

/** Polls the job until `ready` holds (the runner's beat is a third of a lease: well under the deadline). */
async function jobWhen(id: string, ready: (job: Job) => boolean, timeoutMs = 4_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { job } = await gqlData(`query($id: ID!) { job(id: $id) { ${JOB} } }`, { id });
    if (ready(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} never got there: ${JSON.stringify(job)}`);
    await Bun.sleep(25);
  }
}

async function diagnostic(input: Record<string, unknown>): Promise<string> {
  const data = await gqlData('mutation($input: DiagnosticJobInput!) { submitDiagnosticJobs(input: $input) { id } }', { input });
  return data.submitDiagnosticJobs[0].id;
}

const completeJob = (id: string, token: string) =>
  server.gql(`mutation($id: ID!, $r: JSON!) { completeJob(id: $id, result: $r) { ${JOB} } }`, { id, r: { behavior: 'SUCCEED', elapsedMs: 1 } }, token);

describe('leases that run out', () => {
  test('a pulled job whose lease ran out goes back to its queue, and the late completeJob is refused with CONFLICT', async () => {
    await gqlData('mutation { createQueue(input: { name: "by-hand" }) { name } }');
    await gqlData('mutation { pauseQueue(name: "by-hand") { paused } }');
    const first = await server.userWithRole('MANAGER');
    const id = await diagnostic({ behavior: 'SUCCEED', queue: 'by-hand', maxAttempts: 2 });
    const pulled = (await gqlData(`mutation { pullJob(queue: "by-hand") { ${JOB} } }`, {}, first.token)).pullJob;
    expect(pulled).toMatchObject({ id, status: 'RUNNING', attempts: 1, claimedBy: `user:${first.id}` });

    // Past the pull lease: the next recovery pass puts it back.
    clock.advance(PULL_LEASE_MS + 1_000);
    const requeued = await jobWhen(id, (job) => job.status === 'QUEUED');
    expect(types(requeued)).toEqual(['queued', 'pulled', 'recovered']);
    expect(requeued).toMatchObject({ attempts: 1, claimedBy: null, error: 'its worker or claimant went away; re-queued' });
    expect(requeued.events[2]!.payload).toEqual({ attempt: 1, claimedBy: `user:${first.id}` });

    const late = await completeJob(id, first.token);
    expect(late.errors?.[0]).toMatchObject({ message: `job ${id} is QUEUED and was not pulled; only pulled jobs are completed by hand`, extensions: { code: 'CONFLICT' } });

    // Someone else pulls it now: the first manager's answer is still refused, the second one's counts.
    const second = await server.userWithRole('MANAGER');
    expect((await gqlData('mutation { pullJob(queue: "by-hand") { id attempts } }', {}, second.token)).pullJob).toEqual({ id, attempts: 2 });
    expect((await completeJob(id, first.token)).errors?.[0]).toMatchObject({ message: `job ${id} was pulled by someone else`, extensions: { code: 'CONFLICT' } });
    const done = await completeJob(id, second.token);
    expect(done.data?.completeJob).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(types(done.data!.completeJob)).toEqual(['queued', 'pulled', 'recovered', 'pulled', 'succeeded']);
  });

  test('a running pool job whose lease ran out is recovered and runs again; with no attempts left it fails', async () => {
    // Sleeps far longer than the test: only a recovery ends its attempts.
    const id = await diagnostic({ behavior: 'SLEEP', durationMs: 60_000, maxAttempts: 2 });
    await jobWhen(id, (job) => job.status === 'RUNNING');

    // Time jumps past the lease (a stalled process, a suspended machine): the heartbeat may not renew it.
    clock.advance(10 * LEASE_MS);
    const again = await jobWhen(id, (job) => job.status === 'RUNNING' && job.attempts === 2);
    expect(types(again)).toEqual(['queued', 'started', 'recovered', 'started']);
    expect(again.events[2]!.payload).toEqual({ attempt: 1, claimedBy: 'pool' });

    clock.advance(10 * LEASE_MS);
    const failed = await jobWhen(id, (job) => job.status === 'FAILED');
    expect(failed).toMatchObject({ attempts: 2, error: 'its worker or claimant went away and it has no attempts left' });
    expect(types(failed)).toEqual(['queued', 'started', 'recovered', 'started', 'failed']);

    // Its abandoned runs were stopped here, not left sleeping on the workers: the pool takes new work at once.
    expect(server.running.app.pool.size).toBe(2);
    const next = await diagnostic({ behavior: 'SUCCEED' });
    expect((await jobWhen(next, (job) => job.status !== 'QUEUED' && job.status !== 'RUNNING')).status).toBe('SUCCEEDED');
    // Nothing else happened to the failed job: the late end of its stopped runs was dropped.
    expect(types(await jobWhen(id, () => true))).toEqual(['queued', 'started', 'recovered', 'started', 'failed']);
  });
});

describe('retry backoff', () => {
  test('a failed attempt waits until its runAt: a claim pass just before leaves it queued; the clock passing runAt runs it', async () => {
    const id = await diagnostic({ behavior: 'THROW', maxAttempts: 2 });
    const waiting = await jobWhen(id, (job) => job.status === 'QUEUED' && job.attempts === 1);
    expect(types(waiting)).toEqual(['queued', 'started', 'retry_scheduled']);
    const scheduled = waiting.events[2]!;
    const runAt = Date.parse(waiting.runAt);
    expect(scheduled.payload).toEqual({ attempt: 1, error: 'diagnostic kernel failed on purpose', runAt });
    // First retry: base · 2⁰ with jitter in [0.5, 1).
    const delay = runAt - Date.parse(scheduled.at);
    expect(delay).toBeGreaterThanOrEqual(RETRY_BASE_MS / 2);
    expect(delay).toBeLessThan(RETRY_BASE_MS);

    // Almost there: another job's claim pass runs, and still leaves this one waiting.
    clock.advance(runAt - clock.now() - 10_000);
    const other = await diagnostic({ behavior: 'SUCCEED' });
    expect((await jobWhen(other, (job) => job.status === 'SUCCEEDED')).status).toBe('SUCCEEDED');
    expect(await jobWhen(id, () => true)).toMatchObject({ status: 'QUEUED', attempts: 1 });

    clock.advance(20_000);
    const failed = await jobWhen(id, (job) => job.status === 'FAILED');
    expect(types(failed)).toEqual(['queued', 'started', 'retry_scheduled', 'started', 'failed']);
    expect(Date.parse(failed.events[3]!.at)).toBeGreaterThanOrEqual(runAt);
  });
});
