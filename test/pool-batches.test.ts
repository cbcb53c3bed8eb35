// The pool sends a worker the tasks of one turn in one message and the worker sends back the results of one turn in
// one message (src/pool/pool.ts, serve.ts): a worker that dies must still be blamed on the task it was running, and
// the tasks it had finished but not yet reported run again, never fail.
import { afterEach, describe, expect, test } from 'bun:test';
import { TaskError, WorkerPool } from '../src/pool/pool';

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});
const poolOf = (size: number, onWorkerReplaced?: (why: string) => void) => {
  const pool = new WorkerPool({ size, pipelineDepth: 8, onWorkerReplaced });
  pools.push(pool);
  return pool;
};
const diagnostic = (pool: WorkerPool, behavior: string, durationMs = 0) => pool.run<{ behavior: string }>('diagnostic', { behavior, durationMs });
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: TaskError) => ({ ok: false as const, message: error.message, reason: error.reason }),
  );

describe('tasks and results in batches', () => {
  test('a crash in a batch is blamed on the task that ran it; the tasks around it succeed or fail on their own', async () => {
    const replaced: string[] = [];
    const pool = poolOf(1, (why) => replaced.push(why));
    // One turn: all six leave in one message to the one worker.
    const behaviors = ['SUCCEED', 'THROW', 'SUCCEED', 'EXIT', 'SUCCEED', 'THROW'];
    const outcomes = await Promise.all(behaviors.map((behavior) => outcome(diagnostic(pool, behavior))));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['ok', 'kernel', 'ok', 'crash', 'ok', 'kernel']);
    expect(outcomes[1]).toMatchObject({ message: 'diagnostic kernel failed on purpose' });
    expect(outcomes[3]).toMatchObject({ message: expect.stringContaining('the worker running it crashed') });
    expect(replaced).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ started: 1, tasksRunning: 0, tasksQueued: 0 });
  });

  test('a task awaiting something when another kills its worker runs again and succeeds', async () => {
    const pool = poolOf(1);
    // SLEEP awaits a timer when EXIT, in the same batch, ends the worker: only EXIT is to blame.
    const outcomes = await Promise.all(['SUCCEED', 'SUCCEED', 'SLEEP', 'EXIT'].map((behavior) => outcome(diagnostic(pool, behavior, 50))));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['ok', 'ok', 'ok', 'crash']);
  });

  test('many short tasks on one worker all come back, in batches, each to its own caller', async () => {
    const pool = poolOf(1);
    const results = await Promise.all(Array.from({ length: 2_000 }, (_, i) => pool.run<number>('pi.count', { samples: 100, seed: i })));
    expect(results).toHaveLength(2_000);
    for (const count of results) expect(count).toBeGreaterThanOrEqual(0);
    // The same seed gives the same count, whichever batch it travelled in.
    expect(await pool.run<number>('pi.count', { samples: 100, seed: 7 })).toBe(results[7]!);
  });

  test('results already made leave the worker before a later task of their batch that runs long', async () => {
    const pool = poolOf(1);
    // One message: a quick task, one that counts for a while, then one that spins until its timeout. The first two's
    // results leave before the spinning one starts (the counting one started more than RESULT_WAIT_MS before); held
    // for the whole batch, they would be lost with the replaced worker and come back only after the timeout, run again.
    let hangSettled = false;
    const first = [diagnostic(pool, 'SUCCEED'), pool.run<number>('pi.count', { samples: 20_000_000, seed: 1 })] as const;
    const hang = outcome(pool.run('diagnostic', { behavior: 'HANG', durationMs: 0 }, { timeoutMs: 1_500 })).finally(() => (hangSettled = true));
    const [quick, counted] = await Promise.all(first);
    expect(quick).toMatchObject({ behavior: 'SUCCEED' });
    expect(counted).toBeGreaterThan(0);
    expect(hangSettled).toBe(false);
    expect(await hang).toMatchObject({ ok: false, reason: 'timeout' });
  });

  test('a task cancelled in a batch stops alone; the others finish', async () => {
    const pool = poolOf(1);
    const controller = new AbortController();
    const sleeping = outcome(pool.run('diagnostic', { behavior: 'SLEEP', durationMs: 2_000 }, { signal: controller.signal }));
    const others = ['SUCCEED', 'SUCCEED'].map((behavior) => outcome(diagnostic(pool, behavior)));
    setTimeout(() => controller.abort(), 20);
    expect(await sleeping).toMatchObject({ ok: false, reason: 'cancelled' });
    expect((await Promise.all(others)).every((o) => o.ok)).toBe(true);
    expect(await outcome(diagnostic(pool, 'SUCCEED'))).toMatchObject({ ok: true });
  });
});

