import { describe, expect, test } from 'bun:test';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_DATABASE_IN_USE } from '../src/db/lock';
import { exitCodeWithin, spawnProcess, spawnServer } from './helpers/process';
import { SOURCE_SERVER_COMMAND } from './helpers/server-bundle';
import { ADMIN_PASSWORD, startTestServer } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const freshDir = () => tempDir('jobgraph-processes-');

describe('one jobgraph per database file', () => {
  // The two process tests each have their own database and processes: they run at once.
  test.concurrent('a second process on the same file refuses to start, with a clear message and exit code 3; the first is unaffected', async () => {
    const dir = freshDir();
    const databasePath = join(dir, 'jobgraph.db');
    const env = { DATABASE_PATH: databasePath, ADMIN_PASSWORD, WORKERS: '1' };
    // The first as a person starts it (`bun src/main.ts`); every other spawned server runs the bundle of the same source.
    const first = await spawnServer(env, undefined, SOURCE_SERVER_COMMAND);
    const second = spawnProcess(env);
    try {
      expect(await exitCodeWithin(second.proc, 15_000)).toBe(EXIT_DATABASE_IN_USE);
      expect(EXIT_DATABASE_IN_USE).toBe(3);
      expect(second.stderr()).toContain(`jobgraph: database ${databasePath} is in use by another jobgraph process (pid ${first.proc.pid})`);
      expect(second.stdout()).not.toContain('jobgraph listening');

      const ready = await fetch(first.url.replace('/graphql', '/ready'));
      expect(ready.status).toBe(200);
    } finally {
      second.proc.kill('SIGKILL');
      expect(await first.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test.concurrent('the lock dies with its process: after kill -9 the next start takes the file over', async () => {
    const dir = freshDir();
    const databasePath = join(dir, 'jobgraph.db');
    const env = { DATABASE_PATH: databasePath, ADMIN_PASSWORD, WORKERS: '1' };
    const first = await spawnServer(env);
    first.proc.kill('SIGKILL');
    await first.proc.exited;
    // The lock file stays behind, naming the dead process; only the OS lock counts.
    expect(readFileSync(`${databasePath}.lock`, 'utf8').trim()).toBe(String(first.proc.pid));

    const second = await spawnServer(env);
    try {
      expect(readFileSync(`${databasePath}.lock`, 'utf8').trim()).toBe(String(second.proc.pid));
      expect((await fetch(second.url.replace('/graphql', '/ready'))).status).toBe(200);
    } finally {
      expect(await second.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test('in one process too: a second server on an open file fails, and one stopped cleanly frees it', async () => {
    // A SQLite file on either test run: the lock is SQLite's.
    const first = await startTestServer({ DATABASE_PATH: join(freshDir(), 'jobgraph.db') });
    try {
      await expect(startTestServer({ DATABASE_PATH: first.databasePath, QUOTE_SERVER: '127.0.0.1:1' })).rejects.toThrow(
        `database ${first.databasePath} is in use by another jobgraph process (pid ${process.pid})`,
      );
    } finally {
      await first.stop();
    }
    const again = await startTestServer({ DATABASE_PATH: first.databasePath });
    await again.stop();
  });
});

describe('/ready', () => {
  test('says ready or not to anyone; only an admin sees the checks (addresses, the upstream URL)', async () => {
    const upstream = 'http://relay-upstream.internal.example:8080/api/';
    const server = await startTestServer({ RELAY_UPSTREAM: upstream });
    try {
      const readyUrl = server.url.replace('/graphql', '/ready');
      const quoteAddress = `127.0.0.1:${server.quoteServer!.port}`;
      const readAs = async (token?: string) => {
        const response = await fetch(readyUrl, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        return { status: response.status, text: await response.text() };
      };

      const anonymous = await readAs();
      expect(anonymous.status).toBe(200);
      expect(JSON.parse(anonymous.text)).toEqual({ status: 'ready' });
      expect(anonymous.text).not.toContain('relay-upstream');
      expect(anonymous.text).not.toContain(String(server.quoteServer!.port));

      for (const role of ['USER', 'MANAGER'] as const) {
        const { token } = await server.userWithRole(role);
        expect(await readAs(token)).toEqual(anonymous);
      }
      expect(await readAs('not-a-valid-token')).toEqual(anonymous);

      const admin = await readAs(await server.adminToken());
      expect(admin.status).toBe(200);
      const body = JSON.parse(admin.text);
      expect(body.status).toBe('ready');
      expect(body.checks).toMatchObject({
        database: true,
        workers: 2,
        draining: false,
        quoteServer: { address: quoteAddress, status: 'external', embedded: false },
        relay: { upstream },
      });

      // Not ready is a 503 for everyone, with no more said to those who are not admins.
      await server.running.app.jobs.drain(0);
      const draining = await readAs();
      expect(draining.status).toBe(503);
      expect(JSON.parse(draining.text)).toEqual({ status: 'not ready' });
    } finally {
      await server.stop();
    }
  });
});
