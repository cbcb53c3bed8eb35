// What arrives on the Redis events channel is untrusted input. Without a secret, every payload is checked against its
// topic's schema: a PUBLISH of `{"topic":"jobCompleted","args":[null]}` once ended every USER's jobCompleted stream and
// handed managers a forged job. With REDIS_EVENTS_SECRET, a message without this deployment's signature is dropped
// whole, however well formed, and a captured signed message cannot be replayed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { RedisClient } from 'bun';
import { createHmac } from 'node:crypto';
import { ConfigError, loadConfig } from '../src/config';
import { redisServerPath, startTestRedis, type TestRedis } from './helpers/redis';
import { startTestServer, subscribe, type TestServer, until } from './helpers/server';

const describeWithRedis = describe.skipIf(!redisServerPath);
const SECRET = 'a-deployment-secret-of-at-least-32-characters';
const COMPLETED = 'subscription { jobCompleted { id status kind } }';
const SUBMIT = 'mutation { submitPiJob(input: { simulations: 1000, seed: 7 }) { id } }';

/** A job as a jobgraph would publish it, every field well formed (dates as the wire tags them). */
function forgedJob(id: number, ownerId: number) {
  const at = { '$jobgraph.date': Date.now() };
  return {
    id, kind: 'PI', status: 'SUCCEEDED', queue: 'default', ownerId, result: { estimate: 3 }, error: null, progress: 1, attempts: 1,
    maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: at, idempotencyKey: null, schedule: null, leaseToken: null, leaseExpiresAt: null, claimedBy: null,
    createdAt: at, startedAt: at, finishedAt: at,
  };
}

async function droppedCounts(server: TestServer): Promise<Record<string, number>> {
  const text = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
  const counts: Record<string, number> = {};
  for (const [, reason, value] of text.matchAll(/^jobgraph_redis_events_dropped_total\{reason="(\w+)"\} (\d+)/gm)) counts[reason!] = Number(value);
  return counts;
}

/**
 * Two instances (each its own database: the same user created first on both has the same id), a USER and a MANAGER
 * subscribed to jobCompleted on A. Jobs the USER submits on B reach A only through Redis.
 */
async function setUp(redis: TestRedis, env: Record<string, string>) {
  const prefix = `jobgraph-test:${crypto.randomUUID()}:`;
  const shared = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, ...env };
  const [a, b] = await Promise.all([startTestServer(shared), startTestServer(shared)]);
  const [userOnA, userOnB] = await Promise.all([a.userWithRole('USER', 'alice'), b.userWithRole('USER', 'alice')]);
  expect(userOnA.id).toBe(userOnB.id);
  const manager = await a.userWithRole('MANAGER', 'mona');
  const listening = a.nextSubscriptions('jobCompleted', 2);
  const userStream = subscribe(a.wsClient(userOnA.token), COMPLETED);
  const managerStream = subscribe(a.wsClient(manager.token), COMPLETED);
  await listening;
  return { a, b, prefix, userOnB, userStream, managerStream, stop: () => Promise.all([a.stop(), b.stop()]) };
}

