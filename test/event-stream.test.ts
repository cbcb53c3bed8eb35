// A subscriber's stream (src/event-stream.ts, behind the event bus's `subscribe`): it listens from its first pull,
// keeps order, ends a reader that fell too far behind with an error after what it had not read, and stops listening
// when the reader leaves. End to end (SSE, WebSocket) in slow-readers.test.ts, subscriptions.test.ts, jobs.test.ts.
import { describe, expect, test } from 'bun:test';
import { EventStream } from '../src/event-stream';

/** A source the stream listens to: `emit` pushes to it while it listens; `listening` says whether it does. */
function source(maxUnread = 4) {
  let push: ((value: number) => void) | null = null;
  const stream = new EventStream<number>(
    (p) => {
      push = p;
      return () => (push = null);
    },
    maxUnread,
    () => new Error('fell behind'),
  );
  return {
    stream,
    emit: (...values: number[]) => values.forEach((value) => push?.(value)),
    get listening() {
      return push !== null;
    },
  };
}

describe('a subscriber’s event stream', () => {
  test('listens from its first pull, and gives what came after in order, waiting or not', async () => {
    const s = source();
    s.emit(1); // nobody listens yet
    expect(s.listening).toBe(false);
    const first = s.stream.next();
    expect(s.listening).toBe(true);
    s.emit(2, 3);
    expect(await first).toEqual({ done: false, value: 2 });
    expect(await s.stream.next()).toEqual({ done: false, value: 3 });
    // Two pulls waiting at once get the next two, in order.
    const [a, b] = [s.stream.next(), s.stream.next()];
    s.emit(4, 5);
    expect([await a, await b]).toEqual([
      { done: false, value: 4 },
      { done: false, value: 5 },
    ]);
  });

  test('a reader past the bound gets what it had not read, then the error once, then the end; listening stops', async () => {
    const s = source(4);
    void s.stream.next();
    await Bun.sleep(0);
    s.emit(1); // taken by the waiting pull
    s.emit(2, 3, 4, 5, 6); // 2–5 wait; 6 is one too many
    expect(s.listening).toBe(false);
    const read: number[] = [];
    let failure: unknown;
    try {
      for (;;) {
        const next = await s.stream.next();
        if (next.done) break;
        read.push(next.value);
      }
    } catch (error) {
      failure = error;
    }
    expect(read).toEqual([2, 3, 4, 5]);
    expect((failure as Error).message).toBe('fell behind');
    expect(await s.stream.next()).toEqual({ done: true, value: undefined });
  });

  test('return() ends it at once: waiting pulls end, unread values are dropped, listening stops', async () => {
    const s = source();
    const waiting = s.stream.next();
    await s.stream.return();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(s.listening).toBe(false);
    const t = source();
    void t.stream.next();
    t.emit(1, 2, 3);
    await t.stream.return();
    expect(await t.stream.next()).toEqual({ done: true, value: undefined });
  });

  test('a reader that stays a few behind gets every value in order, however many pass', async () => {
    const s = source(16);
    const read: number[] = [];
    void s.stream.next().then((r) => read.push(r.value as number));
    for (let n = 1; n <= 5_000; n++) {
      s.emit(n);
      // Always about ten behind: the unread part never empties, and must still be kept in order.
      if (n > 10) read.push(((await s.stream.next()) as IteratorYieldResult<number>).value);
    }
    for (let next = s.stream.next(); read.length < 5_000; next = s.stream.next()) read.push(((await next) as IteratorYieldResult<number>).value);
    expect(read).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
  });
});
