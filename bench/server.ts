// A jobgraph for a benchmark: a temporary database, a free port of 127.0.0.1, quiet logs, no rate limit nor caps on
// live operations (every client is one user on one address), and an admin token. Not a benchmark itself (bench/index.ts lists those).
import './server-runtime';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { startServer, type RunningServer } from '../src/server';

const ADMIN_PASSWORD = 'bench-admin-password';

export interface BenchServer {
  server: RunningServer;
  token: string;
  stop(): Promise<void>;
}

export async function startBenchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-bench-'));
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: join(dir, 'bench.db'),
    ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_SECOND: '0',
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
    MAX_SUBSCRIPTIONS_PER_USER: '0',
    MAX_SUBSCRIPTIONS_PER_ADDRESS: '0',
    ...env,
  });
  const server = await startServer(config, { log: createLogger({ level: 'warn' }) });
  const login = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { token } }` }),
  });
  const token = ((await login.json()) as { data: { login: { token: string } } }).data.login.token;
  return {
    server,
    token,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
