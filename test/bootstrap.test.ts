import { Database } from 'bun:sqlite';
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { exitCodeWithin, spawnProcess, spawnServer } from './helpers/process';
import { until } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

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
    const databasePath = join(tempDir('jobgraph-boot-'), 'jobgraph.db');
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
  }, 90_000);

  test('with ADMIN_USERNAME and ADMIN_PASSWORD: that account is created, nothing is printed', async () => {
    const databasePath = join(tempDir('jobgraph-boot-'), 'jobgraph.db');
    // At production cost: the test-only JOBGRAPH_TEST_CHEAP_PASSWORD_HASH unset, as an operator runs it.
    const server = await spawnServer({ DATABASE_PATH: databasePath, ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'a-configured-secret', JOBGRAPH_TEST_CHEAP_PASSWORD_HASH: '' });
    try {
      expect(server.stderr()).not.toContain('generated password');
      expect((await login(server.url, 'root', 'a-configured-secret')).data.login.user.role).toBe('ADMIN');
      expect(server.stdout()).not.toContain('a-configured-secret');
      expect(server.stdout()).not.toContain('test cost');
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(storedHashCost(databasePath, 'root')).toBe('m=65536,t=2,p=1');
  }, 90_000);

  test('JOBGRAPH_TEST_CHEAP_PASSWORD_HASH=1 (tests only) hashes at the cheapest cost and warns; any other value stops the start', async () => {
    const databasePath = join(tempDir('jobgraph-boot-'), 'jobgraph.db');
    const server = await spawnServer({ DATABASE_PATH: databasePath, ADMIN_PASSWORD: 'a-configured-secret', JOBGRAPH_TEST_CHEAP_PASSWORD_HASH: '1' });
    try {
      expect((await login(server.url, 'admin', 'a-configured-secret')).data.login.user.role).toBe('ADMIN');
      expect(server.stdout()).toContain('passwords are hashed at a test cost: never set this in production');
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(storedHashCost(databasePath, 'admin')).toBe('m=8,t=1,p=1');
    const refused = spawnProcess({ DATABASE_PATH: databasePath, JOBGRAPH_TEST_CHEAP_PASSWORD_HASH: 'yes' });
    expect(await exitCodeWithin(refused.proc, 15_000)).toBe(2);
    await until(() => refused.stderr().includes('\n'), 'the refusal to be read');
    expect(refused.stderr().trim()).toBe('jobgraph: JOBGRAPH_TEST_CHEAP_PASSWORD_HASH must be 1 or unset (tests only), got "yes"');
  }, 90_000);

  test('a weak ADMIN_PASSWORD stops the start with a clear message', async () => {
    const databasePath = join(tempDir('jobgraph-boot-'), 'jobgraph.db');
    await expect(spawnServer({ DATABASE_PATH: databasePath, ADMIN_PASSWORD: 'short' })).rejects.toThrow(
      'ADMIN_PASSWORD must be 8 to 256 characters long',
    );
  }, 90_000);

  test('a malformed setting stops the start with a clear message', async () => {
    await expect(spawnServer({ PORT: 'eighty' })).rejects.toThrow('PORT must be an integer from 0 to 65535, got "eighty"');
  }, 90_000);
});

/** The argon2id parameters (`m=…,t=…,p=…`) of a user's stored hash. */
function storedHashCost(databasePath: string, username: string): string | undefined {
  const db = new Database(databasePath, { readonly: true });
  const row = db.query('SELECT password_hash AS hash FROM users WHERE username = ?').get(username) as { hash: string } | null;
  db.close();
  return row?.hash.split('$')[3];
}
