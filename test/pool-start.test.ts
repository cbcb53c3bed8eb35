// The worker pool starts `startWith` workers at once and the others only when work finds every started one busy
// (src/pool/pool.ts): a server with many cores and no jobs yet holds one Bun Worker, not one per core.
import { afterEach, describe, expect, test } from 'bun:test';
import { WorkerPool } from '../src/pool/pool';

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});
const poolOf = (size: number, startWith?: number) => {
  const pool = new WorkerPool({ size, startWith });
  pools.push(pool);
  return pool;
};
const countInside = (pool: WorkerPool, seed: number) => pool.run<number>('pi.count', { samples: 200_000, seed });

describe('workers started when work needs them', () => {
  test('one started at first; a second starts when a task finds it busy; never more than the size', async () => {
    const pool = poolOf(3, 1);
    expect(pool.stats()).toMatchObject({ size: 3, started: 1, busy: 0, idle: 3 });
    expect(pool.size).toBe(3);
    const alone = await countInside(pool, 1);
    // One task at a time: the started worker takes each.
    expect(pool.stats().started).toBe(1);
    const [again, other] = await Promise.all([countInside(pool, 1), countInside(pool, 2)]);
    expect(again).toBe(alone);
    expect(other).toBeNumber();
    expect(pool.stats().started).toBe(2);
    const many = await Promise.all(Array.from({ length: 12 }, (_, seed) => countInside(pool, seed)));
    expect(many[1]).toBe(alone);
    expect(pool.stats()).toMatchObject({ started: 3, busy: 0, tasksQueued: 0 });
  });

  test('without startWith, every worker starts at once', () => {
    expect(poolOf(3).stats()).toMatchObject({ size: 3, started: 3 });
  });
});
