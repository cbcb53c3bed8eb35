// Imported first by every benchmark whose jobgraph runs in its own process (bench/server.ts, bench/jobs.ts): the
// runtime reads the server's runtime settings (scripts/lib/server-runtime.ts) only when a process starts, so a
// benchmark started without them starts itself again with them and exits with that run's code. It then measures the
// server as `bun run start` runs it; a value set in the environment (MIMALLOC_PURGE_DELAY=10, say) is kept.
import { SERVER_RUNTIME_ENV } from '../scripts/lib/server-runtime';

const missing = Object.keys(SERVER_RUNTIME_ENV).filter((name) => process.env[name] === undefined);
if (missing.length > 0) {
  const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, ...Object.fromEntries(missing.map((name) => [name, SERVER_RUNTIME_ENV[name]!])) },
    stdio: ['inherit', 'inherit', 'inherit'],
  });
  process.exit(await child.exited);
}
