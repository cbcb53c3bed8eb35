// bench/checkouts.ts — one HTTP operation on jobgraph from several checkouts (this one and, say, a worktree of main)
// and a query on the stock Yoga server (bench/stock-server.ts), all started at once and measured in turn, ROUNDS times
// (A B C A B C …), the best of each: a before/after beside stock in the same run on a shared machine. Each server is
// pinned to core 0 (taskset, where available), the load (bench/public-client.ts, 64 keep-alive connections) runs on
// core 1; each figure is also given per second of the server's own CPU, which other loads disturb less than the rate.
//   bun bench/checkouts.ts <seconds> <rounds> <query> <stock query> [checkout…]   (default checkout: this one)
//   e.g. git worktree add --detach /tmp/base main && (cd /tmp/base && bun install)
//        bun bench/checkouts.ts 3 4 '{ me { id username } }' '{ hello }' /tmp/base .
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { withServerRuntime } from '../scripts/lib/server-runtime';

const [seconds = '3', rounds = '4', query = '{ me { id username } }', stockQuery = '{ hello }', ...given] = process.argv.slice(2);
const root = new URL('..', import.meta.url).pathname;
const checkouts = (given.length ? given : [root]).map((path) => resolve(path));
const ADMIN_PASSWORD = 'bench-admin-password';
const canPin = Bun.which('taskset') !== null;
const on = (core: number, command: string[]) => (canPin ? ['taskset', '-c', String(core), ...command] : command);
const dir = mkdtempSync(join(tmpdir(), 'jobgraph-checkouts-'));

interface Server {
  label: string;
  url: string;
  query: string;
  token?: string;
  child: Subprocess;
  best: { rate: number; perCpuSecond: number };
}

/** A process's CPU seconds so far (utime + stime, /proc; clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function post(url: string, body: object): Promise<any> {
  return (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
}

async function start(label: string, cwd: string, command: string[], port: number, query: string, signIn: boolean): Promise<Server> {
  const given = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_PATH: join(dir, `${port}.db`), ADMIN_PASSWORD, LOG_LEVEL: 'warn', WORKERS: '1', RATE_LIMIT_PER_SECOND: '0' };
  // jobgraph as `bun run start` starts it (scripts/lib/server-runtime.ts); stock Yoga as its own defaults.
  const env = signIn ? withServerRuntime(given) : given;
  const child = Bun.spawn(on(0, command), { cwd, env, stdout: 'ignore', stderr: 'inherit' });
  const url = `http://127.0.0.1:${port}/graphql`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null || attempt > 600) throw new Error(`${label} did not start`);
    if (await post(url, { query: '{ __typename }' }).then(() => true, () => false)) break;
    await Bun.sleep(50);
  }
  const token = signIn ? (await post(url, { query: `mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { token } }` })).data.login.token : undefined;
  return { label, url, query, token, child, best: { rate: 0, perCpuSecond: 0 } };
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

const servers: Server[] = [];
try {
  for (const checkout of checkouts) servers.push(await start(checkout, checkout, ['bun', 'src/main.ts'], freePort(), query, true));
  const stockPort = freePort();
  servers.push(await start('stock Yoga', root, ['bun', 'bench/stock-server.ts', String(stockPort)], stockPort, stockQuery, false));
  // Round 0 warms each server up (1 s) and is not counted.
  for (let round = 0; round <= Number(rounds); round++) {
    for (const server of servers) {
      const before = cpuSeconds(server.child.pid);
      const load = Bun.spawn(on(1, ['bun', 'bench/public-client.ts', 'http', server.url, round === 0 ? '1' : seconds, '64', server.query, ...(server.token ? [server.token] : [])]), { cwd: root, stdout: 'pipe' });
      const output = await new Response(load.stdout).text();
      if ((await load.exited) !== 0) throw new Error(`the load on ${server.label} failed`);
      if (round === 0) continue;
      const { requests, seconds: measured } = JSON.parse(output.trim().split('\n').at(-1)!);
      const rate = requests / measured;
      const perCpuSecond = requests / (cpuSeconds(server.child.pid) - before);
      server.best = { rate: Math.max(server.best.rate, rate), perCpuSecond: Math.max(server.best.perCpuSecond, perCpuSecond) };
      console.log(`round ${round} ${server.label}: ${Math.round(rate)} req/s, ${Math.round(perCpuSecond)} per CPU second`);
    }
  }
  const stock = servers.at(-1)!.best;
  console.log(`\nbest of ${rounds} rounds of ${seconds} s (load average at the end ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}):`);
  console.log('| server | query | req/s | ×stock | per CPU second | ×stock | µs of CPU per request |\n| --- | --- | --- | --- | --- | --- | --- |');
  for (const { label, query: asked, best } of servers) {
    console.log(`| ${label} | \`${asked}\` | ${Math.round(best.rate).toLocaleString('en')} | ×${(best.rate / stock.rate).toFixed(2)} | ${Math.round(best.perCpuSecond).toLocaleString('en')} | ×${(best.perCpuSecond / stock.perCpuSecond).toFixed(2)} | ${Math.round(1e6 / best.perCpuSecond)} |`);
  }
} finally {
  for (const server of servers) server.child.kill('SIGKILL');
  await Promise.all(servers.map((server) => server.child.exited));
  rmSync(dir, { recursive: true, force: true });
}
