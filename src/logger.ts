import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Keys that must never reach a log line, wherever they appear in a logged object. */
const REDACTED_PATHS = [
  'password', '*.password', 'newPassword', '*.newPassword', 'currentPassword', '*.currentPassword',
  'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'variables.password',
  'variables.input.password', 'variables.newPassword', 'variables.currentPassword',
];

/**
 * LOG_FORMAT=pretty: stdout for a person at a terminal (pino-pretty: coloured levels, the time, the message, the
 * fields indented below), loaded only then. LOG_FILE stays JSON, for machines.
 */
function prettyStdout(): pino.DestinationStream {
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({ destination: 1, sync: false, colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/** Each logger's destinations, for {@link closeLogger}. */
const destinations = new WeakMap<Logger, pino.DestinationStream[]>();

/**
 * Resolves once every line logged so far is written, at most `timeoutMs` later (a stdout nobody reads must not keep
 * the process): call it before process.exit. Without it, lines queued behind a full pipe were lost or reordered —
 * pino's exit hook writes its queue at once but skips the chunk the pipe made it retry, so `jobgraph stopped` came
 * out and the `shutdown timeout` warning before it never did.
 */
export async function closeLogger(log: Logger, timeoutMs = 5000): Promise<void> {
  const written = (destinations.get(log) ?? []).map(
    (stream) =>
      new Promise<void>((resolve) => {
        const emitter = stream as unknown as NodeJS.EventEmitter & { end(): void };
        emitter.once('close', () => resolve());
        emitter.once('error', () => resolve());
        emitter.end();
      }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.all(written), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}

/** JSON lines with UTC ISO timestamps (or, LOG_FORMAT=pretty, readable lines), to stdout and optionally to LOG_FILE as well. */
export function createLogger(options: { level: string; file?: string; stdout?: boolean; format?: 'json' | 'pretty' }): Logger {
  const streams: pino.StreamEntry[] = [];
  if (options.stdout !== false) streams.push({ level: options.level as pino.Level, stream: options.format === 'pretty' ? prettyStdout() : pino.destination({ dest: 1, sync: false }) });
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    // pino opens the file asynchronously and would report a directory or a read-only file as a crash later.
    closeSync(openSync(options.file, 'a'));
    streams.push({ level: options.level as pino.Level, stream: pino.destination({ dest: options.file, sync: false, mkdir: true }) });
  }
  const log = pino(
    {
      level: options.level,
      base: { service: 'jobgraph' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.multistream(streams),
  );
  destinations.set(log, streams.map((entry) => entry.stream));
  return log;
}
