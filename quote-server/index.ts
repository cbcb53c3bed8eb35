// `bun quote-server/index.ts [host] [port]` — the standalone quote server (default 127.0.0.1:1700).
// QUOTE_DELAY_MS sets the simulated latency (default 500). Logs one JSON line per request, and one when listening
// (jobgraph reads that line to learn the port when it starts this server itself).
// QUOTE_SERVER_PARENT_PID (set by jobgraph when it starts this server) ties this process to that parent: it exits
// when its stdin (a pipe from the parent) closes or when it is re-parented, so jobgraph never leaves it behind.
// QUOTE_SERVER_PARENT_CHECK_MS: how often it looks for the re-parenting (default 1000; tests shorten it).
import { startQuoteServer } from './server';

const USAGE = 'usage: bun quote-server/index.ts [host] [port]  (default 127.0.0.1 1700; QUOTE_DELAY_MS: the latency, default 500)';

/** An expected failure (a usage error, a bad setting, a busy port): one line, exit code 2, no stack trace. */
function exitWith(message: string, showUsage = false): never {
  console.error(`quote-server: ${message}${showUsage ? ` (${USAGE})` : ''}`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const option = args.find((arg) => arg.startsWith('-'));
if (option) exitWith(`unknown option ${option}`, true);
if (args.length > 2) exitWith(`at most a host and a port, got ${args.length} arguments`, true);
const [host = '127.0.0.1', portText = '1700'] = args;
const port = Number(portText);
const delayMs = Number(process.env.QUOTE_DELAY_MS ?? 500);
const parentCheckMs = Number(process.env.QUOTE_SERVER_PARENT_CHECK_MS ?? 1000);
if (!/^\d+$/.test(portText) || port > 65535) exitWith(`invalid port "${portText}": an integer from 0 to 65535`, true);
if (!Number.isFinite(delayMs) || delayMs < 0) exitWith(`invalid QUOTE_DELAY_MS "${process.env.QUOTE_DELAY_MS}": milliseconds, 0 or more`);
if (!Number.isInteger(parentCheckMs) || parentCheckMs < 1) exitWith(`invalid QUOTE_SERVER_PARENT_CHECK_MS "${process.env.QUOTE_SERVER_PARENT_CHECK_MS}"`);
const log = (fields: Record<string, unknown>, msg: string) => console.log(JSON.stringify({ time: new Date().toISOString(), service: 'quote-server', ...fields, msg }));

let server: Awaited<ReturnType<typeof startQuoteServer>>;
try {
  server = await startQuoteServer({ host, port, delayMs, onRequest: (request) => log(request, 'quote request') });
} catch (error) {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') exitWith(`port ${port} on ${host} is already in use (TCP or UDP); pick another port`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') exitWith(`cannot listen on ${host}: not an address of this machine (${code})`);
  if (code === 'EACCES') exitWith(`not allowed to listen on port ${port}; pick one above 1023`);
  throw error;
}
log({ host: server.host, port: server.port, delayMs }, 'quote server listening');
const stop = (reason: string) => {
  server.stop();
  log({ reason }, 'quote server stopped');
  process.exit(0);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal));

const parentPid = Number(process.env.QUOTE_SERVER_PARENT_PID);
if (parentPid) {
  // The kernel closes the parent's end of the pipe however the parent ends: exit, crash or kill -9.
  process.stdin.on('end', () => stop('parent exited (stdin closed)'));
  process.stdin.resume();
  // And should the pipe not be ours (stdin redirected), being re-parented says the same.
  setInterval(() => process.ppid !== parentPid && stop('parent exited (re-parented)'), parentCheckMs).unref();
}
