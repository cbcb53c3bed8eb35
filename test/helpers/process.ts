import { ANALYTICS_FIXTURE } from './server';
import type { Subprocess } from 'bun';

export interface ServerProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
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

/** Starts `bun src/main.ts` as a real process and waits for its "listening" log line. */
export async function spawnServer(env: Record<string, string>, timeoutMs = 15_000): Promise<ServerProcess> {
  const baseEnv = { ...process.env };
  for (const name of ['ADMIN_PASSWORD', 'ADMIN_USERNAME', 'PORT', 'DATABASE_PATH', 'LOG_FILE', 'WORKERS']) delete baseEnv[name];
  const proc = Bun.spawn(['bun', 'src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...baseEnv, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_PER_SECOND: '0', ANALYTICS_CSV: ANALYTICS_FIXTURE, ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const out = { text: '' };
  const err = { text: '' };
  void collect(proc.stdout, out);
  void collect(proc.stderr, err);
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    const line = out.text.split('\n').find((l) => l.includes('"jobgraph listening"'));
    if (line) url = JSON.parse(line).url as string;
    else if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}: ${err.text}${out.text}`);
    else if (Date.now() > deadline) throw new Error(`server did not start: ${err.text}${out.text}`);
    else await Bun.sleep(25);
  }
  return {
    proc,
    url,
    stdout: () => out.text,
    stderr: () => err.text,
    async stop(signal = 'SIGTERM') {
      proc.kill(signal);
      return proc.exited;
    },
  };
}
