import { SERVER_RUNTIME_ENV } from './server-runtime';

// Test files the PostgreSQL pass of `bun run test` leaves out. None of them reads TEST_DATABASE_URL or
// TEST_REDIS_URL: they start no in-process test server, and every jobgraph they spawn runs on a SQLite file of its
// own (a spawned server reads DATABASE_URL and REDIS_URL, which the tests do not pass it). On PostgreSQL they would
// run exactly what the SQLite pass ran. test/test-passes.test.ts checks that each still starts nothing that reads them.
export const SQLITE_PASS_ONLY: Record<string, string> = {
  'test/architecture.test.ts': 'reads the sources',
  'test/bench-report.test.ts': 'bench/report.ts on files',
  'test/bootstrap.test.ts': 'spawned servers on SQLite files of their own',
  'test/cli.test.ts': 'spawned processes refusing their settings',
  'test/cli-args.test.ts': 'argument parsing',
  'test/compressed-cache.test.ts': 'a cache folder',
  'test/descriptions.test.ts': 'the built schema',
  'test/docs-links.test.ts': 'reads the docs',
  'test/event-bus.test.ts': 'the event bus without Redis',
  'test/flow-graph.test.ts': 'a pure kernel',
  'test/fuzz.test.ts': 'spawned servers on SQLite files of their own',
  'test/log-format.test.ts': 'spawned servers on SQLite files of their own',
  'test/pool-start.test.ts': 'the worker pool alone',
  'test/port-in-use.test.ts': 'spawned servers on SQLite files of their own',
  'test/python-format.test.ts': 'a pure formatter',
  'test/quote-server-start.test.ts': 'the embedded quote server alone',
  'test/recovery.test.ts': 'spawned servers on SQLite files of their own, read with bun:sqlite',
  'test/test-passes.test.ts': 'reads this list and the files it names',
};

/** What a test file may not mention to be in SQLITE_PASS_ONLY: each starts or reaches a server on the suite's backend. */
export const BACKEND_NAMES = /\b(startTestServer|createTestDatabase|TEST_DATABASE_URL|TEST_REDIS_URL|onSqlite|startServer|createApp|openPostgres|startPostgres|startRedis)\b|helpers\/cluster/;

// Every process of the suite runs with the server's runtime settings (./server-runtime.ts: its allocator keeps the memory
// it freed). `bun run test` gives them to both passes (their processes, spawned servers and CLI runs inherit them),
// test/helpers/process.ts to the servers it spawns (a plain `bun test`). Returning and faulting back pages was 20 % of
// the SQLite pass's CPU in a profile; with the setting the pass took ~25 % less CPU (alternating: 203 / 209 s against
// 144 / 160 s; wall 127 / 128 s against 96 / 106 s).
export const TEST_ALLOCATOR = SERVER_RUNTIME_ENV;
