/**
 * Per-request batching (the DataLoader idea): the keys that resolvers of one request ask for while a level of the
 * query resolves are loaded with one call, and each key once per step. Turns N+1 reads (one per item of a list) into one.
 */
export function batchLoader<Context extends object, Key, Value>(load: (context: Context, keys: Key[]) => Promise<Map<Key, Value>>) {
  interface Waiter {
    resolve(value: Value | undefined): void;
    reject(error: unknown): void;
  }
  interface Batch {
    loaded: Map<Key, Promise<Value | undefined>>;
    waiting: Map<Key, Waiter>;
  }
  const batches = new WeakMap<Context, Batch>();

  async function flush(context: Context, batch: Batch): Promise<void> {
    // A batch lives one step: a subscription reuses its context for every event, and must not keep every value it
    // ever loaded (a calc job's input is megabytes).
    if (batches.get(context) === batch) batches.delete(context);
    const waiting = batch.waiting;
    batch.waiting = new Map();
    try {
      const values = await load(context, [...waiting.keys()]);
      for (const [key, waiter] of waiting) waiter.resolve(values.get(key));
    } catch (error) {
      for (const waiter of waiting.values()) waiter.reject(error);
    }
  }

  return (context: Context, key: Key): Promise<Value | undefined> => {
    let batch = batches.get(context);
    if (!batch) batches.set(context, (batch = { loaded: new Map(), waiting: new Map() }));
    const known = batch.loaded.get(key);
    if (known) return known;
    const current = batch;
    const promise = new Promise<Value | undefined>((resolve, reject) => {
      // After every resolver of this step has run (their promises settled), not before.
      if (current.waiting.size === 0) setImmediate(() => void flush(context, current));
      current.waiting.set(key, { resolve, reject });
    });
    batch.loaded.set(key, promise);
    return promise;
  };
}
