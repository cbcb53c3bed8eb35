// What the server's process is started with (`bun run start` in package.json, the Dockerfile's ENV), unless its
// environment already sets them (an empty value counts as unset, as sh's `${NAME:-value}` reads it): settings the
// runtime reads once, when a process starts, so jobgraph's own configuration cannot set them. test/deploy.test.ts
// checks that package.json and the Dockerfile set each of them. The start script needs a POSIX sh (what `bun run`
// uses on Linux and macOS; Bun's own shell, `--shell=bun`, would pass the text unexpanded).
//
// MIMALLOC_PURGE_DELAY=-1: Bun's allocator (mimalloc) keeps the memory it freed for reuse. By default it hands pages
// freed ~100 ms ago back to the OS and faults them in again when used: under a job load ~25 % of the CPU a job costs
// (`WORKERS=1 taskset -c 0 bun bench/jobs.ts 50000`: 18.2–19.1k jobs/s by default, 23.5–25.8k with it). The cost is
// memory freed after a peak staying resident; an idle server after start holds 134 MB with it against 123 MB
// (`bun bench/idle-memory.ts`). `MIMALLOC_PURGE_DELAY=10` in the environment gives the allocator's own behaviour back
// (docs/configuration.md).
export const SERVER_RUNTIME_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: '-1' };

/** The settings `env` lacks (unset or empty), with their values. */
export const missingServerRuntime = (env: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(SERVER_RUNTIME_ENV).filter(([name]) => !env[name]));

/** `env` with the server's runtime settings where it has none of its own. */
export const withServerRuntime = <T extends Record<string, string | undefined>>(env: T): T => ({ ...env, ...missingServerRuntime(env) });

/** The start command's prefix, as package.json writes it (POSIX sh: a value already in the environment wins). */
export const SERVER_RUNTIME_PREFIX = Object.entries(SERVER_RUNTIME_ENV)
  .map(([name, value]) => `${name}=\${${name}:-${value}}`)
  .join(' ');
