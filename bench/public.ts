// bench/public.ts — jobgraph through its public API, side by side with a stock graphql-yoga + graphql-ws server
// (bench/stock-server.ts, same package versions) in the same run. Each server is its own process pinned to core 0
// (taskset -c 0, where available); the load generators (bench/public-client.ts) are separate processes on core 1.
// Measures, one after another, each for SECONDS:
//   1. `{ __typename }` on both, HTTP, CONNECTIONS keep-alive fetch connections;
//   2. authenticated `{ me { id username } }` on jobgraph (Bearer token) against stock `{ hello }`;
//      each HTTP pair runs A B A B (best of each), and also as requests per second of the server's own CPU, which a
//      shared machine disturbs less than the rate;
//   3. fan-out: SUBSCRIBERS raw graphql-transport-ws sockets on jobgraph `quoteStream(intervalMs: 100)` (quote server
//      in this process, no delay) against stock `tick(intervalMs: 100)`: deliveries/s, lag p50/p99 (receipt − the
//      payload's receivedAt) and the server's peak RSS; beside them, the floor: the same frames written by a bare
//      Bun.serve (bench/floor-server.ts), what the machine's loopback writes allow. Every client process opens its
//      sockets, says when each has had an event, and all start measuring together (set-up is reported apart).
// Prints one table: measure | jobgraph | baseline | ratio | target (targets from issue 13).
//   bun bench/public.ts [subscribers=1000] [seconds=4] [connections=64] [--fan-out-only]   (FAN_OUT_INTERVAL_MS=1000: the tick)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { startQuoteServer } from '../quote-server/server';
import { amount, lagPercentiles, lines, markdownTable, reportRow } from './report';
import { withServerRuntime } from '../scripts/lib/server-runtime';

const FAN_OUT_ONLY = process.argv.includes('--fan-out-only');
const positional = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const SUBSCRIBERS = Number(positional[0] ?? 1000);
const SECONDS = Number(positional[1] ?? 4);
const CONNECTIONS = Number(positional[2] ?? 64);
/** Subscribers per client process: one Bun process parses ~10 ticks/s for this many sockets without falling behind. */
const SUBSCRIBERS_PER_CLIENT = 1000;
/** The fan-out's tick (FAN_OUT_INTERVAL_MS; issue 29 measures 15,000 subscribers at one event a second: 1000). */
const INTERVAL_MS = Number(process.env.FAN_OUT_INTERVAL_MS ?? 100);
const ADMIN_PASSWORD = 'bench-admin-password';
/** Bun flags for jobgraph's process, e.g. JOBGRAPH_BUN_FLAGS='--cpu-prof-md --cpu-prof-dir=/tmp/prof': it is then
 *  stopped with SIGTERM (and given 20 s) so the profile is written. */
const SERVER_FLAGS = (process.env.JOBGRAPH_BUN_FLAGS ?? '').split(' ').filter(Boolean);
const root = new URL('..', import.meta.url).pathname;

const canPin = Bun.which('taskset') !== null;
if (canPin) Bun.spawnSync(['taskset', '-cp', '1', String(process.pid)], { stdout: 'ignore' });
const pinned = (command: string[]) => (canPin ? ['taskset', '-c', '0', ...command] : command);

const children = new Set<Subprocess>();
/** A server (`asServer`: pinned to core 0, its stdout unread) or a load generator (its stdout read for the result). */
function spawn(command: string[], env: Record<string, string | undefined> = {}, asServer = false) {
  const child = Bun.spawn(asServer ? pinned(command) : command, {
    cwd: root,
    env: { ...process.env, ...env },
    stdin: asServer ? 'ignore' : 'pipe',
    stdout: asServer ? 'ignore' : 'pipe',
    stderr: 'inherit',
  });
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}
function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

