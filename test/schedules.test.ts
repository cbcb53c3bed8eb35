// Cron schedules through the real endpoint (on PostgreSQL too with TEST_DATABASE_URL): create, runs, overlap SKIP,
// pause, resume, delete, bad input, and who may. Three instances on one database: test/schedules-cluster.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { FakeClock } from './helpers/clock';
import { startTestServer, type TestServer, until, gqlData } from './helpers/server';

let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
});
afterAll(() => server.stop());

const data = (query: string, variables: Record<string, unknown> = {}, token = admin) => gqlData(server, query, variables, token);
const CREATE = 'mutation($input: CreateScheduleInput!) { createSchedule(input: $input) { name cron timezone queue paused overlap nextRunAt lastRunAt job } }';
const SCHEDULE = 'query($name: String!) { schedule(name: $name) { name paused nextRunAt lastRunAt runs(first: 50) { totalCount edges { node { id status schedule kind } } } } }';
const schedule = async (name: string) => (await data(SCHEDULE, { name })).schedule;

describe('schedules', () => {
  // The three tests that wait for real ticks of a 6-field (per-second) expression run at once, each on schedules of its own.
  test.concurrent('a 6-field expression runs one job per tick; the schedule shows its runs, next and last run', async () => {
    const created = (await data(CREATE, { input: { name: 'every-second', cron: '* * * * * *', job: { pi: { simulations: 1000 } } } })).createSchedule;
    expect(created).toMatchObject({ name: 'every-second', timezone: 'UTC', queue: 'default', paused: false, overlap: 'ALLOW', lastRunAt: null, job: { pi: { simulations: 1000 } } });
    expect(Date.parse(created.nextRunAt) % 1000).toBe(0);
    await until(async () => (await schedule('every-second')).runs.totalCount >= 3, 'three runs', 15_000);
    const paused = (await data('mutation { pauseSchedule(name: "every-second") { paused nextRunAt } }')).pauseSchedule;
    expect(paused).toEqual({ paused: true, nextRunAt: null });
    const seen = await schedule('every-second');
    // One job per tick: the ticks of the runs are distinct seconds, each a second apart.
    const ticks = (await server.sql<{ at: number }>(`SELECT created_at AS at FROM jobs WHERE schedule = 'every-second' ORDER BY id`)).map((row) => Math.floor(Number(row.at) / 1000));
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(seen.runs.edges.every((edge: any) => edge.node.schedule === 'every-second' && edge.node.kind === 'PI')).toBe(true);
    expect(Date.parse(seen.lastRunAt) % 1000).toBe(0);
    // Paused: no more runs.
    await Bun.sleep(1500);
    expect((await schedule('every-second')).runs.totalCount).toBe(seen.runs.totalCount);
    const resumed = (await data('mutation { resumeSchedule(name: "every-second") { paused nextRunAt } }')).resumeSchedule;
    expect(resumed.paused).toBe(false);
    expect(Date.parse(resumed.nextRunAt)).toBeGreaterThan(Date.now() - 1000);
    await until(async () => (await schedule('every-second')).runs.totalCount > seen.runs.totalCount, 'a run after resume', 15_000);
    expect((await data('mutation { deleteSchedule(name: "every-second") }')).deleteSchedule).toBe(true);
    expect(await schedule('every-second')).toBeNull();
    // Its jobs stay.
    const [{ n }] = (await server.sql<{ n: number }>(`SELECT CAST(count(*) AS INTEGER) AS n FROM jobs WHERE schedule = 'every-second'`)) as [{ n: number }];
    expect(Number(n)).toBeGreaterThanOrEqual(4);
  }, 60_000);

  test.concurrent('overlap SKIP: no new run while the previous one is unfinished', async () => {
    await data('mutation { createQueue(input: { name: "sched-skip" }) { name } }');
    await data('mutation { pauseQueue(name: "sched-skip") { paused } }');
    await data(CREATE, { input: { name: 'skipping', cron: '* * * * * *', overlap: 'SKIP', job: { pi: { simulations: 1000, queue: 'sched-skip' } } } });
    await until(async () => (await schedule('skipping')).runs.totalCount === 1, 'the first run', 10_000);
    const first = await schedule('skipping');
    // Ticks pass while the first run waits in its paused queue: none makes a job.
    await until(async () => Date.parse((await schedule('skipping')).nextRunAt) > Date.parse(first.nextRunAt) + 1500, 'two more ticks', 10_000);
    expect((await schedule('skipping')).runs.totalCount).toBe(1);
    await data('mutation { resumeQueue(name: "sched-skip") { paused } }');
    await until(async () => (await schedule('skipping')).runs.totalCount >= 2, 'a run once the first finished', 15_000);
    await data('mutation { deleteSchedule(name: "skipping") }');
  }, 60_000);

  // Its own server and clock: the hour it moves its clock on must not move the two tests that run beside it.
  test.concurrent('ticks that passed while nothing ran are not run later: the schedule moves on to its next tick', async () => {
    const ownClock = new FakeClock();
    const own = await startTestServer({}, { clock: ownClock });
    try {
      const token = await own.adminToken();
      const data = (query: string, variables: Record<string, unknown> = {}) => gqlData(own, query, variables, token);
      const schedule = async (name: string) => (await data(SCHEDULE, { name })).schedule;
      await data(CREATE, { input: { name: 'missed', cron: '* * * * * *', job: { pi: { simulations: 1000 } } } });
      await until(async () => (await schedule('missed')).runs.totalCount >= 1, 'a first run', 10_000);
      await data('mutation { pauseSchedule(name: "missed") { paused } }');
      const before = (await schedule('missed')).runs.totalCount;
      // An hour passes (as for an instance that was down), then it runs again: not 3,600 jobs.
      await data('mutation { resumeSchedule(name: "missed") { paused } }');
      ownClock.advance(3_600_000);
      const advancedAt = ownClock.now();
      await until(async () => (await schedule('missed')).runs.totalCount > before, 'a run after the gap', 10_000);
      const after = await schedule('missed');
      // The tick due before the gap made no job: the first run after it is a tick after the gap.
      expect(Date.parse(after.lastRunAt)).toBeGreaterThan(advancedAt);
      expect(after.runs.totalCount - before).toBeLessThanOrEqual(3);
      await data('mutation { deleteSchedule(name: "missed") }');
    } finally {
      await own.stop();
    }
  }, 30_000);

  test('a 5-field expression in a time zone; bad expressions, zones and names are BAD_USER_INPUT naming them', async () => {
    const created = (await data(CREATE, { input: { name: 'paris-nine', cron: '0 9 * * *', timezone: 'Europe/Paris', job: { pi: { simulations: 1000 } } } })).createSchedule;
    // 09:00 in Paris is 07:00 or 08:00 UTC, whatever the season.
    expect([7, 8]).toContain(new Date(created.nextRunAt).getUTCHours());
    expect(new Date(created.nextRunAt).getUTCMinutes()).toBe(0);
    const bad: [Record<string, unknown>, string, string][] = [
      [{ cron: 'every day' }, 'cron', 'every day'],
      [{ cron: '* * *' }, 'cron', '* * *'],
      [{ cron: '0 0 0 * * * *' }, 'cron', '0 0 0 * * * *'],
      [{ cron: '99 * * * *' }, 'cron', '99 * * * *'],
      [{ timezone: 'Mars/Olympus' }, 'timezone', 'Mars/Olympus'],
      [{ name: 'no spaces please' }, 'name', 'schedule name'],
    ];
    for (const [change, field, named] of bad) {
      const { errors } = await server.gql(CREATE, { input: { name: 'bad', cron: '* * * * *', job: { pi: { simulations: 1000 } }, ...change } }, admin);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.extensions?.field).toBe(field);
      expect(errors?.[0]?.message).toContain(named);
    }
    const invalidJob = await server.gql(CREATE, { input: { name: 'bad', cron: '* * * * *', job: { pi: { simulations: 1 } } } }, admin);
    expect(invalidJob.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const keyed = await server.gql(CREATE, { input: { name: 'bad', cron: '* * * * *', job: { pi: { simulations: 1000, idempotencyKey: 'k' } } } }, admin);
    expect(keyed.errors?.[0]?.extensions?.field).toBe('idempotencyKey');
    const taken = await server.gql(CREATE, { input: { name: 'paris-nine', cron: '* * * * *', job: { pi: { simulations: 1000 } } } }, admin);
    expect(taken.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const missing = await server.gql('mutation { pauseSchedule(name: "nope") { name } }', {}, admin);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  test('managers and admins create schedules; users neither create nor read them; diagnostic jobs are for admins', async () => {
    const user = await server.userWithRole('USER');
    const manager = await server.userWithRole('MANAGER');
    const input = { name: 'by-user', cron: '0 0 1 1 *', job: { pi: { simulations: 1000 } } };
    expect((await server.gql(CREATE, { input }, user.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await server.gql('{ schedules { name } }', {}, user.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await data(CREATE, { input: { ...input, name: 'by-manager' } }, manager.token)).createSchedule.name).toBe('by-manager');
    const diagnostic = await server.gql(CREATE, { input: { ...input, name: 'diag', job: { diagnostic: { behavior: 'SUCCEED' } } } }, manager.token);
    expect(diagnostic.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await data(CREATE, { input: { ...input, name: 'diag', job: { diagnostic: { behavior: 'SUCCEED' } } } })).createSchedule.job).toEqual({ diagnostic: { behavior: 'SUCCEED', durationMs: 0 } });
    const names = (await data('{ schedules { name } }')).schedules.map((s: any) => s.name);
    expect(names).toEqual(expect.arrayContaining(['by-manager', 'diag', 'paris-nine']));
  });
});
