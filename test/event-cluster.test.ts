// Event cursors across instances (docs/events.md): three jobgraph processes on one PostgreSQL database (and Redis
// when TEST_REDIS_URL is set), jobs submitted round-robin, one instance killed with kill -9 at a random moment while
// it holds leases: a jobEvents subscriber on another instance hears every job's `succeeded` event exactly once,
// and a jobCompleted subscriber every completion exactly once, including those the killed instance committed just
// before it died. One round by default: a round took ~50 s on
// the busy 2-core machine (process starts included); EVENT_CLUSTER_ROUNDS=5 runs the five, each killing a
// fresh instance at a new random moment.
import { afterAll, describe, expect, test } from 'bun:test';
import { createClient } from 'graphql-ws';
import { type ServerProcess, spawnServer } from './helpers/process';
import { ADMIN_PASSWORD, createTestDatabase, subscribe, TEST_DATABASE_URL } from './helpers/server';
import { gqlData, sqlOnce } from './helpers/cluster';
import { decodeCursor } from '../src/jobs/events/log';

const JOBS = 3_000;
const BATCH = 500;
const ROUNDS = Number(process.env.EVENT_CLUSTER_ROUNDS ?? 1);
const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

if (!TEST_DATABASE_URL) console.log('test/event-cluster.test.ts: skipped (no TEST_DATABASE_URL)');

