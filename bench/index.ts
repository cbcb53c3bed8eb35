// `bun run bench`: every benchmark in turn. Each prints its own baseline and ratio; see README for results.
const benches = ['pi.ts', 'calc.ts', 'calc-client.ts', 'analytics.ts', 'analytics-uncached.ts', 'quotes.ts', 'relay.ts', 'jobs.ts', 'submit.ts', 'public.ts'];
for (const bench of benches) {
  console.log(`\n== bench/${bench}`);
  const proc = Bun.spawn(['bun', new URL(bench, import.meta.url).pathname], { stdout: 'inherit', stderr: 'inherit' });
  if ((await proc.exited) !== 0) process.exit(1);
}
