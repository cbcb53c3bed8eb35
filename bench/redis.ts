// bench/redis.ts — what REDIS_URL costs: the per-address rate check and a login throttle reservation in Redis
// beside the same rule in process (the baseline, same run), and how long an event takes from one instance's bus
// to another's through Redis pub/sub. Starts its own redis-server on a free loopback port.
//   bun bench/redis.ts [N=20000]
import { createEventBus } from '../src/events';
import { RateLimiter, SharedRateLimiter } from '../src/http/rate-limit';
import { createLogger } from '../src/logger';
import { RedisLink } from '../src/redis';
import { LoginThrottle, SharedLoginThrottle } from '../src/users/throttle';
import { startTestRedis } from '../test/helpers/redis';

const N = Number(process.argv[2] ?? 20_000);
const log = createLogger({ level: 'warn' });
const redis = await startTestRedis();
const links = [new RedisLink(redis.url, 'bench:', log), new RedisLink(redis.url, 'bench:', log)] as const;
await Promise.all(links.map((link) => link.connect()));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const micros = (ms: number, n: number) => ((ms / n) * 1000).toFixed(2);

async function time(n: number, run: (i: number) => unknown): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await run(i);
  return performance.now() - start;
}

try {
  // Many addresses, a rate nobody reaches: every check is a full check that lets the request through.
  const perSecond = 1_000_000;
  const local = new RateLimiter(perSecond);
  const shared = new SharedRateLimiter(new RateLimiter(perSecond), links[0], perSecond);
  const address = (i: number) => `10.0.${(i >> 8) & 255}.${i & 255}`;
  await time(2000, (i) => shared.take(address(i)));
  const localMs = await time(N, (i) => local.take(address(i)));
  const sharedMs = await time(N, (i) => shared.take(address(i)));
  const concurrentStart = performance.now();
  await Promise.all(Array.from({ length: N }, (_, i) => shared.take(address(i))));
  const concurrentMs = performance.now() - concurrentStart;
  console.log(`rate check       in process ${micros(localMs, N)} µs | Redis one at a time ${micros(sharedMs, N)} µs (×${(sharedMs / localMs).toFixed(0)}) | Redis ${N} at once ${micros(concurrentMs, N)} µs each`);

  const throttle = new LoginThrottle(5, 60_000);
  const sharedThrottle = new SharedLoginThrottle(links[0], { maxFailures: 5, maxFailuresPerAddress: 50, windowMs: 60_000 });
  const throttleLocalMs = await time(N, (i) => throttle.reserve(`user${i}`).release());
  const throttleSharedMs = await time(N, async (i) => {
    const reserved = await sharedThrottle.reserve(`user${i}`, address(i));
    if ('attempt' in reserved) await reserved.attempt.failed();
  });
  console.log(`login throttle   in process reserve+release ${micros(throttleLocalMs, N)} µs | Redis reserve+failed ${micros(throttleSharedMs, N)} µs (two round trips)`);

  // Instance A publishes; the subscriber on instance B times each event from publish to delivery.
  const [busA, busB] = [createEventBus(links[0]), createEventBus(links[1])];
  const events = Math.min(N, 5000);
  const latencies: number[] = [];
  const received = busB.subscribe('loginEvents');
  const done = (async () => {
    for await (const event of received) {
      latencies.push(performance.now() - Number(event.reason));
      if (latencies.length === events) return;
    }
  })();
  await Bun.sleep(50);
  // Latency alone: one event at a time, the next once the last arrived.
  const single: number[] = [];
  const iterator = busB.subscribe('jobCompleted')[Symbol.asyncIterator]();
  const first = iterator.next();
  await Bun.sleep(20);
  let next = first;
  for (let i = 0; i < 1000; i++) {
    const sentAt = performance.now();
    busA.publish('jobCompleted', { id: i } as never);
    await next;
    single.push(performance.now() - sentAt);
    next = iterator.next();
  }
  single.sort((x, y) => x - y);
  console.log(`event A→B        one at a time (1000): p50 ${percentile(single, 50).toFixed(3)} ms, p99 ${percentile(single, 99).toFixed(3)} ms`);
  const sendStart = performance.now();
  for (let i = 0; i < events; i++) {
    busA.publish('loginEvents', { username: 'bench', success: true, reason: String(performance.now()), clientAddress: null, at: new Date() });
    // One event per tick, as logins come: each its own Redis message.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  const totalMs = performance.now() - sendStart;
  latencies.sort((x, y) => x - y);
  console.log(
    `event A→B        ${events} events, one a tick, not waiting: p50 ${percentile(latencies, 50).toFixed(3)} ms, p99 ${percentile(latencies, 99).toFixed(3)} ms, ${Math.round(events / (totalMs / 1000))} events/s (in process: delivered synchronously by publish)`,
  );
  received.return();
} finally {
  for (const link of links) link.close();
  await redis.stop();
}
