// The WAL checkpointer's thread (see ./checkpointer.ts): its own connection to the database file copies committed
// WAL frames into it, so the writer's commits no longer stop for that copy and its fsyncs.
/// <reference lib="webworker" />
import { Database } from 'bun:sqlite';
import type { CheckpointerMessage } from './checkpointer';

declare const self: Worker;

/** After the writer says it wrote, wait this long so that one checkpoint takes several commits' frames. */
const GATHER_MS = 5;

self.onmessage = (event: MessageEvent<CheckpointerMessage>) => {
  const { path, flag } = event.data;
  const written = new Int32Array(flag);
  const connection = new Database(path);
  connection.run('PRAGMA busy_timeout = 0');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  // Blocks while nothing is written (no CPU at idle); 1 asks it to checkpoint, 2 to close.
  for (;;) {
    Atomics.wait(written, 0, 0);
    if (Atomics.load(written, 0) === 2) break;
    Atomics.wait(nap, 0, 0, GATHER_MS);
    // Cleared before the checkpoint: a commit meanwhile sets it again, and its frames get the next one.
    if (Atomics.compareExchange(written, 0, 1, 0) === 2) break;
    try {
      connection.run('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // Busy (a checkpoint of the writer's own, or the file closing): the next commit asks again.
    }
  }
  connection.close();
  self.postMessage('closed');
};
