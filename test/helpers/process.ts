import { ANALYTICS_FIXTURE } from './server';
import { SERVER_COMMAND } from './server-bundle';
import { TEST_ALLOCATOR } from '../../scripts/lib/test-passes';
import type { Subprocess } from 'bun';
import { readFileSync } from 'node:fs';

export interface ServerProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** The GraphQL URL, once the server said it listens. */
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

/**
 * A spawned test server lives seconds: JSC's optimizing (DFG) tier compiles code it never runs long enough to repay.
 * Without it the eight files that spawn the most servers took 29.1 / 32.1 s of CPU against 35.4 / 40.0 s with it,
 * alternating (session 12). And its allocator keeps the pages it freed (TEST_ALLOCATOR). Servers started from source
 * (SOURCE_SERVER_COMMAND) run as a person starts them.
 */
const SHORT_LIVED = { BUN_JSC_useDFGJIT: '0', ...TEST_ALLOCATOR };

/**
 * Starts jobgraph as a real process, without waiting for anything: src/main.ts bundled (test/helpers/server-bundle.ts),
 * or `command` (SOURCE_SERVER_COMMAND: `bun src/main.ts` as a person starts it).
 */
export function spawnProcess(env: Record<string, string>, command = SERVER_COMMAND): ServerProcess {
  const baseEnv = { ...process.env };
  for (const name of ['ADMIN_PASSWORD', 'ADMIN_USERNAME', 'PORT', 'DATABASE_PATH', 'LOG_FILE', 'WORKERS']) delete baseEnv[name];
  const proc = Bun.spawn(command, {
    cwd: new URL('../..', import.meta.url).pathname,
    // Argon2id at its cheapest (src/main.ts); a test that checks the production cost passes JOBGRAPH_TEST_CHEAP_PASSWORD_HASH: ''.
    env: {
      ...baseEnv,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_SECOND: '0',
      ANALYTICS_CSV: ANALYTICS_FIXTURE,
      JOBGRAPH_TEST_CHEAP_PASSWORD_HASH: '1',
      ...(command === SERVER_COMMAND ? SHORT_LIVED : {}),
      ...env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const out = { text: '' };
  const err = { text: '' };
  void collect(proc.stdout, out);
  void collect(proc.stderr, err);
  return {
    proc,
    url: '',
    stdout: () => out.text,
    stderr: () => err.text,
    async stop(signal = 'SIGTERM') {
      proc.kill(signal);
      return proc.exited;
    },
  };
}

/** Starts jobgraph as a real process (see spawnProcess) and waits for its "listening" log line. */
// 60 s: a start on a busy 2-core machine (another suite beside this one) has taken over 15 s; the bound only shows on a failure.
export async function spawnServer(env: Record<string, string>, timeoutMs = 60_000, command = SERVER_COMMAND): Promise<ServerProcess> {
  const server = spawnProcess(env, command);
  const deadline = Date.now() + timeoutMs;
  while (!server.url) {
    const line = server.stdout().split('\n').find((l) => l.includes('"jobgraph listening"'));
    if (line) server.url = JSON.parse(line).url as string;
    else if (server.proc.exitCode !== null) throw new Error(`server exited with ${server.proc.exitCode}: ${server.stderr()}${server.stdout()}`);
    else if (Date.now() > deadline) throw new Error(`server did not start: ${server.stderr()}${server.stdout()}`);
    else await Bun.sleep(25);
  }
  return server;
}

/** The pid of the quote server child a jobgraph started, from its "quote server started" log line (LOG_LEVEL=info). */
export function embeddedQuoteServerPid(server: ServerProcess): number | undefined {
  const line = server.stdout().split('\n').find((l) => l.includes('"quote server started"'));
  return line ? (JSON.parse(line).pid as number) : undefined;
}

/** Whether a process runs; an exited child not yet reaped by its new parent (a zombie) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(pid, 0) said it runs
  }
}

/** Polls until the process is gone; false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(25);
  }
  return true;
}

/** The exit code once the process exits, or 'still running' if it has not after `timeoutMs`. */
export async function exitCodeWithin(proc: Subprocess<any, any, any>, timeoutMs: number): Promise<number | 'still running'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), timeoutMs)));
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
