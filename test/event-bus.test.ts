// The event bus skips dispatching an event nobody on this instance listens to (src/events.ts): these check that
// every listener still hears what it listens to, whatever came and went before it. The subscriptions over HTTP and
// WebSocket are tested end to end in jobs.test.ts, event-cursors.test.ts and event-cluster.test.ts.
import { describe, expect, test } from 'bun:test';
import type { Job } from '../src/db/schema';
import { createEventBus } from '../src/events';

const job = (id: number) => ({ id, status: 'SUCCEEDED' }) as Job;

/** The next value of a subscription, or 'none' if it has nothing after the current turn of the event loop. */
async function next<T>(stream: AsyncIterator<T>): Promise<T | 'none'> {
  const value = stream.next().then((result) => result.value as T);
  return Promise.race([value, new Promise<'none'>((resolve) => setTimeout(() => resolve('none'), 20))]);
}

describe('the event bus', () => {
  test('a subscriber hears its job’s events and no other job’s; one leaving does not mute another on the same job', async () => {
    const bus = createEventBus();
    const first = bus.subscribe('jobUpdated', 1);
    const second = bus.subscribe('jobUpdated', 1);
    const other = bus.subscribe('jobUpdated', 2);
    // A Repeater starts listening when first read.
    const firstNext = next(first);
    const secondNext = next(second);
    const otherNext = next(other);
    bus.publish('jobUpdated', 1, job(1));
    expect(await firstNext).toEqual(job(1));
    expect(await secondNext).toEqual(job(1));
    expect(await otherNext).toBe('none');
    await first.return?.();
    const again = next(second);
    bus.publish('jobUpdated', 1, { ...job(1), status: 'FAILED' });
    expect(await again).toEqual({ ...job(1), status: 'FAILED' });
    await second.return?.();
    await other.return?.();
  });

  test('an `on` listener hears unkeyed events; removing another twice does not take it away', () => {
    const bus = createEventBus();
    const heard: number[] = [];
    const removeOther = bus.on('jobCompleted', () => {});
    bus.on('jobCompleted', (completed) => heard.push(completed.id));
    removeOther();
    removeOther();
    bus.publish('jobCompleted', job(7));
    expect(heard).toEqual([7]);
  });

  test('nobody listening: publishing is a no-op, and a listener added later hears the next event', () => {
    const bus = createEventBus();
    bus.publish('jobCompleted', job(1));
    const heard: number[] = [];
    bus.on('jobCompleted', (completed) => heard.push(completed.id));
    bus.publish('jobCompleted', job(2));
    expect(heard).toEqual([2]);
  });
});