async function waitFor(check: () => Promise<boolean>, what: string, child: Subprocess) {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    if (await check().catch(() => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not start within 15 s`);
}

/** A server's resident memory (MiB) and CPU time (s), from /proc (Linux); NaN elsewhere. */
function usage(pid: number): { rss: number; cpu: number } {
  try {
    const rss = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    // Fields 14 and 15 (utime, stime) in clock ticks of 1/100 s, counted after the `(comm)` field.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { rss: rss ? Number(rss[1]) / 1024 : NaN, cpu: (Number(fields[11]) + Number(fields[12])) / 100 };
  } catch {
    return { rss: NaN, cpu: NaN };
  }
}

/**
 * Samples a server while `work` runs: peak RSS, peak CPU (s per s) over any 1 s span, and mean CPU over the last
 * SECONDS (the measured span, set-up excluded).
 */
async function watched<T>(pid: number, work: Promise<T>): Promise<T & { serverRss: number; serverRssAtEnd: number; serverCpu: number; serverCpuMeasured: number }> {
  const samples: { at: number; rss: number; cpu: number }[] = [];
  let running = true;
  const sampler = (async () => {
    while (running) {
      samples.push({ at: performance.now(), ...usage(pid) });
      await Bun.sleep(250);
    }
  })();
  const result = await work.finally(() => (running = false));
  await sampler;
  let serverCpu = 0;
  for (let i = 4; i < samples.length; i++) serverCpu = Math.max(serverCpu, ((samples[i]!.cpu - samples[i - 4]!.cpu) * 1000) / (samples[i]!.at - samples[i - 4]!.at));
  const last = samples.at(-1)!;
  const first = samples.find((sample) => sample.at >= last.at - SECONDS * 1000) ?? samples[0]!;
  const serverCpuMeasured = ((last.cpu - first.cpu) * 1000) / (last.at - first.at);
  return { ...result, serverRss: Math.max(...samples.map((sample) => sample.rss)), serverRssAtEnd: last.rss, serverCpu, serverCpuMeasured };
}

async function lastJsonLine(child: Subprocess, limitMs: number, next = lines(child)): Promise<any> {
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  try {
    const line = await next();
    const code = await child.exited;
    if (code !== 0) throw new Error(`load generator exited with ${code}`);
    return JSON.parse(line);
  } finally {
    clearTimeout(timer);
  }
}

async function httpRate(url: string, pid: number, query: string, token?: string) {
  const client = spawn(['bun', 'bench/public-client.ts', 'http', url, String(SECONDS), String(CONNECTIONS), query, ...(token ? [token] : [])]);
  const result = await watched(pid, lastJsonLine(client, (SECONDS + 20) * 1000));
  const perSecond = result.requests / result.seconds;
  /** Requests per second of the server's own CPU: its rate on a whole core, whatever share of it the machine left. */
  return { perSecond, perCpuSecond: perSecond / result.serverCpuMeasured, clientCpu: result.cpu as number, serverCpu: result.serverCpu };
}

/** `ours` and `theirs` measured in turn, twice each (A B A B), so a change in the machine's load hits both: the best of each. */
async function httpPair(ours: () => ReturnType<typeof httpRate>, theirs: () => ReturnType<typeof httpRate>) {
  const runs = { ours: [] as Awaited<ReturnType<typeof httpRate>>[], theirs: [] as Awaited<ReturnType<typeof httpRate>>[] };
  for (let round = 0; round < 2; round++) {
    runs.ours.push(await ours());
    runs.theirs.push(await theirs());
  }
  const best = (list: Awaited<ReturnType<typeof httpRate>>[]) => ({
    perSecond: Math.max(...list.map((run) => run.perSecond)),
    perCpuSecond: Math.max(...list.map((run) => run.perCpuSecond)),
    serverCpu: Math.max(...list.map((run) => run.serverCpu)),
    clientCpu: Math.max(...list.map((run) => run.clientCpu)),
  });
  return { ours: best(runs.ours), theirs: best(runs.theirs) };
}

async function fanOut(url: string, serverPid: number, query: string, token?: string) {
  const rssBefore = usage(serverPid).rss;
  const clients: { child: Subprocess; next: () => Promise<string> }[] = [];
  const setupStarted = performance.now();
  for (let left = SUBSCRIBERS; left > 0; left -= SUBSCRIBERS_PER_CLIENT) {
    const count = Math.min(left, SUBSCRIBERS_PER_CLIENT);
    const child = spawn(['bun', 'bench/public-client.ts', 'ws', url, String(count), String(SECONDS), query, ...(token ? [token] : [])]);
    clients.push({ child, next: lines(child) });
  }
  // Set-up first (every client's sockets subscribed and each had an event), then all measure the same SECONDS.
  const setup = Promise.all(clients.map(({ next }) => next())).then(() => (performance.now() - setupStarted) / 1000);
  const { results, setupSeconds, serverRss, serverRssAtEnd, serverCpu, serverCpuMeasured } = await watched(
    serverPid,
    setup.then(async (setupSeconds) => {
      for (const { child } of clients) {
        (child.stdin as import('bun').FileSink).write('go\n');
        (child.stdin as import('bun').FileSink).end();
      }
      const results = await Promise.all(clients.map(({ child, next }) => lastJsonLine(child, (SECONDS + 60) * 1000, next)));
      return { results, setupSeconds };
    }),
  );
  const percentile = lagPercentiles(results.map((result) => result.lags as [number, number][]));
  const perSecond = results.reduce((sum, result) => sum + result.deliveries / result.seconds, 0);
  return {
    /** From the first client process's start until every socket had its first event. */
    setupSeconds,
    subscribed: results.reduce((sum, result) => sum + result.subscribed, 0),
    perSecond,
    /** Server CPU time per 1,000 deliveries (ms): what the fan-out costs, whatever the machine's load let through. */
    cpuPerThousand: (serverCpuMeasured * 1_000_000) / perSecond,
    p50: percentile(50),
    p99: percentile(99),
    serverRss,
    /** What each subscriber added to the server's memory (KiB): peak RSS during fan-out less RSS before. */
    rssPerSubscriber: ((serverRss - rssBefore) * 1024) / SUBSCRIBERS,
    /** The same with every subscriber open and served for SECONDS: the set-up's garbage is not counted. */
    rssPerSubscriberAtEnd: ((serverRssAtEnd - rssBefore) * 1024) / SUBSCRIBERS,
    serverCpu,
    clientCpu: results.reduce((sum, result) => sum + result.cpu, 0),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'jobgraph-bench-'));
const quoteServer = await startQuoteServer({ port: 0, delayMs: 0 });
let jobgraphProcess: Subprocess | undefined;
try {
  const jobgraphPort = freePort();
  const jobgraph = spawn(
    ['bun', ...SERVER_FLAGS, 'src/main.ts'],
    // As `bun run start` starts it (scripts/lib/server-runtime.ts); stock Yoga as its own defaults.
    withServerRuntime({
      ...process.env,
      PORT: String(jobgraphPort),
      HOST: '127.0.0.1',
      DATABASE_PATH: join(dir, 'bench.db'),
      ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
      WORKERS: '1',
      RATE_LIMIT_PER_SECOND: '0',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
      MAX_SUBSCRIPTIONS_PER_USER: '0',
      MAX_SUBSCRIPTIONS_PER_ADDRESS: '0',
      QUOTE_SERVER: `127.0.0.1:${quoteServer.port}`,
    }),
    true,
  );
  jobgraphProcess = jobgraph;
  const stockPort = freePort();
  const stock = spawn(['bun', 'bench/stock-server.ts', String(stockPort)], {}, true);
  const jobgraphUrl = `http://127.0.0.1:${jobgraphPort}/graphql`;
  const stockUrl = `http://127.0.0.1:${stockPort}/graphql`;
  await waitFor(() => fetch(`http://127.0.0.1:${jobgraphPort}/ready`).then((r) => r.ok), 'jobgraph', jobgraph);
  const ping = JSON.stringify({ query: '{ __typename }' });
  await waitFor(() => fetch(stockUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ping }).then((r) => r.ok), 'the stock server', stock);
  // The fan-out's floor: the same frames written by a bare Bun.serve (bench/floor-server.ts), what the machine allows.
  const floorPort = freePort();
  const floorServer = spawn(['bun', 'bench/floor-server.ts', String(floorPort), String(INTERVAL_MS)], {}, true);
  const floorUrl = `http://127.0.0.1:${floorPort}/graphql`;
  await waitFor(() => fetch(floorUrl).then((r) => r.ok), 'the floor server', floorServer);
  const login = await fetch(jobgraphUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { token } }` }),
  });
  const token = ((await login.json()) as { data: { login: { token: string } } }).data.login.token;

  const rows: string[][] = [];
  const shown = (value: number, unit: string, digits: number) => `${value.toLocaleString('en', { maximumFractionDigits: digits })} ${unit}`;
  /** `floor`: the bare Bun server's figure (fan-out rows only). */
  const row = (measure: string, ours: number, theirs: number, unit: string, target: string, digits = 0, floor?: number) =>
    rows.push([measure, shown(ours, unit, digits), shown(theirs, unit, digits), `×${(ours / theirs).toFixed(2)}`, target, floor === undefined ? '' : shown(floor, unit, digits)]);

  /** A summary row for `bun run bench` (bench/report.ts): jobgraph against stock, target a minimum ratio. */
  const headline = (measure: string, ours: number, theirs: number, unit: string, baseline: string, atLeast: number, judged = true) =>
    reportRow({
      measure,
      jobgraph: amount(ours, unit),
      baseline: `${amount(theirs, unit)} (${baseline})`,
      ratio: ours / theirs,
      target: `≥ ×${atLeast.toFixed(1)}${judged ? '' : ' at 4,000 @ 100 ms (not judged here)'}`,
      met: judged ? ours / theirs >= atLeast : null,
    });

  const cpu = (value: number) => (Number.isNaN(value) ? '?' : value.toFixed(2));
  type Cpu = { serverCpu: number; clientCpu: number };
  const cpus = (label: string, a: Cpu, b: Cpu, floor?: Cpu) =>
    rows.push([`  CPU s/s ${label}: server peak / client`, `${cpu(a.serverCpu)} / ${cpu(a.clientCpu)}`, `${cpu(b.serverCpu)} / ${cpu(b.clientCpu)}`, '', '', floor ? `${cpu(floor.serverCpu)} / ${cpu(floor.clientCpu)}` : '']);
  if (!FAN_OUT_ONLY) {
    const typename = await httpPair(
      () => httpRate(jobgraphUrl, jobgraph.pid, '{ __typename }'),
      () => httpRate(stockUrl, stock.pid, '{ __typename }'),
    );
    const [typenameOurs, typenameStock] = [typename.ours, typename.theirs];
    row('{ __typename } (HTTP)', typenameOurs.perSecond, typenameStock.perSecond, 'req/s', '≥ ×1.5');
    row('  per second of server CPU', typenameOurs.perCpuSecond, typenameStock.perCpuSecond, 'req', '');
    headline('public: { __typename } (HTTP)', typenameOurs.perSecond, typenameStock.perSecond, 'req/s', 'stock Yoga', 1.5);
    const me = await httpPair(
      () => httpRate(jobgraphUrl, jobgraph.pid, '{ me { id username } }', token),
      () => httpRate(stockUrl, stock.pid, '{ hello }'),
    );
    const [meOurs, helloStock] = [me.ours, me.theirs];
    row('authenticated { me } vs stock { hello }', meOurs.perSecond, helloStock.perSecond, 'req/s', '≥ ×1.2');
    row('  per second of server CPU', meOurs.perCpuSecond, helloStock.perCpuSecond, 'req', '≥ ×1.2');
    headline('public: authenticated { me { id username } }', meOurs.perSecond, helloStock.perSecond, 'req/s', 'stock { hello }', 1.2);
    cpus('__typename', typenameOurs, typenameStock);
    cpus('me / hello', meOurs, helloStock);
  }

  // Start-up garbage (the analytics ingest) is collected a second or two after start: wait for it, so the RSS before
  // the fan-out is the idle one (the HTTP measures take long enough when they run).
  if (FAN_OUT_ONLY) await Bun.sleep(3000);
  const ours = await fanOut(jobgraphUrl, jobgraph.pid, `subscription { quoteStream(intervalMs: ${INTERVAL_MS}) { protocol index text raw receivedAt } }`, token);
  const theirs = await fanOut(stockUrl, stock.pid, `subscription { tick(intervalMs: ${INTERVAL_MS}) { protocol index text raw receivedAt } }`);
  const floor = await fanOut(floorUrl, floorServer.pid, 'subscription { tick }');
  // The deliveries target is stated at 4,000 subscribers and 10 ticks a second (issue 13).
  const deliveriesJudged = SUBSCRIBERS >= 4000 && INTERVAL_MS <= 100;
  const fanOutTarget = deliveriesJudged ? '≥ ×3 at 4,000' : '≥ ×3 at 4,000 @ 100 ms (not judged here)';
  row(`fan-out deliveries/s, ${SUBSCRIBERS.toLocaleString('en')} subscribers @ ${INTERVAL_MS} ms`, ours.perSecond, theirs.perSecond, '/s', fanOutTarget, 0, floor.perSecond);
  rows.push([`  subscribers receiving`, `${ours.subscribed}`, `${theirs.subscribed}`, '', `${SUBSCRIBERS}`, `${floor.subscribed}`]);
  row('  set-up: all subscribed, each had an event', ours.setupSeconds, theirs.setupSeconds, 's', '', 1, floor.setupSeconds);
  // Deliveries per subscriber per second, of the 1000 / INTERVAL_MS ticks: jobgraph's ticks each wait on a fetch from
  // the quote server (in this process), and a stream skips a tick while two fetches are still out (quotes/service.ts).
  row('  ticks/s reaching each subscriber', ours.perSecond / SUBSCRIBERS, theirs.perSecond / SUBSCRIBERS, '', `${1000 / INTERVAL_MS} sent`, 1, floor.perSecond / SUBSCRIBERS);
  row('  fan-out lag p50', ours.p50, theirs.p50, 'ms', '', 0, floor.p50);
  row('  fan-out lag p99', ours.p99, theirs.p99, 'ms', '≤ 150 ms', 0, floor.p99);
  const fanOutMeasure = `public: fan-out, ${SUBSCRIBERS.toLocaleString('en')} WebSocket subscribers @ ${INTERVAL_MS} ms`;
  headline(`${fanOutMeasure}, deliveries/s`, ours.perSecond, theirs.perSecond, '/s', 'stock graphql-ws', 3, deliveriesJudged);
  reportRow({
    measure: `${fanOutMeasure}, lag p99`,
    jobgraph: `${ours.p99} ms`,
    baseline: `${theirs.p99} ms (stock graphql-ws; bare Bun floor ${floor.p99} ms)`,
    ratio: ours.p99 / theirs.p99,
    target: '≤ 150 ms',
    met: ours.p99 <= 150,
  });
  row('  server CPU per 1,000 deliveries', ours.cpuPerThousand, theirs.cpuPerThousand, 'ms', '', 1, floor.cpuPerThousand);
  row('  server peak RSS during fan-out', ours.serverRss, theirs.serverRss, 'MiB', '', 0, floor.serverRss);
  row('  server RSS per subscriber (peak − before)', ours.rssPerSubscriber, theirs.rssPerSubscriber, 'KiB', 'comparable', 0, floor.rssPerSubscriber);
  row('  server RSS per subscriber (at the end − before)', ours.rssPerSubscriberAtEnd, theirs.rssPerSubscriberAtEnd, 'KiB', '≤ 10 KiB', 1, floor.rssPerSubscriberAtEnd);
  reportRow({
    measure: `${fanOutMeasure}, server RSS per subscriber at the end`,
    jobgraph: amount(ours.rssPerSubscriberAtEnd, 'KiB', 1),
    baseline: `${amount(theirs.rssPerSubscriberAtEnd, 'KiB', 1)} (stock graphql-ws)`,
    ratio: ours.rssPerSubscriberAtEnd / theirs.rssPerSubscriberAtEnd,
    target: '≤ 10 KiB',
    met: ours.rssPerSubscriberAtEnd <= 10,
  });
  // Where the time went: a server near 1.00 CPU s/s is saturated (its one core); a client near 1.00 was the limit.
  cpus('fan-out', ours, theirs, floor);

  console.log(
    `jobgraph and stock Yoga each on ${canPin ? 'core 0 (taskset -c 0)' : 'all cores (no taskset)'}, load from separate processes; HTTP: ${CONNECTIONS} keep-alive fetch connections, ${SECONDS} s each; fan-out: ${SECONDS} s\n`,
  );
  console.log(markdownTable(['measure', 'jobgraph', 'baseline (stock Yoga, same run)', 'ratio', 'target', 'floor (bare Bun, same run)'], rows));
} finally {
  if (SERVER_FLAGS.length) {
    jobgraphProcess?.kill('SIGTERM');
    await Promise.race([jobgraphProcess?.exited, Bun.sleep(20_000)]);
  }
  killAll();
  await Promise.all([...children].map((child) => child.exited));
  quoteServer.stop();
  rmSync(dir, { recursive: true, force: true });
}
