// `bun quote-server/index.ts [host] [port]` — the standalone quote server (default 127.0.0.1:1700).
// QUOTE_DELAY_MS sets the simulated latency (default 500). Logs one JSON line per request, and one when listening
// (jobgraph reads that line to learn the port when it starts this server itself).
// QUOTE_SERVER_PARENT_PID (set by jobgraph when it starts this server) ties this process to that parent: it exits
// when its stdin (a pipe from the parent) closes or when it is re-parented, so jobgraph never leaves it behind.
// QUOTE_SERVER_PARENT_CHECK_MS: how often it looks for the re-parenting (default 1000; tests shorten it).
import { startQuoteServer } from './server';

const [host = '127.0.0.1', portText = '1700'] = process.argv.slice(2);
const port = Number(portText);
const delayMs = Number(process.env.QUOTE_DELAY_MS ?? 500);
const parentCheckMs = Number(process.env.QUOTE_SERVER_PARENT_CHECK_MS ?? 1000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`quote-server: invalid port "${portText}"`);
  process.exit(2);
}
if (!Number.isFinite(delayMs) || delayMs < 0) {
  console.error(`quote-server: invalid QUOTE_DELAY_MS "${process.env.QUOTE_DELAY_MS}"`);
  process.exit(2);
}
if (!Number.isInteger(parentCheckMs) || parentCheckMs < 1) {
  console.error(`quote-server: invalid QUOTE_SERVER_PARENT_CHECK_MS "${process.env.QUOTE_SERVER_PARENT_CHECK_MS}"`);
  process.exit(2);
}
const log = (fields: Record<string, unknown>, msg: string) => console.log(JSON.stringify({ time: new Date().toISOString(), service: 'quote-server', ...fields, msg }));

const server = await startQuoteServer({ host, port, delayMs, onRequest: (request) => log(request, 'quote request') });
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
