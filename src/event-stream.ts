// One subscriber's stream of events (src/events.ts `subscribe`): values the reader has not pulled yet wait in order, up
// to a bound past which the stream ends with an error (a reader that stopped pulling must not hold memory without
// end). It listens from its first pull, as Yoga's Repeater-based streams did: a caller may pull first, then read the
// state the events will change, and miss nothing between the two.
//
// It replaces a Repeater here (~2.5 µs an event delivered, several promises per push, against ~0.3): events reach
// every subscription of every job change. Semantics kept: after the error, the values pushed before it are still
// read, then the error once, then the stream is done; `return()` ends it at once and drops what was unread.

type Waiter<T> = { resolve(result: IteratorResult<T>): void; reject(error: unknown): void };

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export class EventStream<T> implements AsyncIterableIterator<T> {
  private unread: T[] = [];
  /** Index of the oldest unread value (the array is compacted when emptied). */
  private head = 0;
  private readonly waiters: Waiter<T>[] = [];
  private state: 'idle' | 'listening' | 'ended' = 'idle';
  /** The error the stream ended with, until a pull has taken it. */
  private failure: { error: unknown } | null = null;
  private unlisten: (() => void) | null = null;

  /**
   * @param listen starts delivering values to `push` (called at the first pull) and returns how to stop.
   * @param maxUnread values a reader may leave unread; one more ends the stream with `overflow()`.
   */
  constructor(
    private readonly listen: (push: (value: T) => void) => () => void,
    private readonly maxUnread: number,
    private readonly overflow: () => Error,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.state === 'idle') {
      this.state = 'listening';
      this.unlisten = this.listen((value) => this.push(value));
    }
    if (this.head < this.unread.length) return Promise.resolve({ done: false, value: this.take() });
    if (this.state === 'ended') {
      const failure = this.failure;
      this.failure = null;
      return failure ? Promise.reject(failure.error) : Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.end(null);
    this.unread = [];
    this.head = 0;
    this.failure = null;
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  private push(value: T): void {
    if (this.state !== 'listening') return;
    const waiter = this.waiters.shift();
    if (waiter) return waiter.resolve({ done: false, value });
    if (this.unread.length - this.head >= this.maxUnread) return this.end({ error: this.overflow() });
    this.unread.push(value);
  }

  private take(): T {
    const value = this.unread[this.head]!;
    this.unread[this.head++] = undefined as T;
    if (this.head === this.unread.length) {
      this.unread = [];
      this.head = 0;
    } else if (this.head >= 1024 && 2 * this.head >= this.unread.length) {
      // A reader that keeps a few behind never empties it: the read part is dropped now and then.
      this.unread = this.unread.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  /** Stops listening; pulls waiting now get the error (the first of them) or the end. */
  private end(failure: { error: unknown } | null): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.unlisten?.();
    this.unlisten = null;
    this.failure = failure;
    // Waiting pulls mean nothing was unread: the error (if any) goes to the first, the end to the others.
    for (const waiter of this.waiters.splice(0)) {
      if (this.failure) {
        waiter.reject(this.failure.error);
        this.failure = null;
      } else waiter.resolve(DONE);
    }
  }
}
