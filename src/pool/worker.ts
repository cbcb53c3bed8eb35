// The one worker entry point: runs the kernel named by each task and reports progress and results.
/// <reference lib="webworker" />
import { KernelInputError } from '../compute/kernel';
import { kernels } from '../compute/kernels';
import type { FromWorker, ToWorker } from './protocol';

declare const self: Worker;
const post = (message: FromWorker) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const { taskId, kind, input } = event.data;
  const kernel = kernels[kind];
  if (!kernel) {
    post({ type: 'result', taskId, ok: false, error: `no kernel named "${kind}"`, permanent: true });
    return;
  }
  // Progress is throttled here (about 10 a second) so a tight loop cannot flood the main thread.
  let lastProgressAt = 0;
  const progress = (fraction: number) => {
    const now = performance.now();
    if (now - lastProgressAt < 100 && fraction < 1) return;
    lastProgressAt = now;
    post({ type: 'progress', taskId, value: Math.max(0, Math.min(1, fraction)) });
  };
  try {
    const value = await kernel(input, { progress });
    post({ type: 'result', taskId, ok: true, value });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    post({ type: 'result', taskId, ok: false, error: message, permanent: error instanceof KernelInputError });
  }
};
