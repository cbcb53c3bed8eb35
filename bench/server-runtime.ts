// Imported by every benchmark whose jobgraph runs inside the benchmark's own process (bench/server.ts, bench/jobs.ts):
// the runtime reads the server's runtime settings (scripts/lib/server-runtime.ts) only when a process starts, so a
// benchmark started without them runs itself again with them (its runtime flags too, `--cpu-prof` say), passes it the
// signals it gets, and exits with that run's code. It then measures the server as `bun run start` runs it; a value set
// in the environment (MIMALLOC_PURGE_DELAY=10, say) is kept. The modules imported beside this one still load in the
// waiting process (an import with a top-level await holds back only its importer): they do nothing at load.
import { missingServerRuntime } from '../scripts/lib/server-runtime';

const missing = missingServerRuntime(process.env);
if (Object.keys(missing).length > 0) {
  const child = Bun.spawn([process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, ...missing },
    stdio: ['inherit', 'inherit', 'inherit'],
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  process.exit(await child.exited);
}