describeWithRedis('events from other instances are untrusted', () => {
  let redis: TestRedis;
  let publisher: RedisClient;
  beforeAll(async () => {
    redis = await startTestRedis();
    publisher = new RedisClient(redis.url);
  });
  afterAll(async () => {
    publisher?.close();
    await redis?.stop();
  });

  test('without a secret: payloads that fail their topic schema are dropped and counted; no stream ends, no forged job is delivered', async () => {
    const { b, prefix, userOnB, userStream, managerStream, stop, a } = await setUp(redis, {});
    try {
      const forged = [
        // The repro, verbatim.
        '{"from":"x","events":[{"topic":"jobCompleted","args":[null]}]}',
        '{"from":"x","events":[{"topic":"jobCompleted","args":[{"id":999999,"status":"SUCCEEDED","kind":"PI"}]}]}',
        '{"from":"x","events":[{"topic":"jobUpdated","args":[1,{"id":2}]},{"topic":"loginEvents","args":[{"username":5}]}]}',
        '{"from":"x","events":[{"topic":"sessionsChanged","args":["all"]},{"topic":"no such topic","args":[]}]}',
        // A jobCompleted implied by a jobUpdated (`completes`) whose job is not final, or by another topic.
        JSON.stringify({ from: 'x', events: [{ topic: 'jobUpdated', args: [999998, { ...forgedJob(999998, 1), status: 'QUEUED' }] }], completes: [0] }),
        JSON.stringify({ from: 'x', events: [{ topic: 'loginUnlocked', args: [{ username: 'nobody' }] }], completes: [0] }),
      ];
      for (const message of forged) expect(await publisher.publish(`${prefix}events`, message)).toBe(2);
      // Published after the forgeries were delivered to A (Redis keeps the order it received them in).
      const submitted = await b.gql<{ submitPiJob: { id: string } }>(SUBMIT, {}, userOnB.token);
      const [[userEvent], [managerEvent]] = await Promise.all([userStream.waitFor(1, 30_000), managerStream.waitFor(1, 30_000)]);
      expect(userEvent!.errors).toBeUndefined();
      expect(userEvent!.data!.jobCompleted).toMatchObject({ id: submitted.data!.submitPiJob.id, status: 'SUCCEEDED' });
      expect(managerEvent!.data!.jobCompleted.id).toBe(submitted.data!.submitPiJob.id);
      expect(userStream.events).toHaveLength(1);
      expect(managerStream.events).toHaveLength(1);
      expect(userStream.completed || userStream.error !== undefined).toBe(false);
      expect(managerStream.completed || managerStream.error !== undefined).toBe(false);
      // Two jobCompleted, one jobUpdated, one loginEvents, one sessionsChanged, one unknown topic, two implied jobCompleted.
      expect(await droppedCounts(a)).toMatchObject({ invalid_event: 8, unsigned: 0, malformed: 0 });
      // The same streams still carry what comes next.
      const second = await b.gql<{ submitPiJob: { id: string } }>(SUBMIT, {}, userOnB.token);
      await Promise.all([userStream.waitFor(2, 30_000), managerStream.waitFor(2, 30_000)]);
      expect(userStream.events[1]!.data!.jobCompleted.id).toBe(second.data!.submitPiJob.id);
    } finally {
      await stop();
    }
  }, 60_000);

  test('with REDIS_EVENTS_SECRET: an unsigned or wrongly signed message is dropped however well formed; a replay is dropped; signed events cross', async () => {
    const { b, prefix, userOnB, userStream, managerStream, stop, a } = await setUp(redis, { REDIS_EVENTS_SECRET: SECRET });
    const capture = new RedisClient(redis.url);
    const captured: string[] = [];
    try {
      await capture.subscribe(`${prefix}events`, (message) => void captured.push(message));
      const first = await b.gql<{ submitPiJob: { id: string } }>(SUBMIT, {}, userOnB.token);
      await Promise.all([userStream.waitFor(1, 30_000), managerStream.waitFor(1, 30_000)]);
      expect(userStream.events[0]!.data!.jobCompleted.id).toBe(first.data!.submitPiJob.id);

      // What B signed so far, to send again below: signed, but already seen.
      const fromB = captured.filter((message) => /"jobCompleted"|"completes"/.test(message));
      expect(fromB.length).toBeGreaterThan(0);
      const body = JSON.stringify({ from: 'intruder', sentAt: Date.now(), seq: 1, events: [{ topic: 'jobCompleted', args: [forgedJob(999_999, Number(userOnB.id))] }] });
      const wrongMac = createHmac('sha256', 'not-the-deployment-secret-but-long-enough').update(body).digest('hex');
      expect(await publisher.publish(`${prefix}events`, body)).toBe(3);
      expect(await publisher.publish(`${prefix}events`, `${wrongMac}\n${body}`)).toBe(3);
      expect(await publisher.publish(`${prefix}events`, `${'0'.repeat(64)}\n${body}`)).toBe(3);
      for (const message of fromB) expect(await publisher.publish(`${prefix}events`, message)).toBe(3);

      const second = await b.gql<{ submitPiJob: { id: string } }>(SUBMIT, {}, userOnB.token);
      await Promise.all([userStream.waitFor(2, 30_000), managerStream.waitFor(2, 30_000)]);
      expect(userStream.events.map((event) => event.data!.jobCompleted.id)).toEqual([first.data!.submitPiJob.id, second.data!.submitPiJob.id]);
      expect(managerStream.events.map((event) => event.data!.jobCompleted.id)).toEqual([first.data!.submitPiJob.id, second.data!.submitPiJob.id]);
      expect(await droppedCounts(a)).toMatchObject({ unsigned: 3, stale: fromB.length, invalid_event: 0 });
    } finally {
      capture.close();
      await stop();
    }
  }, 60_000);

  test('an instance without the secret cannot inject into one with it; one with it is still heard by one without (a rollout)', async () => {
    const prefix = `jobgraph-test:${crypto.randomUUID()}:`;
    const [signed, unsigned] = await Promise.all([
      startTestServer({ REDIS_URL: redis.url, REDIS_PREFIX: prefix, REDIS_EVENTS_SECRET: SECRET }),
      startTestServer({ REDIS_URL: redis.url, REDIS_PREFIX: prefix }),
    ]);
    const capture = new RedisClient(redis.url);
    const fromUnsigned: string[] = [];
    try {
      // Every message on the channel not signed (the signed instance's start with a 64-hex-digit line).
      await capture.subscribe(`${prefix}events`, (message) => void (/^[0-9a-f]{64}\n/.test(message) || fromUnsigned.push(message)));
      const listening = [signed.nextSubscriptions('jobCompleted'), unsigned.nextSubscriptions('jobCompleted')];
      const onSigned = subscribe(signed.wsClient(await signed.adminToken()), COMPLETED);
      const onUnsigned = subscribe(unsigned.wsClient(await unsigned.adminToken()), COMPLETED);
      await Promise.all(listening);
      await unsigned.gql(SUBMIT, {}, await unsigned.adminToken());
      await onUnsigned.waitFor(1, 30_000);
      await until(() => fromUnsigned.some((message) => /"jobCompleted"|"completes"/.test(message)), 'the unsigned jobCompleted on the channel', 30_000);
      // A message signed with the deployment's secret, after those: once it is heard, every one before was read.
      const body = JSON.stringify({ from: 'test', sentAt: Date.now(), seq: 1, events: [{ topic: 'jobCompleted', args: [forgedJob(424_242, 1)] }] });
      await publisher.publish(`${prefix}events`, `${createHmac('sha256', SECRET).update(body).digest('hex')}\n${body}`);
      await onSigned.waitFor(1, 30_000);
      expect(onSigned.events.map((event) => event.data!.jobCompleted.id)).toEqual(['424242']);
      expect((await droppedCounts(signed)).unsigned).toBeGreaterThanOrEqual(fromUnsigned.length);

      const own = await signed.gql<{ submitPiJob: { id: string } }>(SUBMIT, {}, await signed.adminToken());
      await Promise.all([onSigned.waitFor(2, 30_000), onUnsigned.waitFor(3, 30_000)]);
      expect(onSigned.events[1]!.data!.jobCompleted.id).toBe(own.data!.submitPiJob.id);
      // The unsigned instance takes signed messages too (it has no secret to check them with): the test's, then own.
      expect(onUnsigned.events[2]!.data!.jobCompleted.id).toBe(own.data!.submitPiJob.id);
    } finally {
      capture.close();
      await Promise.all([signed.stop(), unsigned.stop()]);
    }
  }, 60_000);
});

