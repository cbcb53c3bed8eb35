// Throwaway PostgreSQL and Redis servers for tests and trying a cluster: initialised into a temporary directory,
// listening only on 127.0.0.1 (and a Unix socket in that directory), gone when stopped. Debian's `postgresql` and
// `redis-server` packages are enough; no Docker. As root (CI), PostgreSQL runs as the `postgres` user (initdb
// refuses root).
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { withServerRuntime } from './server-runtime';

export interface LocalServer {
  url: string;
  stop(): Promise<void>;
}

/** The directory holding PostgreSQL's initdb/pg_ctl/postgres, newest version first; null when not installed. */
export function findPostgresBin(): string | null {
  for (const candidate of [process.env.PG_BIN]) if (candidate && existsSync(join(candidate, 'initdb'))) return candidate;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) if (existsSync(join(root, version, 'bin', 'initdb'))) return join(root, version, 'bin');
  }
  const onPath = Bun.which('initdb');
  return onPath ? onPath.replace(/\/initdb$/, '') : null;
}

export const findRedisServer = (): string | null => Bun.which('redis-server');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command (as `user` when given: we are root), failing with its output. */
function run(command: string[], user: string | null): void {
  const argv = user ? ['runuser', '-u', user, '--', ...command] : command;
  const result = Bun.spawnSync(argv, { stdout: 'pipe', stderr: 'pipe' });
  if (result.exitCode !== 0) throw new Error(`${command.join(' ')} failed (${result.exitCode}): ${result.stderr.toString()}${result.stdout.toString()}`);
}

/** A PostgreSQL cluster of our own: `halt` stops the server (fast shutdown: sessions are cut), `resume` starts it again on the same port and data. */
export interface LocalPostgres extends LocalServer {
  halt(): Promise<void>;
  resume(): Promise<void>;
}

/** Starts a fresh PostgreSQL cluster; `url` connects as the superuser `jobgraph` (trust auth, loopback only). */
export async function startPostgres(bin = findPostgresBin()): Promise<LocalPostgres> {
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql), or set PG_BIN');
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-pg-'));
  const user = userInfo().uid === 0 ? 'postgres' : null;
  if (user) {
    const { uid, gid } = lookupUser(user);
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  run([join(bin, 'initdb'), '-D', data, '-U', 'jobgraph', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], user);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = () => run([join(bin, 'pg_ctl'), '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start'], user);
  start();
  return {
    url: `postgres://jobgraph@127.0.0.1:${port}/postgres`,
    async halt() {
      run([join(bin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop'], user);
    },
    async resume() {
      start();
    },
    async stop() {
      try {
        run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'], user);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Starts redis-server on a free loopback port, without persistence. */
export async function startRedis(binary = findRedisServer()): Promise<LocalServer> {
  if (!binary) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const child = Bun.spawn([binary, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdout: 'ignore',
    stderr: 'inherit',
  });
  for (let tries = 0; ; tries++) {
    try {
      const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } });
      socket.end();
      break;
    } catch (error) {
      if (tries > 100 || child.exitCode !== null) throw new Error(`redis-server did not start: ${error}`);
      await Bun.sleep(50);
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}

/** One jobgraph process (`bun src/main.ts`) on a free loopback port; `ready` resolves once its /ready answers 200. */
export async function startInstance(env: Record<string, string>, output: 'inherit' | 'ignore' = 'inherit') {
  const port = await freePort();
  const proc = Bun.spawn(['bun', 'src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: withServerRuntime({ ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) }),
    stdout: output,
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  const ready = (async () => {
    for (let tries = 0; ; tries++) {
      if (await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.status === 200, () => false)) return;
      if (proc.exitCode !== null || tries > 600) throw new Error(`jobgraph on port ${port} did not start`);
      await Bun.sleep(100);
    }
  })();
  return { proc, url, ready };
}

/** One GraphQL request; its `data`, or an error carrying the response's errors. */
export async function gql(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function lookupUser(name: string): { uid: number; gid: number } {
  const line = Bun.spawnSync(['id', '-u', name]).stdout.toString().trim();
  const group = Bun.spawnSync(['id', '-g', name]).stdout.toString().trim();
  if (!line) throw new Error(`no user ${name} to run PostgreSQL as (initdb refuses root)`);
  return { uid: Number(line), gid: Number(group) };
}