describe.skipIf(!TEST_DATABASE_URL)('jobEvents across three instances on PostgreSQL, one killed with kill -9', () => {
  const servers: ServerProcess[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

  afterAll(async () => {
    await Promise.all(servers.map((server) => (server.proc.exitCode === null ? server.stop('SIGKILL') : undefined)));
    await database?.drop();
  });

  const gql = gqlData;

  const sql = <T>(text: string): Promise<T[]> => sqlOnce<T>(database!.url, text);

  test(`${ROUNDS} rounds of ${JOBS.toLocaleString('en')} jobs: every completion heard exactly once on another instance`, async () => {
    database = await createTestDatabase();
    const env: Record<string, string> = { DATABASE_URL: database.url, ADMIN_PASSWORD, WORKERS: '1', JOB_LEASE_SECONDS: '2', LOG_LEVEL: 'info', QUOTE_SERVER: '127.0.0.1:9' };
    if (TEST_REDIS_URL) Object.assign(env, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `event-cluster:${crypto.randomUUID()}:` });
    servers.push(...(await Promise.all([0, 1, 2].map(() => spawnServer(env, 60_000)))));
    const { login } = await gql(servers[0]!.url, 'mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: ADMIN_PASSWORD });
    const token = login.token as string;

    for (let round = 0; round < ROUNDS; round++) {
      const queue = `events-${round}`;
      const urls = servers.map((server) => server.url);
      // Room for every instance's claims (each holds at most 256 in flight): with 24, the instance whose settle freed
      // the room claimed it again at once, so one instance ran nearly every job and the one to be killed held none.
      await gql(urls[0]!, 'mutation($name: String!) { createQueue(input: { name: $name, concurrency: 1024 }) { name } }', { name: queue }, token);
      // The subscriber on the first instance (never killed), from the log's start: replay, then live. It asks for each
      // event's cursor and type, not `job { id }`: that is one read per event, and the 9,000-odd events then came at
      // ~600 a second, 12 s after the jobs had ended; each event's job is read from the log at the end instead.
      const listener = createClient({ url: urls[0]!.replace(/^http/, 'ws'), lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
      const stream = subscribe<{ jobEvents: { cursor: string; type: string } }>(
        listener,
        'subscription($queue: String) { jobEvents(queue: $queue) { cursor type } }',
        { queue },
      );
      // And jobCompleted, on the same instance: Redis carries it fast, the event log makes it durable (relay.ts).
      const completions = subscribe<{ jobCompleted: { id: string } }>(listener, 'subscription($queue: String) { jobCompleted(queue: $queue) { id } }', { queue });
      const submitted: string[] = [];
      for (let i = 0; i < JOBS / BATCH; i++) {
        const data = await gql(
          urls[i % 3]!,
          'mutation($n: Int!, $queue: String!) { submitDiagnosticJobs(input: { behavior: SLEEP, durationMs: 50, queue: $queue }, count: $n) { id } }',
          { n: BATCH, queue },
          token,
        );
        submitted.push(...data.submitDiagnosticJobs.map((job: { id: string }) => job.id));
      }

      // Killed at a random moment of the run, while it holds leases (so it has work in flight to die with): the second
      // or the third instance, whichever holds more then (beside a second suite, the third alone held none at any read
      // past killAt in 2 of 4 runs). The first, with the subscriber, is never killed.
      const instanceOf = (server: ServerProcess) =>
        JSON.parse(server.stdout().split('\n').find((line) => line.includes('"job store on PostgreSQL"'))!).instance as string;
      const candidates = [1, 2].map((index) => ({ index, instance: instanceOf(servers[index]!) }));
      let victimIndex = -1;
      const killAt = Math.floor(JOBS * (0.1 + 0.6 * Math.random()));
      let killed = false;
      const deadline = Date.now() + 120_000;
      // One connection, read every 20 ms: the jobs go fast once the subscriber costs the first instance less.
      const watch = new Bun.SQL(database.url, { max: 1 });
      for (;;) {
        const [{ succeeded }] = (await watch.unsafe(
          `SELECT count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded FROM jobs WHERE queue = '${queue}'`,
        )) as [{ succeeded: number }];
        if (!killed && succeeded >= killAt) {
          // Frozen while its leases are read: it dies holding some, or runs on until a later read finds it holding
          // some (a count read while it ran was old by the kill: beside a second suite no read past killAt saw it
          // holding any, to the end of the run).
          for (const { index } of candidates) servers[index]!.proc.kill('SIGSTOP');
          const [counts] = (await watch.unsafe(
            `SELECT ${candidates.map(({ instance }, i) => `count(*) FILTER (WHERE lease_token LIKE '${instance}.%')::int AS c${i}`).join(', ')}
             FROM jobs WHERE queue = '${queue}' AND status = 'RUNNING'`,
          )) as [Record<string, number>];
          const held = candidates.map((_, i) => counts[`c${i}`]!);
          const most = held.indexOf(Math.max(...held));
          if (held[most]! > 0) {
            victimIndex = candidates[most]!.index;
            servers[victimIndex]!.proc.kill('SIGKILL');
            await servers[victimIndex]!.proc.exited;
            killed = true;
          }
          for (const { index } of candidates) if (index !== victimIndex) servers[index]!.proc.kill('SIGCONT');
        }
        if (succeeded >= JOBS) break;
        if (Date.now() > deadline) throw new Error(`round ${round}: not done in time (${succeeded} succeeded)`);
        await Bun.sleep(20);
      }
      await watch.close();
      expect(killed).toBe(true);

      // Every job's `succeeded` reaches the subscriber, whichever instance committed it (the killed one too); while
      // waiting, counted by cursor (each event has its own).
      const heard = () => new Set(stream.events.filter((event) => event.data?.jobEvents.type === 'succeeded').map((event) => event.data!.jobEvents.cursor));
      const completed = () => {
        const times = new Map<string, number>();
        for (const event of completions.events) if (event.data) times.set(event.data.jobCompleted.id, (times.get(event.data.jobCompleted.id) ?? 0) + 1);
        return times;
      };
      // A liveness wait, not a speed bound: it ends when everything was heard, or when nothing new arrived for 20 s
      // (on a machine running two suites the event log's reader falls minutes behind, yet keeps delivering).
      let lastCount = -1;
      let lastProgress = Date.now();
      while ((heard().size < JOBS || completed().size < JOBS) && Date.now() - lastProgress < 20_000 && stream.error === undefined) {
        const count = heard().size + completed().size;
        if (count !== lastCount) [lastCount, lastProgress] = [count, Date.now()];
        await Bun.sleep(50);
      }
      // Anything late would be a duplicate: give it a moment to show.
      await Bun.sleep(500);
      await listener.dispose();
      // The queue's log as the database holds it; each event received is the row its cursor names, with that type.
      const log = await sql<{ id: number; tx: string; job: string; type: string }>(
        `SELECT e.id, e.tx::text AS tx, e.job_id::text AS job, e.type FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.queue = '${queue}'`,
      );
      const rows = new Map(log.map((row) => [row.id, row]));
      const received = stream.events.map((event) => {
        const position = decodeCursor(event.data!.jobEvents.cursor)?.position;
        const row = position && rows.get(position.id);
        return { position, row, matches: row !== undefined && row.tx === position!.tx && row.type === event.data!.jobEvents.type };
      });
      expect(received.filter((event) => !event.matches)).toEqual([]);
      const times = new Map<string, number>();
      for (const { row } of received) if (row!.type === 'succeeded') times.set(row!.job, (times.get(row!.job) ?? 0) + 1);
      const unheard = submitted.filter((id) => !times.has(id)).length;
      const twice = submitted.filter((id) => (times.get(id) ?? 0) > 1).length;
      if (unheard || twice) console.log(`event-cluster round ${round}: ${unheard} unheard, ${twice} heard twice, ${stream.events.length} events received`);
      expect(stream.error).toBeUndefined();
      expect(stream.events.filter((event) => event.errors)).toEqual([]);
      expect(submitted.filter((id) => times.get(id) !== 1)).toEqual([]);
      expect(times.size).toBe(JOBS);
      const completedTimes = completed();
      expect(completions.error).toBeUndefined();
      expect(submitted.filter((id) => completedTimes.get(id) !== 1)).toEqual([]);
      // Every event of the queue's log, each once, in one order: the cursors strictly follow the log.
      const cursors = stream.events.map((event) => event.data!.jobEvents.cursor);
      expect(new Set(cursors).size).toBe(cursors.length);
      expect(cursors.length).toBe(log.length);
      const ascending = received.every(({ position }, i) => {
        const before = received[i - 1]?.position;
        return !before || BigInt(before.tx) < BigInt(position!.tx) || (before.tx === position!.tx && before.id < position!.id);
      });
      expect(ascending).toBe(true);
      console.log(`event-cluster round ${round}: instance ${victimIndex + 1} killed after ${killAt} successes; ${times.size} completions heard once each, ${cursors.length} events`);

      // A fresh instance in its place for the next round.
      servers[victimIndex] = await spawnServer(env, 60_000);
    }
    // The instances never killed (and those started in a victim's place) printed no error.
    for (const server of servers) expect(server.stderr()).toBe('');
  }, 300_000);
});
