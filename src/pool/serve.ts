// A worker's task loop: runs the kernel named by each task and reports progress and results. Each worker entry
// (pool/worker.ts: the kernels; kinds/worker.ts: those and kind files) serves its kernels through this.
/// <reference lib="webworker" />
import { type Kernel, KernelInputError } from '../compute/kernel';
import type { FromWorker, ToWorker } from './protocol';

declare const self: Worker;

export function serveKernels(kernels: Record<string, Kernel>): void {
  const post = (message: FromWorker) => self.postMessage(message);
  const running = new Map<number, AbortController>();

  self.onmessage = async (event: MessageEvent<ToWorker>) => {
    if (event.data.type === 'abort') {
      running.get(event.data.taskId)?.abort(new Error('cancelled or timed out'));
      return;
    }
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
    const controller = new AbortController();
    running.set(taskId, controller);
    try {
      const value = await kernel(input, { progress, signal: controller.signal });
      post({ type: 'result', taskId, ok: true, value });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      post({ type: 'result', taskId, ok: false, error: message, permanent: error instanceof KernelInputError });
    } finally {
      running.delete(taskId);
    }
  };
}
