// The event bus's two audiences: subscribers (every copy of an event, from this instance, Redis or the job event
// log, delivered once per deliverOnce key) and `on` listeners (this instance's own counts: the pool statistics,
// metrics), which hear each of this instance's own events once and never another instance's.
//
// The race this pins: on PostgreSQL the job event log (NOTIFY at commit) can bring an outcome to this instance's
// subscribers before the runner that committed it publishes it. The `on` listeners used to hear an event only as
// part of the subscribers' delivery, so that job was never counted: workerPool's statistics waited 60 s for a job
// that had SUCCEEDED (console.test.ts, beside a second suite at load 25). Through the real endpoint that test covers
// the ordinary order; the racy order is set up here directly, where it can be made to happen every time.
import { describe, expect, test } from 'bun:test';
import type { Job } from '../src/db/schema';
import { createEventBus } from '../src/events';

const finalKey = (job: Job) => `${job.id}:${job.status}:${job.finishedAt?.getTime() ?? ''}`;
const succeeded = (id: number) => ({ id, status: 'SUCCEEDED', finishedAt: new Date(1_700_000_000_000 + id) }) as Job;

async function collect(bus: ReturnType<typeof createEventBus>) {
  const heard: number[] = [];
  const stream = bus.subscribe('jobCompleted');
  const reading = (async () => {
    for await (const job of stream) heard.push(job.id);
  })();
  await Bun.sleep(0); // the Repeater listens from its first pull
  return {
    heard,
    async stop() {
      await Bun.sleep(0);
      await stream.return?.();
      await reading;
    },
  };
}

describe('the event bus: subscribers and `on` listeners', () => {
  test('an outcome the event log delivered first is still counted once by this instance’s listeners', async () => {
    const bus = createEventBus();
    bus.deliverOnce('jobCompleted', finalKey);
    const counted: number[] = [];
    bus.on('jobCompleted', (job) => counted.push(job.id));
    const subscriber = await collect(bus);

    bus.publishRemote('jobCompleted', succeeded(1)); // the event log's copy, first
    bus.publish('jobCompleted', succeeded(1)); // then the runner's own publish
    await subscriber.stop();

    expect(subscriber.heard).toEqual([1]);
    expect(counted).toEqual([1]);
  });

  test('own events are counted once per key, another instance’s never', async () => {
    const bus = createEventBus();
    bus.deliverOnce('jobCompleted', finalKey);
    const counted: number[] = [];
    bus.on('jobCompleted', (job) => counted.push(job.id));
    const subscriber = await collect(bus);

    bus.publish('jobCompleted', succeeded(2));
    bus.publish('jobCompleted', succeeded(2)); // the same final state again: once
    bus.publishRemote('jobCompleted', succeeded(2)); // and its event-log copy after: nothing
    bus.publishRemote('jobCompleted', succeeded(3)); // another instance's job: subscribers only
    await subscriber.stop();

    expect(subscriber.heard).toEqual([2, 3]);
    expect(counted).toEqual([2]);
  });

  test('a listener that throws is reported, never thrown at the publisher; the others still hear it', () => {
    const bus = createEventBus();
    const counted: number[] = [];
    const reported: unknown[] = [];
    const report = globalThis.reportError;
    globalThis.reportError = (error: unknown) => reported.push(error);
    try {
      bus.on('jobCompleted', () => {
        throw new Error('a broken counter');
      });
      const stop = bus.on('jobCompleted', (job) => counted.push(job.id));
      expect(() => bus.publish('jobCompleted', succeeded(4))).not.toThrow();
      stop();
      bus.publish('jobCompleted', succeeded(5));
    } finally {
      globalThis.reportError = report;
    }
    expect(counted).toEqual([4]);
    expect(reported.map((error) => (error as Error).message)).toEqual(['a broken counter', 'a broken counter']);
  });
});
