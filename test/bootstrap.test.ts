import { describe, expect, test } from 'bun:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from './helpers/process';

const login = async (url: string, username: string, password: string) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token user { role } } }', variables: { u: username, p: password } }),
  });
  return (await response.json()) as any;
};

// Each test starts its own processes on its own database: they run at once, waiting on the starts together.
describe.concurrent('the first admin', () => {
  test('without ADMIN_PASSWORD: a strong password is generated, shown once on the console, never logged', async () => {
    const databasePath = join(mkdtempSync(join(tmpdir(), 'jobgraph-boot-')), 'jobgraph.db');
    const first = await spawnServer({ DATABASE_PATH: databasePath });
    const match = /generated password:\s+(\S+)/.exec(first.stderr());
    expect(match).not.toBeNull();
    const password = match![1]!;
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect((await login(first.url, 'admin', password)).data.login.user.role).toBe('ADMIN');
    expect((await login(first.url, 'admin', 'admin')).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(await first.stop()).toBe(0);
    expect(first.stdout()).not.toContain(password);
    expect(first.stdout()).toContain('"passwordSource":"generated"');

    // A restart on the same database keeps the admin and prints nothing new.
    const second = await spawnServer({ DATABASE_PATH: databasePath });
    expect(second.stderr()).not.toContain('generated password');
    expect((await login(second.url, 'admin', password)).data.login.token).toBeString();
    expect(await second.stop('SIGINT')).toBe(0);
  }, 30_000);

  test('with ADMIN_USERNAME and ADMIN_PASSWORD: that account is created, nothing is printed', async () => {
    const databasePath = join(mkdtempSync(join(tmpdir(), 'jobgraph-boot-')), 'jobgraph.db');
    const server = await spawnServer({ DATABASE_PATH: databasePath, ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'a-configured-secret' });
    try {
      expect(server.stderr()).not.toContain('generated password');
      expect((await login(server.url, 'root', 'a-configured-secret')).data.login.user.role).toBe('ADMIN');
      expect(server.stdout()).not.toContain('a-configured-secret');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 30_000);

  test('a weak ADMIN_PASSWORD stops the start with a clear message', async () => {
    const databasePath = join(mkdtempSync(join(tmpdir(), 'jobgraph-boot-')), 'jobgraph.db');
    await expect(spawnServer({ DATABASE_PATH: databasePath, ADMIN_PASSWORD: 'short' })).rejects.toThrow(
      'ADMIN_PASSWORD must be 8 to 256 characters long',
    );
  }, 30_000);

  test('a malformed setting stops the start with a clear message', async () => {
    await expect(spawnServer({ PORT: 'eighty' })).rejects.toThrow('PORT must be an integer from 0 to 65535, got "eighty"');
  }, 30_000);
});
