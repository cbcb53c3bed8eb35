// bench/calc-client.ts — `bun run calc` as a person runs it, against the server's own time for the same file.
// Each round, alternately: the server's submit → SUCCEEDED (a multipart upload from this process, timed until the
// job's completion event), and the whole client run (`bun run calc operations.txt --out …`, process start to exit)
// against the same server. Prints both, their ratio (target ≤ 1.5), and checks the result file byte for byte.
//   bun bench/calc-client.ts [rounds=5]      (WORKERS sets the pool size; default: CPU count)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateToText, splitLines } from '../src/compute/calculator';
import { amount, reportRow } from './report';
import { startBenchServer } from './server';

const rounds = Number(process.argv[2] ?? 5);
const text = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(new URL('../data/operations.txt.gz', import.meta.url)))));
const expected = evaluateToText(splitLines(text)).output;
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-calc-client-'));
const input = join(dir, 'operations.txt');
const output = join(dir, 'results.txt');
await Bun.write(input, text);
const bench = await startBenchServer({ MAX_BODY_BYTES: String(64 * 1024 * 1024) });
const { server, token } = bench;
const baseUrl = server.url.replace(/\/graphql$/, '');

/** Submit → SUCCEEDED as the server sees it: the upload starts, then the job's completion event. */
async function serverRun(): Promise<number> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: 'mutation($file: File!) { submitCalcJob(input: { file: $file }) { id } }', variables: { file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', Bun.file(input), 'operations.txt');
  const completions = server.app.events.subscribe('jobCompleted')[Symbol.asyncIterator]();
  const start = performance.now();
  const response = await fetch(server.url, { method: 'POST', headers: { 'x-graphql-yoga-csrf': '1', authorization: `Bearer ${token}` }, body: form });
  const payload = (await response.json()) as { data?: { submitCalcJob: { id: string } }; errors?: unknown };
  if (!payload.data) throw new Error(JSON.stringify(payload.errors));
  const id = Number(payload.data.submitCalcJob.id);
  for (;;) {
    const next = await completions.next();
    if (next.value.id !== id) continue;
    if (next.value.status !== 'SUCCEEDED') throw new Error(`job ${id}: ${next.value.status}`);
    await completions.return?.();
    return (performance.now() - start) / 1000;
  }
}

/** The whole client: process start to exit, through `bun run calc` as the README says. */
async function clientRun(): Promise<number> {
  const start = performance.now();
  const child = Bun.spawn(['bun', 'run', 'calc', input, '--out', output, '--url', baseUrl, '--token', token], { stdout: 'pipe', stderr: 'pipe' });
  const code = await child.exited;
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`bun run calc exited ${code}: ${await new Response(child.stderr).text()}`);
  if ((await Bun.file(output).text()) !== expected) throw new Error('the result file differs from the interpreter’s output');
  return seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ms = (seconds: number) => `${(seconds * 1000).toFixed(0).padStart(5)} ms`;

try {
  // One of each first, unmeasured: workers, caches and the transpiler warm up.
  await serverRun();
  await clientRun();
  const servers: number[] = [];
  const clients: number[] = [];
  for (let round = 0; round < rounds; round++) {
    servers.push(await serverRun());
    clients.push(await clientRun());
  }
  console.log(`${splitLines(text).length.toLocaleString()} lines (${(text.length / 1e6).toFixed(1)} MB), WORKERS=${server.app.pool.size}, ${rounds} rounds (median, best)`);
  console.log(`  server: submit → SUCCEEDED            ${ms(median(servers))} ${ms(Math.min(...servers))}`);
  console.log(`  client: bun run calc, start to exit   ${ms(median(clients))} ${ms(Math.min(...clients))}   result file identical`);
  const ratio = median(clients) / median(servers);
  console.log(`  ratio client / server (median)        ${ratio.toFixed(2)}×   target ≤ 1.50× ${ratio <= 1.5 ? '✓' : '✗'}`);
  reportRow({
    measure: 'calc-client: `bun run calc operations.txt`, start to exit (median)',
    jobgraph: amount(median(clients) * 1000, 'ms'),
    baseline: `${amount(median(servers) * 1000, 'ms')} (server submit → SUCCEEDED)`,
    ratio,
    target: '≤ ×1.5',
    met: ratio <= 1.5,
  });
  console.log('  Python baseline: none in bench/ (the source client took ~1.7 s on this file, by issue 13)');
} finally {
  await bench.stop();
  rmSync(dir, { recursive: true, force: true });
}
