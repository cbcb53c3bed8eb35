// `bun run bench [--quick] [name…]`: every benchmark in turn (or those named: `bun run bench public submit`), each
// printing its own tables, then one summary table of their headline rows (bench/report.ts). --quick runs smaller
// sizes (fewer samples, rounds, requests, subscribers; shorter loads) so the whole set takes minutes: its figures
// are noisier, and fan-out runs below the 4,000 subscribers of its target.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readReport, summaryTable } from './report';

interface Bench {
  name: string;
  /** The file under bench/ when it is not `<name>.ts`. */
  file?: string;
  args: string[];
  env?: Record<string, string>;
  quick: { args?: string[]; env?: Record<string, string> };
}

const BENCHES: Bench[] = [
  { name: 'pi', args: [], quick: { args: ['10000000'] } },
  { name: 'calc', args: [], quick: { args: ['1'] } },
  { name: 'calc-client', args: [], quick: { args: ['2'] } },
  { name: 'analytics', args: [], quick: { args: ['50'] } },
  { name: 'analytics-uncached', args: [], quick: { args: ['50'] } },
  { name: 'idle-memory', args: [], quick: { args: ['1'] } },
  { name: 'startup', args: [], quick: { args: ['3'] } },
  { name: 'quotes', args: [], quick: { args: ['200'] } },
  { name: 'relay', args: [], quick: { args: ['2'] } },
  { name: 'jobs', args: [], quick: { args: ['2000'] } },
  { name: 'kinds', args: [], quick: { args: ['1000', '2'] } },
  { name: 'submit', args: [], quick: { env: { BULK_REQUESTS: '16', SINGLE_REQUESTS: '2000' } } },
  { name: 'fair', args: [], quick: { args: ['2000', '10', '1000'] } },
  { name: 'flows', args: [], quick: { args: ['200', '50'] } },
  // Delayed-job lateness (1,000 due over 2 s), what a rate limit on one queue costs the others, bulk actions.
  { name: 'scheduling', args: [], quick: { args: ['1000', '2000', '20000'] } },
  // The fan-out target is stated at 4,000 subscribers.
  { name: 'public', args: ['4000'], quick: { args: ['500', '2'] } },
  // Issue 29: 15,000 WebSocket subscribers at one event a second (lag p99, RSS per subscriber), beside stock and the floor.
  { name: 'fan-out-15k', file: 'public', args: ['15000', '5', '--fan-out-only'], env: { FAN_OUT_INTERVAL_MS: '1000' }, quick: { args: ['3000', '3', '--fan-out-only'] } },
  { name: 'events', args: [], quick: { args: ['10000', '200'] } },
  // What a Prometheus scrape costs a server that has run jobs, beside a `{ __typename }`.
  { name: 'metrics', args: [], quick: { args: ['5000', '5'] } },
  // Needs PostgreSQL and redis-server; skips (no rows) without them.
  { name: 'cluster-fanout', args: [], quick: { args: ['150', '100', '5'] } },
];

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: bun run bench [--quick] [name…]
Runs every benchmark in turn (or only those named), each printing its tables, then one summary table.
  --quick   smaller sizes: the whole set in minutes, with noisier figures
  name      one of: ${BENCHES.map((bench) => bench.name).join(', ')}`);
  process.exit(0);
}
const quick = process.argv.includes('--quick');
const named = process.argv.slice(2).filter((arg) => !arg.startsWith('--')).map((arg) => arg.replace(/\.ts$/, ''));
const unknown = named.filter((name) => !BENCHES.some((bench) => bench.name === name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHES.map((bench) => bench.name).join(', ')}`);
  process.exit(2);
}
const selected = named.length === 0 ? BENCHES : BENCHES.filter((bench) => named.includes(bench.name));

const dir = mkdtempSync(join(tmpdir(), 'jobgraph-bench-report-'));
const report = join(dir, 'rows.jsonl');
const failed: string[] = [];
const started = performance.now();
try {
  for (const bench of selected) {
    const args = quick ? (bench.quick.args ?? bench.args) : bench.args;
    const benchEnv = { ...bench.env, ...(quick ? bench.quick.env : {}) };
    const env = { ...process.env, ...benchEnv, BENCH_REPORT: report };
    const file = `${bench.file ?? bench.name}.ts`;
    const shownEnv = Object.entries(benchEnv).map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`\n== bun bench/${file}${args.length > 0 ? ` ${args.join(' ')}` : ''}${shownEnv ? `  (${shownEnv})` : ''}`);
    const proc = Bun.spawn(['bun', new URL(file, import.meta.url).pathname, ...args], { env, stdout: 'inherit', stderr: 'inherit' });
    // One failing bench does not hide the others' results; the run still exits non-zero.
    if ((await proc.exited) !== 0) failed.push(bench.name);
  }
  const minutes = (performance.now() - started) / 60_000;
  console.log(`\n== summary: ${selected.map((bench) => bench.name).join(', ')}${quick ? ' (--quick sizes)' : ''}, ${minutes.toFixed(1)} min\n`);
  console.log(summaryTable(readReport(report)));
  console.log('\nratio: jobgraph ÷ baseline (for times, below ×1 is faster than the baseline)');
  if (failed.length > 0) console.log(`\nfailed (no rows, or partial): ${failed.join(', ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failed.length > 0) process.exit(1);
