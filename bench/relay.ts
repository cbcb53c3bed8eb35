// bench/relay.ts — cached hits of the relay through GraphQL, with jobgraph pinned to ONE core (taskset -c 0) and
// the load generator on the other. Upstream: a local Bun server answering a 351-byte restaurant list with
// max-age=3600, so after the first request every call is a cache hit. Baseline in the same run, same server, same
// load: a trivial GraphQL query (`{ __typename }`), the ceiling of the HTTP + GraphQL stack; and the source's
// figure, 812 requests/s on 4 cores.
//   bun bench/relay.ts [seconds=5] [connections=64]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { amount, reportRow } from './report';
import { withServerRuntime } from '../scripts/lib/server-runtime';

const SECONDS = Number(process.argv[2] ?? 5);
const CONNECTIONS = Number(process.argv[3] ?? 64);
const SOURCE_REQUESTS_PER_SECOND = 812;

// 351 bytes, like the source's cached response.
const restaurants = [
  { identifier: 'r1', name: 'Chez Bun', city: 'Lyon', rating: 4.5 },
  { identifier: 'r2', name: 'Yoga Diner', city: 'Oslo', rating: 4.1 },
  { identifier: 'r3', name: 'The Pothos', city: 'Porto', rating: 3.9 },
  { identifier: 'r4', name: 'Drizzle & Co', city: 'Bergen', rating: 4.8 },
  { identifier: 'r5', name: 'SQLite Bistro', city: 'Gent', rating: 4.0 },
];
const payload = JSON.stringify(restaurants);
let upstreamHits = 0;
const upstream = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: () => {
    upstreamHits++;
    return new Response(payload, { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=3600' } });
  },
});

const dir = mkdtempSync(join(tmpdir(), 'jobgraph-bench-'));
const canPin = Bun.which('taskset') !== null;
if (canPin) Bun.spawnSync(['taskset', '-cp', '1', String(process.pid)]);
// A free port for the server, so it can run at LOG_LEVEL=warn (no per-request log lines) and be found by /health.
const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
const port = probe.port;
probe.stop(true);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
const server = Bun.spawn([...(canPin ? ['taskset', '-c', '0'] : []), 'bun', 'src/main.ts'], {
  cwd: new URL('..', import.meta.url).pathname,
  env: withServerRuntime({
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_PATH: join(dir, 'bench.db'),
    ADMIN_PASSWORD: 'bench-admin-password',
    LOG_LEVEL,
    RATE_LIMIT_PER_SECOND: '0',
    WORKERS: '1',
    RELAY_UPSTREAM: `http://127.0.0.1:${upstream.port}/`,
    QUOTE_SERVER: '127.0.0.1:9',
  }),
  stdout: 'ignore',
  stderr: 'inherit',
});

async function listeningUrl(): Promise<string> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (server.exitCode !== null) throw new Error('the server exited');
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
    if (ok) return `http://127.0.0.1:${port}/graphql`;
    await Bun.sleep(50);
  }
  throw new Error('the server did not start');
}

async function load(url: string, token: string, query: string): Promise<number> {
  const body = JSON.stringify({ query });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        const response = await fetch(url, { method: 'POST', headers, body });
        const result = (await response.json()) as { errors?: unknown };
        if (result.errors) throw new Error(JSON.stringify(result.errors));
        done++;
      }
    }),
  );
  return done / SECONDS;
}

try {
  const url = await listeningUrl();
  const login = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation { login(username: "admin", password: "bench-admin-password") { token } }' }),
  });
  const token = ((await login.json()) as any).data.login.token as string;
  const relayQuery = '{ restaurants { identifier name } }';
  await load(url, token, relayQuery); // warm-up (and the one upstream request)
  const baseline = await load(url, token, '{ __typename }');
  const relay = await load(url, token, relayQuery);
  console.log(`jobgraph on ${canPin ? 'one core (taskset -c 0)' : 'all cores (no taskset)'}, LOG_LEVEL=${LOG_LEVEL}, ${CONNECTIONS} connections, ${SECONDS} s each:`);
  console.log(`  baseline { __typename }:          ${Math.round(baseline).toLocaleString()} req/s`);
  console.log(`  relay cached hit { restaurants }: ${Math.round(relay).toLocaleString()} req/s  (×${(relay / baseline).toFixed(2)} of the baseline)`);
  console.log(`  vs the source's ${SOURCE_REQUESTS_PER_SECOND} req/s on 4 cores: ×${(relay / SOURCE_REQUESTS_PER_SECOND).toFixed(1)} (target ×20)`);
  console.log(`  upstream requests during the whole run: ${upstreamHits}`);
  reportRow({
    measure: `relay cached hit, ${canPin ? 'one core' : 'all cores'}, ${CONNECTIONS} connections`,
    jobgraph: amount(relay, 'req/s'),
    baseline: `${amount(baseline, 'req/s')} ({ __typename })`,
    ratio: relay / baseline,
    target: `≥ ${amount(20 * SOURCE_REQUESTS_PER_SECOND, 'req/s')} (×20 the source)`,
    met: relay >= 20 * SOURCE_REQUESTS_PER_SECOND,
  });
} finally {
  server.kill('SIGTERM');
  await server.exited;
  upstream.stop(true);
  rmSync(dir, { recursive: true, force: true });
}
