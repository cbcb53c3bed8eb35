// bench/analytics.ts — every analytics query through the API (HTTP POST /graphql, logged in), p50/p99 over N
// requests each; the baseline, in the same run, is the same statistic from the service in-process (no HTTP, no
// GraphQL). Also the ingest time of the bundled 33 MB CSV into a fresh database.
//   bun bench/analytics.ts [requests per query=300]
import { reportRow } from './report';
import { startBenchServer } from './server';

const N = Number(process.argv[2] ?? 300);
const bench = await startBenchServer();
const { server, token } = bench;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const Q = 'Percent of adults aged 18 years and older who have obesity';
const S = 'Ohio';

try {
  const dataset = server.app.analytics.dataset();
  console.log(`ingest of the bundled CSV (${dataset.rowsRead.toLocaleString()} rows read, ${dataset.rowsKept.toLocaleString()} kept): ${dataset.ingestMs.toFixed(0)} ms`);
  const a = server.app.analytics;
  const queries: [string, string, () => unknown][] = [
    ['questions', '{ questions { text direction } }', () => a.questions()],
    ['states', '{ states }', () => a.states()],
    ['statesMean', `{ statesMean(question: "${Q}") { state value } }`, () => a.statesMean(Q)],
    ['stateMean', `{ stateMean(question: "${Q}", state: "${S}") { state value } }`, () => a.stateMean(Q, S)],
    ['best5', `{ best5(question: "${Q}") { state value } }`, () => a.best5(Q)],
    ['worst5', `{ worst5(question: "${Q}") { state value } }`, () => a.worst5(Q)],
    ['globalMean', `{ globalMean(question: "${Q}") }`, () => a.globalMean(Q)],
    ['diffFromMean', `{ diffFromMean(question: "${Q}") { state value } }`, () => a.diffFromMean(Q)],
    ['stateDiffFromMean', `{ stateDiffFromMean(question: "${Q}", state: "${S}") { state value } }`, () => a.stateDiffFromMean(Q, S)],
    ['meanByCategory', `{ meanByCategory(question: "${Q}") { state category segment value } }`, () => a.meanByCategory(Q)],
    ['stateMeanByCategory', `{ stateMeanByCategory(question: "${Q}", state: "${S}") { category segment value } }`, () => a.stateMeanByCategory(Q, S)],
    ['statesMean 2015–2018', `{ statesMean(question: "${Q}", yearFrom: 2015, yearTo: 2018) { state value } }`, () => a.statesMean(Q, { from: 2015, to: 2018 })],
  ];
  console.log(`\n${'query'.padEnd(22)} ${'API p50'.padStart(9)} ${'API p99'.padStart(9)} ${'in-process p50'.padStart(15)}   (${N} sequential requests each)`);
  /** The query with the slowest API p99: the headline row. */
  let worst = { name: '', p99: -1, localP99: 0 };
  for (const [name, selection, direct] of queries) {
    const body = JSON.stringify({ query: `{ analytics ${selection} }` });
    const times: number[] = [];
    for (let i = 0; i < N + 20; i++) {
      const start = performance.now();
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      const payload = (await response.json()) as { errors?: unknown };
      if (payload.errors) throw new Error(JSON.stringify(payload.errors));
      if (i >= 20) times.push(performance.now() - start);
    }
    const local: number[] = [];
    for (let i = 0; i < N; i++) {
      const start = performance.now();
      direct();
      local.push(performance.now() - start);
    }
    times.sort((x, y) => x - y);
    local.sort((x, y) => x - y);
    console.log(`${name.padEnd(22)} ${percentile(times, 50).toFixed(2).padStart(6)} ms ${percentile(times, 99).toFixed(2).padStart(6)} ms ${percentile(local, 50).toFixed(3).padStart(11)} ms`);
    if (percentile(times, 99) > worst.p99) worst = { name, p99: percentile(times, 99), localP99: percentile(local, 99) };
  }
  reportRow({
    measure: `analytics (cached): slowest API p99 of ${queries.length} queries (${worst.name})`,
    jobgraph: `${worst.p99.toFixed(2)} ms`,
    baseline: `${worst.localP99.toFixed(3)} ms (service in-process p99)`,
    ratio: worst.p99 / worst.localP99,
    target: 'p99 < 5 ms',
    met: worst.p99 < 5,
  });
} finally {
  await bench.stop();
}
