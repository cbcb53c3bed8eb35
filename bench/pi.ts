// bench/pi.ts — the Monte Carlo π kernel. Samples/s on one core for our WebAssembly SIMD kernel, its JavaScript
// twin, and the baseline (a Math.random() loop, the source system's approach), all in this run; then scaling of
// estimatePi-sized work from 1 to WORKERS workers on the pool.
//   bun bench/pi.ts [samples=100000000]      (WORKERS sets the largest pool; default: CPU count)
import { availableParallelism } from 'node:os';
import { countInside, piFromCounts, splitSimulations, taskSeed } from '../src/compute/pi';
import { WorkerPool } from '../src/pool/pool';
import { amount, reportRow } from './report';

const samples = Number(process.argv[2] ?? 100_000_000);
const maxWorkers = Number(process.env.WORKERS ?? availableParallelism());

function mathRandomBaseline(n: number): number {
  let inside = 0;
  for (let i = 0; i < n; i++) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y < 1) inside++;
  }
  return inside;
}

/** Best of three runs (after one warm-up), in samples per second. */
function rate(count: (n: number) => number, n: number): number {
  count(Math.min(n, 1_000_000));
  let best = 0;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    count(n);
    best = Math.max(best, n / ((performance.now() - start) / 1000));
  }
  return best;
}

const fmt = (perSecond: number) => `${(perSecond / 1e6).toFixed(0)} M samples/s`;
const baseline = rate(mathRandomBaseline, samples);
const wasm = rate((n) => countInside(n, 1, undefined, 'wasm'), samples);
const js = rate((n) => countInside(n, 1, undefined, 'js'), samples);
console.log(`one core, ${samples.toLocaleString()} samples, best of 3:`);
console.log(`  baseline Math.random()  ${fmt(baseline)}`);
console.log(`  kernel, WebAssembly SIMD ${fmt(wasm)}   ×${(wasm / baseline).toFixed(1)}`);
console.log(`  kernel, JavaScript       ${fmt(js)}   ×${(js / baseline).toFixed(1)}`);
reportRow({
  measure: 'pi: kernel (WebAssembly SIMD), one core',
  jobgraph: amount(wasm / 1e6, 'M samples/s'),
  baseline: `${amount(baseline / 1e6, 'M samples/s')} (Math.random loop)`,
  ratio: wasm / baseline,
  target: '',
  met: null,
});

console.log(`\nestimatePi(${samples.toLocaleString()}, 8) on the pool (8 tasks), best of 3:`);
let oneWorker = 0;
for (let size = 1; size <= maxWorkers; size = size < maxWorkers && size * 2 > maxWorkers ? maxWorkers : size * 2) {
  const pool = new WorkerPool({ size });
  const estimate = async () => {
    const counts = await Promise.all(
      splitSimulations(samples, 8).map((n, i) => pool.run<number>('pi.count', { samples: n, seed: taskSeed(7, i) })),
    );
    return piFromCounts(counts.reduce((a, b) => a + b, 0), samples);
  };
  await estimate();
  let best = Infinity;
  let pi = 0;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    pi = await estimate();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  await pool.close();
  if (size === 1) oneWorker = best;
  console.log(
    `  ${String(size).padStart(2)} worker(s): ${(best * 1000).toFixed(1)} ms  ${fmt(samples / best)}  speed-up ×${(oneWorker / best).toFixed(2)}  π≈${pi.toFixed(6)}`,
  );
  if (size === maxWorkers) break;
}
