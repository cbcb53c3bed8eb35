// Event cursors (docs/events.md): the jobEvents query pages the log; the jobEvents subscription replays from a
// cursor and then follows live, each event once, across a reconnect; bad cursors are clear errors. Through the
// real endpoint (HTTP, WebSocket), on SQLite and (with TEST_DATABASE_URL) on PostgreSQL.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { startTestServer, subscribe, TEST_DATABASE_URL, type TestServer, until, gqlData } from './helpers/server';

// Jobs really run and servers really restart: a limit against a hang only, never a measure.
setDefaultTimeout(60_000);

let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);

const PAGE = `query($after: String, $first: Int, $jobId: ID, $queue: String) {
  jobEvents(after: $after, first: $first, jobId: $jobId, queue: $queue) {
    edges { cursor node { cursor type job { id owner { username } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const FOLLOW = 'subscription($after: String, $queue: String) { jobEvents(after: $after, queue: $queue) { cursor type job { id } } }';

async function submit(n: number, token = admin, queue?: string): Promise<string[]> {
  const jobs = Array.from({ length: n }, (_, i) => ({ pi: { simulations: 1000 + i } }));
  const result = await data('mutation($jobs: [JobSubmission!]!, $options: SubmitJobsOptions) { submitJobs(jobs: $jobs, options: $options) { id } }', { jobs, options: { queue } }, token);
  return result.submitJobs.map((job: { id: string }) => job.id);
}

async function allFinished(ids: string[], token = admin) {
  await until(
    async () => {
      const { jobs } = await data('query($first: Int) { jobs(first: $first) { edges { node { id status } } } }', { first: 100 }, token);
      const byId = new Map(jobs.edges.map((edge: any) => [edge.node.id, edge.node.status]));
      return ids.every((id) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(byId.get(id) as string));
    },
    'jobs finished',
    30_000,
  );
}

/** Every event of the log a caller sees (in a queue), paged with `first`, as [cursor, type, job id]. */
async function readLog(token = admin, queue?: string, first = 7): Promise<[string, string, string][]> {
  const read: [string, string, string][] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = (await data(PAGE, { after, first, queue }, token)).jobEvents;
    for (const { cursor, node } of page.edges) {
      expect(node.cursor).toBe(cursor);
      read.push([cursor, node.type, node.job.id]);
    }
    after = page.pageInfo.endCursor;
    if (!page.pageInfo.hasNextPage) return read;
  }
}

async function createQueue(name: string) {
  await data('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name } });
}

describe('the jobEvents query', () => {
  test('pages the log in order, each event once; a USER reads only their own jobs’ events', async () => {
    await createQueue('paging');
    const alice = await server.userWithRole('USER');
    const mine = await submit(4, alice.token, 'paging');
    const others = await submit(3, admin, 'paging');
    await allFinished([...mine, ...others]);
    const all = await readLog(admin, 'paging');
    // queued, started, succeeded for each job
    expect(all).toHaveLength(7 * 3);
    expect(new Set(all.map(([cursor]) => cursor)).size).toBe(all.length);
    const aliceSees = await readLog(alice.token, 'paging', 5);
    expect(aliceSees).toEqual(all.filter(([, , jobId]) => mine.includes(jobId)));
    // One job's history, in order.
    const one = (await data(PAGE, { jobId: mine[0], first: 10 })).jobEvents.edges.map((edge: any) => edge.node.type);
    expect(one).toEqual(['queued', 'started', 'succeeded']);
    // A job's `events` carry the same cursors as the log.
    const history = await data('query($id: ID!) { job(id: $id) { events { cursor type } } }', { id: mine[0] });
    expect(history.job.events.map((event: any) => event.cursor)).toEqual(all.filter(([, , jobId]) => jobId === mine[0]).map(([cursor]) => cursor));
  });
});

describe('the jobEvents subscription', () => {
  test('replays from a cursor, follows live, and after a disconnect while jobs ran resumes with its last cursor: every event exactly once', async () => {
    await createQueue('resume');
    const first = await submit(20, admin, 'resume');
    await allFinished(first);
    const [start] = await readLog(admin, 'resume');
    // From the first event's cursor: the 59 after it, then live ones.
    const received: string[] = [];
    let client = server.wsClient(admin);
    let stream = subscribe(client, FOLLOW, { after: start![0], queue: 'resume' });
    const second = submit(30, admin, 'resume');
    await stream.waitFor(80, 20_000);
    await client.dispose();
    // Whatever arrived up to the disconnect counts (its last cursor is where the resume starts).
    for (const event of stream.events) received.push(event.data!.jobEvents.cursor);
    expect(stream.events.every((event) => !event.errors)).toBe(true);
    // Away while 30 more jobs are submitted and run to their end: every event of theirs happens while nobody listens.
    const third = await submit(30, admin, 'resume');
    await allFinished(third);
    const ids = [...first, ...(await second), ...third];
    client = server.wsClient(admin);
    stream = subscribe(client, FOLLOW, { after: received[received.length - 1], queue: 'resume' });
    await allFinished(ids);
    const log = await readLog(admin, 'resume', 100);
    const expected = log.slice(1).map(([cursor]) => cursor);
    await until(() => received.length + stream.events.length >= expected.length, 'every event', 20_000);
    // Nothing more arrives past the log's end (no duplicate delivered late).
    await Bun.sleep(300);
    for (const event of stream.events) received.push(event.data!.jobEvents.cursor);
    await client.dispose();
    expect(received).toEqual(expected);
  });

  test('a USER’s stream holds only their own jobs’ events', async () => {
    await createQueue('private');
    const bob = await server.userWithRole('USER');
    const client = server.wsClient(bob.token);
    const stream = subscribe(client, FOLLOW, { queue: 'private' });
    const others = await submit(3, admin, 'private');
    const own = await submit(2, bob.token, 'private');
    await allFinished([...others, ...own]);
    await stream.waitFor(6, 10_000);
    await Bun.sleep(200);
    await client.dispose();
    expect(stream.events.map((event) => event.data!.jobEvents.job.id).sort()).toEqual([...own, ...own, ...own].sort());
  });
});

describe('bad cursors', () => {
  const errorOf = async (after: string) => {
    const result = await server.gql(PAGE, { after, first: 1 }, admin);
    return result.errors?.[0];
  };

  test('a malformed cursor, another database’s and one older than the events kept are BAD_USER_INPUT, saying which', async () => {
    const malformed = await errorOf('not-a-cursor');
    expect(malformed?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(malformed?.message).toContain('not an event cursor');

    const cursor = (await readLog(admin))[0]![0];
    const decoded = Buffer.from(cursor, 'base64url').toString();
    const foreign = Buffer.from(decoded.replace(/^jgev1:[0-9a-f-]{36}:/, `jgev1:${crypto.randomUUID()}:`)).toString('base64url');
    const other = await errorOf(foreign);
    expect(other?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(other?.message).toContain('another database');

    // The oldest events go (here: their jobs deleted, as retention deletes finished jobs with their events).
    await createQueue('old');
    const [oldest] = await submit(1, admin, 'old');
    await allFinished([oldest!]);
    const kept = await submit(1, admin, 'old');
    await allFinished(kept);
    const stale = (await readLog(admin, 'old'))[0]![0];
    const firstJobs = (await data('{ jobs(first: 100) { edges { node { id } } } }')).jobs.edges.map((edge: any) => edge.node.id) as string[];
    for (const id of firstJobs.filter((id) => !kept.includes(id))) await data('mutation($id: ID!) { deleteJob(id: $id) }', { id });
    const tooOld = await errorOf(stale);
    expect(tooOld?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(tooOld?.message).toContain('older than the events still kept');

    // The subscription refuses them alike, before it starts.
    const client = server.wsClient(admin);
    const stream = subscribe(client, FOLLOW, { after: 'garbage' });
    await stream.waitFor(1, 5_000);
    await client.dispose();
    expect(stream.events[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('on SQLite across a restart', () => {
  test('cursors survive the restart; a subscriber resumes with its last cursor and gets every event exactly once', async () => {
    const dir = (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/jobgraph-events-`);
    const env = { DATABASE_PATH: `${dir}/jobs.db` };
    let first: TestServer | null = await startTestServer(env);
    try {
      const token = await first.adminToken();
      const run = (server: TestServer, n: number) =>
        gqlData(server, 'mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs) { id } }', { jobs: Array.from({ length: n }, () => ({ pi: { simulations: 200_000 } })) }, token);
      const client = first.wsClient(token);
      const stream = subscribe(client, FOLLOW, {});
      await run(first, 20);
      await stream.waitFor(25, 10_000);
      // The server stops mid-run (jobs still running are recovered by the next start, with events of their own).
      await first.stop();
      first = null;
      await Promise.resolve(client.dispose()).catch(() => {});
      const received = stream.events.map((event) => event.data!.jobEvents.cursor as string);
      expect(received.length).toBeGreaterThanOrEqual(25);

      const second = await startTestServer(env);
      try {
        const again = await second.adminToken();
        const resumed = subscribe(second.wsClient(again), FOLLOW, { after: received.at(-1) });
        await run(second, 5);
        const all = await (async () => {
          let log: [string, string, string][] = [];
          await until(
            async () => {
              const { jobs } = await gqlData(second, '{ jobs(first: 100) { edges { node { status } } } }', {}, again);
              if (!jobs.edges.every((edge: any) => edge.node.status === 'SUCCEEDED')) return false;
              log = [];
              let after: string | null = null;
              for (;;) {
                const page: any = (await gqlData(second, PAGE, { after, first: 100 }, again)).jobEvents;
                for (const { cursor, node } of page.edges) log.push([cursor, node.type, node.job.id]);
                after = page.pageInfo.endCursor;
                if (!page.pageInfo.hasNextPage) return true;
              }
            },
            'every job done',
            30_000,
          );
          return log;
        })();
        // The cursors given before the restart are the same positions after it.
        expect(all.slice(0, received.length).map(([cursor]) => cursor)).toEqual(received);
        await until(() => received.length + resumed.events.length >= all.length, 'the rest of the log', 20_000);
        await Bun.sleep(300);
        expect([...received, ...resumed.events.map((event) => event.data!.jobEvents.cursor)]).toEqual(all.map(([cursor]) => cursor));
      } finally {
        await second.stop();
      }
    } finally {
      await first?.stop();
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)('two instances on one PostgreSQL database, no shared Redis', () => {
  test('jobCompleted and jobUpdated on one instance hear a job finished on the other, once, through the event log', async () => {
    const a = await startTestServer();
    // Its own Redis key space (or none): nothing crosses but the database.
    const b = await startTestServer({ DATABASE_URL: a.databaseUrl! });
    try {
      const token = await a.adminToken();
      await gqlData(a, 'mutation { createQueue(input: { name: "held" }) { name } }', {}, token);
      await gqlData(a, 'mutation { pauseQueue(name: "held") { paused } }', {}, token);
      const ids = (await gqlData(a, 'mutation { submitJobs(jobs: [{ pi: { simulations: 1000 } }, { pi: { simulations: 1000 } }], options: { queue: "held" }) { id } }', {}, token)).submitJobs.map(
        (job: { id: string }) => job.id,
      ) as string[];
      const client = b.wsClient(token);
      const completed = subscribe(client, 'subscription { jobCompleted(queue: "held") { id status } }');
      const updated = subscribe(client, 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', { id: ids[0] });
      await updated.waitFor(1, 10_000);
      await Bun.sleep(200);
      // Cancelled on a: only a publishes it; b hears it from the log.
      for (const id of ids) await gqlData(a, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', { id }, token);
      await completed.waitFor(2, 15_000);
      await updated.waitFor(2, 15_000);
      await Bun.sleep(1_500);
      await client.dispose();
      expect(completed.events.map((event) => event.data!.jobCompleted.id).sort()).toEqual([...ids].sort());
      expect(updated.events.map((event) => event.data!.jobUpdated.status)).toEqual(['QUEUED', 'CANCELLED']);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