test('REDIS_EVENTS_SECRET: unset by default; shorter than 32 characters is refused without echoing it', () => {
  expect(loadConfig({}).redisEventsSecret).toBeUndefined();
  expect(loadConfig({ REDIS_EVENTS_SECRET: SECRET }).redisEventsSecret).toBe(SECRET);
  expect(() => loadConfig({ REDIS_EVENTS_SECRET: 'short-secret' })).toThrow(ConfigError);
  expect(() => loadConfig({ REDIS_EVENTS_SECRET: 'short-secret' })).toThrow('REDIS_EVENTS_SECRET must be at least 32 characters, got 12');
});

test('the wire schema of a job names every column of the jobs table (a new column must be added there, or it never crosses)', async () => {
  const { getColumns } = await import('drizzle-orm');
  const { jobs } = await import('../src/db/schema');
  const { jobs: pgJobs } = await import('../src/db/pg-schema');
  const { wireJob } = await import('../src/event-wire');
  const wire = Object.keys(wireJob.shape).sort();
  expect(Object.keys(getColumns(jobs)).sort()).toEqual(wire);
  expect(Object.keys(getColumns(pgJobs)).sort()).toEqual(wire);
});

test('a final job crosses once: its jobCompleted rides on its jobUpdated (`completes`); the form before reads the same', async () => {
  const { createEventBus } = await import('../src/events');
  const { encodeBatch } = await import('../src/event-wire');
  type Link = import('../src/redis').RedisLink;
  const sent: string[] = [];
  const link = (handlers: ((message: string) => void)[]) =>
    ({ instanceId: crypto.randomUUID(), up: true, publish: (_: string, message: string) => sent.push(message), subscribe: async (_: string, handler: (message: string) => void) => void handlers.push(handler), onReconnect() {} }) as unknown as Link;
  const job = (id: number, status: 'RUNNING' | 'SUCCEEDED'): import('../src/db/schema').Job => {
    const at = new Date(1_765_000_000_000 + id);
    return {
      id, kind: 'PI' as const, status, queue: 'default', ownerId: 1, result: status === 'SUCCEEDED' ? { estimate: 3 } : null, error: null, progress: status === 'SUCCEEDED' ? 1 : 0,
      attempts: 1, maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: at, idempotencyKey: null, schedule: null, leaseToken: null, leaseExpiresAt: null,
      claimedBy: null, createdAt: at, startedAt: at, finishedAt: status === 'SUCCEEDED' ? at : null,
    };
  };
  const sender = createEventBus(link([]));
  const [running, done, other] = [job(1, 'RUNNING'), job(2, 'SUCCEEDED'), job(3, 'SUCCEEDED')];
  sender.publish('jobUpdated', 1, running);
  sender.publish('jobUpdated', 2, done);
  sender.publish('jobCompleted', done);
  sender.publish('jobCompleted', other); // not right after its own jobUpdated: written out
  await Bun.sleep(0);
  expect(sent).toHaveLength(1);
  expect(JSON.parse(sent[0]!)).toMatchObject({ events: [{ topic: 'jobUpdated' }, { topic: 'jobUpdated' }, { topic: 'jobCompleted' }], completes: [1] });
  const heardFrom = (message: string) => {
    const handlers: ((message: string) => void)[] = [];
    const receiver = createEventBus(link(handlers));
    const heard: unknown[] = [];
    for (const topic of ['jobUpdated', 'jobCompleted'] as const) receiver.onRemote(topic, (...args: unknown[]) => heard.push([topic, ...args]));
    handlers[0]!(message);
    return heard;
  };
  const expected = [['jobUpdated', 1, running], ['jobUpdated', 2, done], ['jobCompleted', done], ['jobCompleted', other]];
  expect(heardFrom(sent[0]!)).toEqual(expected);
  const before = [{ topic: 'jobUpdated', args: [1, running] }, { topic: 'jobUpdated', args: [2, done] }, { topic: 'jobCompleted', args: [done] }, { topic: 'jobCompleted', args: [other] }];
  expect(heardFrom(encodeBatch({ from: 'an instance of the version before', events: before as never }))).toEqual(expected);
});
