// bench/events.ts — event cursors (docs/events.md), through the public API, each beside a baseline in the same run:
//   replay: a WebSocket `jobEvents` subscription from a cursor EVENTS back (jobs queued in a paused queue: one
//           `queued` event each), events/s until the last one arrives; baseline: the same events read as `jobEvents`
//           query pages of 100 over HTTP.
//   latency: the lag (receipt − the job's finishedAt) of `jobCompleted` (today's path: published in process at commit)
//           and of `jobEvents`' `succeeded` (durable: read from the database after the commit), p50/p99, the same jobs
//           in the same run, on SQLite and (when PostgreSQL is installed) on PostgreSQL.
//   bun bench/events.ts [events=100000] [latencyJobs=500]
import { createClient } from 'graphql-ws';
import { findPostgresBin, type LocalServer, startPostgres } from '../scripts/lib/local-servers';
import { amount, markdownTable, reportRow } from './report';
import { type BenchServer, startBenchServer } from './server';

const [EVENTS, LATENCY_JOBS] = [Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 500)];
const BATCH = 5_000;

async function gql(bench: BenchServer, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(bench.server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bench.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (body.errors || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const ws = (bench: BenchServer) =>
  createClient({ url: bench.server.url.replace(/^http/, 'ws'), lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${bench.token}` } });

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

async function replay(bench: BenchServer) {
  await gql(bench, 'mutation { createQueue(input: { name: "held", maxLength: 10000000 }) { name } }');
  await gql(bench, 'mutation { pauseQueue(name: "held") { paused } }');
  for (let left = EVENTS + 1; left > 0; left -= BATCH) {
    const n = Math.min(BATCH, left);
    await gql(bench, 'mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "held" }) { id } }', {
      jobs: Array.from({ length: n }, () => ({ pi: { simulations: 100 } })),
    });
  }
  const first = (await gql(bench, '{ jobEvents(first: 1, queue: "held") { edges { cursor } } }')).jobEvents.edges[0].cursor as string;

  // Through WebSocket: replay from the first event's cursor until the EVENTS after it have arrived.
  const client = ws(bench);
  const started = performance.now();
  const wsSeconds = await new Promise<number>((resolve, reject) => {
    let received = 0;
    const stop = client.subscribe(
      { query: 'subscription($after: String) { jobEvents(after: $after, queue: "held") { cursor type } }', variables: { after: first } },
      {
        next: () => {
          if (++received === EVENTS) {
            stop();
            resolve((performance.now() - started) / 1000);
          }
        },
        error: reject,
        complete: () => {},
      },
    );
  });
  await client.dispose();

  // Baseline: the same events as query pages of 100 over HTTP.
  const pagesStarted = performance.now();
  let after: string | null = first;
  let read = 0;
  while (read < EVENTS) {
    const page: any = (await gql(bench, 'query($after: String) { jobEvents(first: 100, after: $after, queue: "held") { edges { cursor node { type } } pageInfo { endCursor } } }', { after })).jobEvents;
    read += page.edges.length;
    after = page.pageInfo.endCursor;
  }
  const pageSeconds = (performance.now() - pagesStarted) / 1000;
  return { wsRate: EVENTS / wsSeconds, pageRate: EVENTS / pageSeconds };
}

async function latency(bench: BenchServer) {
  await gql(bench, 'mutation { createQueue(input: { name: "timed" }) { name } }');
  const client = ws(bench);
  const completed: number[] = [];
  const logged: number[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const check = () => completed.length >= LATENCY_JOBS && logged.length >= LATENCY_JOBS && resolve();
    client.subscribe(
      { query: 'subscription { jobCompleted(queue: "timed") { finishedAt } }' },
      { next: ({ data }: any) => (completed.push(Date.now() - Date.parse(data.jobCompleted.finishedAt)), check()), error: reject, complete: () => {} },
    );
    client.subscribe(
      { query: 'subscription { jobEvents(queue: "timed") { type at } }' },
      {
        next: ({ data }: any) => {
          if (data.jobEvents.type === 'succeeded') logged.push(Date.now() - Date.parse(data.jobEvents.at));
          check();
        },
        error: reject,
        complete: () => {},
      },
    );
  });
  await Bun.sleep(300);
  // A trickle: 10 jobs every 20 ms, so the lag is delivery's, not a queue's.
  for (let i = 0; i < LATENCY_JOBS; i += 10) {
    await gql(bench, 'mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs, options: { queue: "timed" }) { id } }', { jobs: Array.from({ length: 10 }, () => ({ pi: { simulations: 100 } })) });
    await Bun.sleep(20);
  }
  await done;
  await client.dispose();
  return { today: [percentile(completed, 50), percentile(completed, 99)], durable: [percentile(logged, 50), percentile(logged, 99)] };
}

const rows: string[][] = [];
const sqlite = await startBenchServer();
try {
  const { wsRate, pageRate } = await replay(sqlite);
  rows.push(['SQLite', `replay of ${EVENTS.toLocaleString('en')} events`, amount(wsRate, 'events/s'), `${amount(pageRate, 'events/s')} (query pages of 100, HTTP)`]);
  reportRow({ measure: `events: replay ${EVENTS.toLocaleString('en')} events, WebSocket (SQLite)`, jobgraph: amount(wsRate, 'events/s'), baseline: amount(pageRate, 'events/s'), ratio: wsRate / pageRate, target: '—', met: null });
  const { today, durable } = await latency(sqlite);
  rows.push(['SQLite', 'lag p50 / p99', `${durable[0]} / ${durable[1]} ms (jobEvents)`, `${today[0]} / ${today[1]} ms (jobCompleted)`]);
  reportRow({ measure: 'events: lag p99, jobEvents vs jobCompleted (SQLite)', jobgraph: `${durable[1]} ms`, baseline: `${today[1]} ms`, ratio: durable[1]! / Math.max(1, today[1]!), target: '—', met: null });
} finally {
  await sqlite.stop();
}

let pg: LocalServer | null = null;
if (findPostgresBin()) {
  pg = await startPostgres();
  const bench = await startBenchServer({ DATABASE_URL: pg.url });
  try {
    const { today, durable } = await latency(bench);
    rows.push(['PostgreSQL', 'lag p50 / p99', `${durable[0]} / ${durable[1]} ms (jobEvents)`, `${today[0]} / ${today[1]} ms (jobCompleted)`]);
    reportRow({ measure: 'events: lag p99, jobEvents vs jobCompleted (PostgreSQL)', jobgraph: `${durable[1]} ms`, baseline: `${today[1]} ms`, ratio: durable[1]! / Math.max(1, today[1]!), target: '—', met: null });
  } finally {
    await bench.stop();
    await pg.stop();
  }
} else console.log('events: PostgreSQL not installed, its latency row skipped');

console.log(markdownTable(['database', 'measure', 'durable (jobEvents)', 'baseline'], rows));
