// A message on the events channel that no jobgraph wrote (another tool, a newer or older version on the same
// prefix) is dropped with a log line: it must not take the instance down, nor stop the events after it.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { RedisClient } from 'bun';
import { redisServerPath, startTestRedis, type TestRedis } from './helpers/redis';
import { startTestServer, type TestServer, until } from './helpers/server';

const testWithRedis = test.skipIf(!redisServerPath);

let redis: TestRedis;
let server: TestServer;
const prefix = `jobgraph-test:${crypto.randomUUID()}:`;
beforeAll(async () => {
  if (!redisServerPath) return;
  redis = await startTestRedis();
  server = await startTestServer({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
});
afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

testWithRedis('a message that is not a batch of events is dropped; the instance keeps serving', async () => {
  const publisher = new RedisClient(redis.url);
  try {
    await server.adminToken();
    for (const message of ['not json', 'null', '{"from":"elsewhere","events":5}']) {
      expect(await publisher.publish(`${prefix}events`, message)).toBe(1);
    }
    // All three were read and dropped (counted on /metrics); a crash would fail the test as an unhandled error.
    await until(async () => (await (await fetch(server.url.replace('/graphql', '/metrics'))).text()).includes('jobgraph_redis_events_dropped_total{reason="malformed"} 3'), 'the three messages dropped', 30_000);
    expect((await server.gql('{ me { username } }', {}, await server.adminToken())).data?.me.username).toBe('admin');
  } finally {
    publisher.close();
  }
});