describe('a task’s abort signal', () => {
  test('an abort sent before the kernel first looks at its signal is seen when it looks', async () => {
    const replaced: string[] = [];
    const pool = new WorkerPool({ size: 1, pipelineDepth: 8, workerUrl: new URL('./fixtures/late-signal-worker.ts', import.meta.url), onWorkerReplaced: (why) => replaced.push(why) });
    pools.push(pool);
    const controller = new AbortController();
    const task = outcome(pool.run('lateLook', { afterMs: 100 }, { signal: controller.signal, abortGraceMs: 10_000 }));
    await Bun.sleep(20);
    controller.abort();
    expect(await task).toMatchObject({ ok: false, reason: 'cancelled' });
    // The kernel saw the abort and returned within its grace: the worker was kept, not replaced.
    while (pool.stats().tasksRunning > 0) await Bun.sleep(10);
    expect(replaced).toEqual([]);
    expect(pool.stats().started).toBe(1);
  });

  test('a task aborted while its batch is still being started never starts', async () => {
    const replaced: string[] = [];
    const pool = new WorkerPool({ size: 1, pipelineDepth: 8, workerUrl: new URL('./fixtures/late-signal-worker.ts', import.meta.url), onWorkerReplaced: (why) => replaced.push(why) });
    pools.push(pool);
    const controller = new AbortController();
    // One batch: the first keeps the worker busy, so the second waits in it when the abort comes.
    const busy = pool.run('busy', { ms: 300 });
    const waiting = outcome(pool.run('lateLook', { afterMs: 0 }, { signal: controller.signal, abortGraceMs: 10_000 }));
    await Bun.sleep(50);
    controller.abort();
    expect(await waiting).toMatchObject({ ok: false, reason: 'cancelled' });
    expect(await busy).toBe('done');
    while (pool.stats().tasksRunning > 0) await Bun.sleep(10);
    expect(replaced).toEqual([]);
  });
});

describe('task timeouts (one timer for the earliest deadline)', () => {
  test('a task past its timeout fails and its worker is replaced; a task sent later with an earlier deadline is not held to the later one', async () => {
    const pool = poolOf(1);
    const run = (behavior: string, timeoutMs: number | undefined, durationMs = 0) => outcome(pool.run('diagnostic', { behavior, durationMs }, { timeoutMs }));
    const [hang, ok] = await Promise.all([run('HANG', 150), run('SUCCEED', undefined)]);
    expect(hang).toMatchObject({ ok: false, reason: 'timeout', message: 'timed out after 150 ms' });
    expect(ok).toMatchObject({ ok: true });
    // The first sets the timer a minute out; the second's deadline comes first and must move it.
    const [slow, stuck] = await Promise.all([run('SLEEP', 60_000, 30), run('HANG', 100)]);
    expect(stuck).toMatchObject({ ok: false, reason: 'timeout', message: 'timed out after 100 ms' });
    expect(slow).toMatchObject({ ok: true });
  });

  test('a task queued behind a hung one on its worker is not timed out for waiting: its clock starts when it starts', async () => {
    const pool = poolOf(1);
    const run = (behavior: string, timeoutMs: number) => outcome(pool.run('diagnostic', { behavior, durationMs: 0 }, { timeoutMs }));
    // One message: the second never starts while the first spins. Sent 150 ms before its turn, it still had its 150 ms.
    const [hang, queued] = await Promise.all([run('HANG', 400), run('SUCCEED', 150)]);
    expect(hang).toMatchObject({ ok: false, reason: 'timeout', message: 'timed out after 400 ms' });
    expect(queued).toMatchObject({ ok: true });
  });

  test('a running task read from its worker’s ledger keeps its own deadline when another worker’s task times out', async () => {
    const pool = poolOf(2);
    const run = (behavior: string, timeoutMs: number, durationMs = 0) => outcome(pool.run('diagnostic', { behavior, durationMs }, { timeoutMs }));
    // The sweep for the hung task (100 ms) reads when the sleeping one started, on the other worker: its deadline,
    // 5 s after that start, is not due (a start time read in the wrong clock would put it in the past).
    const [sleeping, hung] = await Promise.all([run('SLEEP', 5_000, 400), run('HANG', 100)]);
    expect(hung).toMatchObject({ ok: false, reason: 'timeout' });
    expect(sleeping).toMatchObject({ ok: true });
  });

  test('a task that hangs once its turn comes times out from its own start', async () => {
    const replaced: string[] = [];
    const pool = poolOf(1, (why) => replaced.push(why));
    const run = (behavior: string, timeoutMs: number) => outcome(pool.run('diagnostic', { behavior, durationMs: 0 }, { timeoutMs }));
    // The second waits out the first (not timed out meanwhile), starts on the replacement worker, and hangs in turn.
    const [first, second] = await Promise.all([run('HANG', 200), run('HANG', 100)]);
    expect(first).toMatchObject({ ok: false, reason: 'timeout', message: 'timed out after 200 ms' });
    expect(second).toMatchObject({ ok: false, reason: 'timeout', message: 'timed out after 100 ms' });
    expect(replaced).toHaveLength(2);
  });
});
