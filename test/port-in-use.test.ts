import { expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeWithin, spawnProcess, spawnServer } from './helpers/process';
import { ADMIN_PASSWORD } from './helpers/server';

// Two jobgraphs on one port would each answer some of its requests, from two databases (a valid token then gets 401
// half the time): the second must refuse to start. Production mode is where Bun would otherwise share the port.
for (const nodeEnv of ['production', 'development']) {
  test.concurrent(`NODE_ENV=${nodeEnv}: a second jobgraph on a port another one holds exits 2 with one line; the first keeps answering`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-port-'));
    const env = { ADMIN_PASSWORD, WORKERS: '1', NODE_ENV: nodeEnv };
    const first = await spawnServer({ ...env, DATABASE_PATH: join(dir, 'first.db') }, 60_000);
    const port = new URL(first.url).port;
    const second = spawnProcess({ ...env, DATABASE_PATH: join(dir, 'second.db'), PORT: port });
    try {
      expect(await exitCodeWithin(second.proc, 60_000)).toBe(2);
      expect(second.stderr().trim()).toBe(`jobgraph: port ${port} on 127.0.0.1 is already in use; stop what holds it, or set PORT`);
      expect(second.stdout()).not.toContain('jobgraph listening');
      expect((await fetch(first.url.replace('/graphql', '/ready'))).status).toBe(200);
    } finally {
      second.proc.kill('SIGKILL');
      expect(await first.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
}
