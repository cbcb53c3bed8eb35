// A throwaway redis-server on a free loopback port, for the tests of what instances share through Redis.
import type { Subprocess } from 'bun';
import { optionalTool } from './required';

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGKILL: an outage, not a shutdown); `start` brings it back on the same port, empty. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Whether Debian's redis-server is installed; tests that need one skip (with a message) when it is not (not in CI). */
export const redisServerPath = optionalTool(Bun.which('redis-server'), 'redis-server');

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function startOn(port: number): Promise<Subprocess<'ignore', 'pipe', 'inherit'>> {
  const child = Bun.spawn([redisServerPath!, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let output = '';
  while (!output.includes('Ready to accept connections')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`redis-server on port ${port} exited: ${output.slice(-500)}`);
    output += decoder.decode(value, { stream: true });
  }
  // Keep draining its log so the pipe never fills.
  void (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return child;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: Subprocess<'ignore', 'pipe', 'inherit'> | null = await startOn(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      child?.kill('SIGKILL');
      await child?.exited;
      child = null;
    },
    async start() {
      child ??= await startOn(port);
    },
  };
}
