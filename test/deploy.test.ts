// The Dockerfile and compose.yaml, checked where no image registry is reachable (docs/deploy.md says what this
// covers): the Dockerfile's own CMD and HEALTHCHECK commands run outside a container, with its ENV, from a copy of
// what its COPY lines take; compose's three jobgraph services start with their environment (host names pointed at
// a local PostgreSQL and Redis) and each passes the healthcheck.
import { describe, expect, test } from 'bun:test';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { freePort } from '../scripts/lib/local-servers';
import { SERVER_RUNTIME_ENV, SERVER_RUNTIME_PREFIX, withServerRuntime } from '../scripts/lib/server-runtime';
import { ANALYTICS_FIXTURE as ANALYTICS_CSV, createTestDatabase, TEST_DATABASE_URL } from './helpers/server';

const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

const ROOT = join(import.meta.dir, '..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((line) => line.trim() && !line.startsWith('#'))
  .map((line) => {
    const [keyword, ...rest] = line.trim().split(/\s+/);
    return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });
const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const execForm = (text: string) => JSON.parse(text.slice(text.indexOf('['))) as string[];

const CMD = execForm(all('CMD')[0]!);
const HEALTHCHECK = execForm(all('HEALTHCHECK')[0]!.replace(/^.*?CMD\s+/, ''));
const ENV = Object.fromEntries(all('ENV').flatMap((args) => [...args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

/** Runs a command as the container would, in `cwd`, until it exits; its exit code. */
async function run(argv: string[], cwd: string, env: Record<string, string>): Promise<number> {
  return Bun.spawn(argv, { cwd, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, stdout: 'ignore', stderr: 'ignore' }).exited;
}

/** Runs the healthcheck until it passes (or the deadline: a liveness bound, generous for a machine running two suites): whether it did. */
async function becomesHealthy(cwd: string, env: Record<string, string>, deadlineMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  // Asked from here first (a fetch, not a process a try: ~40 ms of CPU each, dozens while three servers start on a
  // busy machine), then the healthcheck itself, which must pass.
  const ready = () => fetch(`http://127.0.0.1:${env.PORT}/ready`, { signal: AbortSignal.timeout(2000) }).then((response) => response.status === 200, () => false);
  while (Date.now() < deadline) {
    if ((await ready()) && (await run(HEALTHCHECK, cwd, env)) === 0) return true;
    await Bun.sleep(200);
  }
  return false;
}

describe('Dockerfile', () => {
  test('the official Bun image at the version CI uses, a non-root user, a healthcheck on /ready', () => {
    const ciBun = /BUN_VERSION=(\S+)/.exec(readFileSync(join(ROOT, '.ci/run'), 'utf8'))![1];
    expect(all('FROM')[0]).toBe(`oven/bun:${ciBun}-slim`);
    expect(all('USER').at(-1)).toBe('bun');
    expect(readFileSync(join(ROOT, HEALTHCHECK[1]!), 'utf8')).toContain('/ready');
    // Every COPY source exists, and .dockerignore keeps none of them out.
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
    for (const copy of all('COPY')) {
      for (const source of copy.split(/\s+/).slice(0, -1)) {
        expect(existsSync(join(ROOT, source))).toBe(true);
        expect(ignored).not.toContain(source);
      }
    }
  });

  test("the server's runtime settings (scripts/lib/server-runtime.ts): its ENV and `bun run start` both set them; one already in the environment wins", () => {
    for (const [name, value] of Object.entries(SERVER_RUNTIME_ENV)) expect({ name, value: ENV[name] }).toEqual({ name, value });
    const start = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
    expect(start).toBe(`${SERVER_RUNTIME_PREFIX} bun src/main.ts`);
    // The script's prefix as the shell reads it (`bun run` runs scripts with sh): unset, then set by the operator.
    const printed = (env: Record<string, string>) =>
      Bun.spawnSync(['sh', '-c', start.replace('bun src/main.ts', `printenv ${Object.keys(SERVER_RUNTIME_ENV).join(' ')}`)], { env: { PATH: process.env.PATH!, ...env } }).stdout.toString().trim().split('\n');
    expect(printed({})).toEqual(Object.values(SERVER_RUNTIME_ENV));
    expect(printed({ MIMALLOC_PURGE_DELAY: '10' })).toEqual(['10']);
    // An empty value counts as unset, in the script and where the benchmarks and scripts start a server alike.
    expect(printed({ MIMALLOC_PURGE_DELAY: '' })).toEqual(Object.values(SERVER_RUNTIME_ENV));
    expect(withServerRuntime<Record<string, string>>({ MIMALLOC_PURGE_DELAY: '' })).toEqual({ ...SERVER_RUNTIME_ENV });
    expect(withServerRuntime({ MIMALLOC_PURGE_DELAY: '10' })).toEqual({ MIMALLOC_PURGE_DELAY: '10' });
  });

  // At once with compose's three instances below (on PostgreSQL): each waits for processes of its own to start.
  test.concurrent('its CMD, run with its ENV from the files its COPY lines take, passes its HEALTHCHECK; stopped, fails it', async () => {
    // The image's /app: what COPY takes (node_modules linked: `bun install` made it in the image).
    const app = mkdtempSync(join(tmpdir(), 'jobgraph-image-'));
    for (const copy of all('COPY')) for (const source of copy.split(/\s+/).slice(0, -1)) cpSync(join(ROOT, source), join(app, source), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
    const port = String(await freePort());
    const env = { ...ENV, PORT: port, DATABASE_PATH: join(app, 'data', 'jobgraph.db'), ADMIN_PASSWORD: 'a-long-enough-password', WORKERS: '1', LOG_LEVEL: 'warn' };
    const server = Bun.spawn(CMD, { cwd: app, env: { PATH: process.env.PATH!, HOME: app, ...env }, stdout: 'ignore', stderr: 'pipe' });
    try {
      expect(await run(HEALTHCHECK, app, env)).toBe(1);
      expect(await becomesHealthy(app, env)).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(200);
    } finally {
      server.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
    expect(await run(HEALTHCHECK, app, env)).toBe(1);
    rmSync(app, { recursive: true, force: true });
  }, 90_000);
});

describe('compose.yaml', () => {
  const compose = Bun.YAML.parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as any;
  const instances = ['jobgraph1', 'jobgraph2', 'jobgraph3'];
  /** A service's environment with compose's `${NAME:-default}` and `${NAME:?message}` filled in. */
  const environmentOf = (service: string, given: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(compose.services[service].environment as Record<string, string>).map(([name, value]) => [
        name,
        String(value).replace(/\$\{(\w+)(?::[-?]([^}]*))?\}/g, (_, variable: string, fallback = '') => given[variable] ?? fallback),
      ]),
    );

  test.concurrent('three jobgraph instances built from the Dockerfile, PostgreSQL and Redis with healthchecks, each instance waiting for both', () => {
    for (const name of instances) {
      const service = compose.services[name];
      expect(service.build).toBe('.');
      expect(service.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      const config = loadConfig(environmentOf(name, { ADMIN_PASSWORD: 'a-long-enough-password' }));
      expect(config.databaseUrl).toStartWith('postgres://');
      expect(config.redisUrl).toStartWith('redis://');
    }
    expect(new Set(instances.map((name) => compose.services[name].ports[0]))).toEqual(new Set(['4001:4000', '4002:4000', '4003:4000']));
    expect(compose.services.postgres.image).toStartWith('postgres:');
    expect(compose.services.redis.image).toStartWith('redis:');
    expect(compose.services.postgres.healthcheck.test).toBeDefined();
    expect(compose.services.redis.healthcheck.test).toBeDefined();
  });

  // On the PostgreSQL pass's own servers (a database of its own, the pass's Redis): on SQLite it would start a
  // PostgreSQL and a Redis of its own, the SQLite pass's costliest test for a check this pass makes anyway.
  test.concurrent.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('its three instances, on PostgreSQL and Redis, each pass the Dockerfile’s healthcheck', async () => {
    const database = await createTestDatabase();
    // One prefix for the three: they are one deployment, and apart from any other test's servers on this Redis.
    const redisPrefix = `test:${crypto.randomUUID()}:`;
    const procs: ReturnType<typeof Bun.spawn>[] = [];
    try {
      const envs = await Promise.all(
        instances.map(async (name) => {
          const composed = environmentOf(name, { ADMIN_PASSWORD: 'a-long-enough-password' });
          // compose's host names (postgres, redis) pointed at the local servers; the small analytics file (the
          // bundled one is the Dockerfile test's).
          return { ...ENV, ...composed, DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: redisPrefix, PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ANALYTICS_CSV };
        }),
      );
      // Started together, as compose starts them: they take turns at the migrations.
      for (const env of envs) procs.push(Bun.spawn(CMD, { cwd: ROOT, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, stdout: 'ignore', stderr: 'ignore' }));
      expect(await Promise.all(envs.map((env) => becomesHealthy(ROOT, env, 60_000)))).toEqual([true, true, true]);
    } finally {
      for (const proc of procs) proc.kill('SIGTERM');
      await Promise.all(procs.map((proc) => proc.exited));
      await database.drop();
    }
  }, 90_000);
});

describe('--help starts nothing', () => {
  for (const [name, argv] of [
    ['bun run bench --help', ['bun', 'run', 'bench', '--help']],
    ['bun scripts/cluster.ts --help', ['bun', 'scripts/cluster.ts', '--help']],
  ] as const) {
    test(name, async () => {
      const child = Bun.spawn([...argv], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
      const [code, out] = [await child.exited, await new Response(child.stdout).text()];
      expect(code).toBe(0);
      expect(out).toStartWith('usage: ');
    }, 10_000);
  }
});
