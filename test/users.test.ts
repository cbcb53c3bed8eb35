import { afterAll, beforeAll, describe, expect, setSystemTime, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { ADMIN_PASSWORD, startTestServer, subscribe, TEST_PASSWORD_HASH_COST, type TestServer } from './helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const ME = '{ me { id username role loginCount lastLoginAt } }';

describe('login, me and logout', () => {
  test('login returns a token that identifies the user; logout revokes it', async () => {
    const { username } = await server.userWithRole('USER', 'alice');
    const before = Date.now();
    const token = await server.login(username, 'alice-password');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await server.gql(ME, {}, token);
    expect(me.data?.me).toMatchObject({ username: 'alice', role: 'USER' });
    expect(me.data?.me.loginCount).toBe(2);
    expect(new Date(me.data?.me.lastLoginAt).getTime()).toBeGreaterThanOrEqual(before);

    expect((await server.gql('mutation { logout }', {}, token)).data).toEqual({ logout: true });
    const after = await server.gql(ME, {}, token);
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('anonymous me is null; usernames are case-insensitive', async () => {
    expect((await server.gql(ME)).data).toEqual({ me: null });
    await server.userWithRole('USER', 'bob');
    const token = await server.login('  BOB ', 'bob-password');
    expect((await server.gql(ME, {}, token)).data?.me.username).toBe('bob');
  });

  test('a wrong password and an unknown user both answer "user info error"', async () => {
    for (const [u, p] of [['admin', 'wrong-password'], ['nobody', 'whatever-pass']]) {
      const result = await server.gql('mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', { u, p });
      expect(result.data).toBeNull();
      expect(result.errors?.[0]).toMatchObject({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
    }
  });

  test('a token that was never issued is refused with 401', async () => {
    const result = await server.gql(ME, {}, 'not-a-real-token');
    expect(result.status).toBe(401);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('login statistics count every successful login, durably', async () => {
    const { username } = await server.userWithRole('MANAGER', 'carol');
    await server.login(username, 'carol-password');
    await server.login(username, 'carol-password');
    const stats = await server.gql('{ loginStats { username loginCount lastLoginAt } }', {}, await server.adminToken());
    const carol = stats.data?.loginStats.find((s: { username: string }) => s.username === 'carol');
    expect(carol.loginCount).toBe(3);
    expect(carol.lastLoginAt).not.toBeNull();
  });
});

describe('account administration', () => {
  test('createUser validates its input with clear messages', async () => {
    const admin = await server.adminToken();
    const create = (input: Record<string, unknown>) =>
      server.gql('mutation($input: CreateUserInput!) { createUser(input: $input) { id } }', { input }, admin);

    const short = await create({ username: 'dave', password: 'short', role: 'USER' });
    expect(short.errors?.[0]).toMatchObject({ message: 'password must be 8 to 256 characters long', extensions: { code: 'BAD_USER_INPUT' } });
    const badName = await create({ username: 'no spaces allowed', password: 'long-enough-pw', role: 'USER' });
    expect(badName.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badName.errors?.[0]?.message).toContain('username must be 3 to 64 characters');
    const badRole = await create({ username: 'dave', password: 'long-enough-pw', role: 'JANITOR' });
    expect(badRole.errors?.[0]?.message).toContain('Value "JANITOR" does not exist in "Role" enum');

    expect((await create({ username: 'dave', password: 'long-enough-pw', role: 'USER' })).data?.createUser.id).toBeDefined();
    const taken = await create({ username: 'DAVE', password: 'long-enough-pw', role: 'USER' });
    expect(taken.errors?.[0]).toMatchObject({ message: 'username "dave" is taken', extensions: { code: 'CONFLICT' } });
  });

  test('every way to a User answers the same fields: me, createUser, updateUser, login, users and a job owner', async () => {
    const admin = await server.adminToken();
    const FIELDS = 'id username role disabled loginCount lastLoginAt createdAt';
    const created = (await server.gql(`mutation($input: CreateUserInput!) { createUser(input: $input) { ${FIELDS} } }`, { input: { username: 'hazel', password: 'hazel-password', role: 'USER' } }, admin)).data?.createUser;
    expect(created).toMatchObject({ username: 'hazel', role: 'USER', disabled: false, loginCount: 0, lastLoginAt: null });
    expect(created.createdAt).toBeString();
    const updated = (await server.gql(`mutation($id: ID!) { updateUser(id: $id, input: { role: MANAGER }) { ${FIELDS} } }`, { id: created.id }, admin)).data?.updateUser;
    expect(updated).toEqual({ ...created, role: 'MANAGER' });
    const login = (await server.gql(`mutation { login(username: "hazel", password: "hazel-password") { token user { ${FIELDS} } } }`)).data?.login;
    expect(login.user).toMatchObject({ ...updated, loginCount: 1, lastLoginAt: expect.any(String) });
    // The session's fields alone, and with the rest (read from the account), agree with the account.
    expect((await server.gql('{ me { id username role } }', {}, login.token)).data?.me).toEqual({ id: created.id, username: 'hazel', role: 'MANAGER' });
    expect((await server.gql(`{ me { ${FIELDS} } }`, {}, login.token)).data?.me).toEqual(login.user);
    const listed = (await server.gql(`{ users(first: 100) { edges { node { ${FIELDS} } } } }`, {}, admin)).data?.users.edges;
    expect(listed.find((edge: { node: { id: string } }) => edge.node.id === created.id).node).toEqual(login.user);
    const job = await server.gql(`mutation { submitPiJob(input: { simulations: 1000 }) { owner { ${FIELDS} } } }`, {}, login.token);
    expect(job.errors).toBeUndefined();
    expect(job.data?.submitPiJob.owner).toEqual(login.user);
  });

  test('no response ever contains a password hash', async () => {
    const introspection = await server.gql('{ __type(name: "User") { fields { name } } }');
    const fields = introspection.data?.__type.fields.map((f: { name: string }) => f.name);
    expect(fields).not.toContain('password');
    expect(fields).not.toContain('passwordHash');
  });

  test('resetting a password or disabling an account revokes its tokens', async () => {
    const admin = await server.adminToken();
    const erin = await server.userWithRole('USER', 'erin');
    const reset = await server.gql(
      'mutation($id: ID!) { updateUser(id: $id, input: { password: "brand-new-password" }) { id } }',
      { id: erin.id },
      admin,
    );
    expect(reset.errors).toBeUndefined();
    expect((await server.gql(ME, {}, erin.token)).status).toBe(401);
    const token = await server.login('erin', 'brand-new-password');
    expect((await server.gql(ME, {}, token)).data?.me.username).toBe('erin');

    await server.gql('mutation($id: ID!) { updateUser(id: $id, input: { disabled: true }) { disabled } }', { id: erin.id }, admin);
    expect((await server.gql(ME, {}, token)).status).toBe(401);
    const login = await server.gql('mutation { login(username: "erin", password: "brand-new-password") { token } }');
    expect(login.errors?.[0]?.message).toBe('user info error');
  });

  test('updateUser changes the role; deleteUser revokes every token of the user', async () => {
    const admin = await server.adminToken();
    const frank = await server.userWithRole('USER', 'frank');
    const promoted = await server.gql(
      'mutation($id: ID!) { updateUser(id: $id, input: { role: MANAGER }) { role } }',
      { id: frank.id },
      admin,
    );
    expect(promoted.data?.updateUser.role).toBe('MANAGER');
    expect((await server.gql(ME, {}, frank.token)).data?.me.role).toBe('MANAGER');

    expect((await server.gql('mutation($id: ID!) { deleteUser(id: $id) }', { id: frank.id }, admin)).data).toEqual({ deleteUser: true });
    expect((await server.gql(ME, {}, frank.token)).status).toBe(401);
    const again = await server.gql('mutation($id: ID!) { deleteUser(id: $id) }', { id: frank.id }, admin);
    expect(again.errors?.[0]).toMatchObject({ message: `no user with id ${frank.id}`, extensions: { code: 'NOT_FOUND' } });
    const badId = await server.gql('mutation { deleteUser(id: "abc") }', {}, admin);
    expect(badId.errors?.[0]).toMatchObject({ message: 'invalid user id "abc"', extensions: { code: 'BAD_USER_INPUT' } });
  });

  test('the last active admin cannot be demoted, disabled or deleted', async () => {
    const admin = await server.adminToken();
    const me = await server.gql('{ me { id } }', {}, admin);
    const id = me.data?.me.id;
    for (const mutation of [
      'mutation($id: ID!) { updateUser(id: $id, input: { role: USER }) { id } }',
      'mutation($id: ID!) { updateUser(id: $id, input: { disabled: true }) { id } }',
      'mutation($id: ID!) { deleteUser(id: $id) }',
    ]) {
      const result = await server.gql(mutation, { id }, admin);
      expect(result.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    }
  });

  test('changePassword checks the current password and revokes the other tokens', async () => {
    const gina = await server.userWithRole('USER', 'gina');
    const second = await server.login('gina', 'gina-password');
    const wrong = await server.gql(
      'mutation { changePassword(currentPassword: "not-it-at-all", newPassword: "another-password") }',
      {},
      gina.token,
    );
    expect(wrong.errors?.[0]).toMatchObject({ message: 'current password is wrong', extensions: { code: 'BAD_USER_INPUT' } });
    const changed = await server.gql(
      'mutation { changePassword(currentPassword: "gina-password", newPassword: "another-password") }',
      {},
      gina.token,
    );
    expect(changed.data).toEqual({ changePassword: true });
    expect((await server.gql(ME, {}, gina.token)).data?.me.username).toBe('gina');
    expect((await server.gql(ME, {}, second)).status).toBe(401);
    await server.login('gina', 'another-password');
  });

  test('users is a paginated connection', async () => {
    const admin = await server.adminToken();
    const first = await server.gql('{ users(first: 2) { totalCount edges { cursor node { id username } } pageInfo { hasNextPage endCursor } } }', {}, admin);
    expect(first.data?.users.edges).toHaveLength(2);
    expect(first.data?.users.edges[0].node.username).toBe('admin');
    expect(first.data?.users.pageInfo.hasNextPage).toBe(true);
    const total = first.data?.users.totalCount;
    const rest = await server.gql(
      'query($after: String) { users(first: 100, after: $after) { edges { node { username } } } }',
      { after: first.data?.users.pageInfo.endCursor },
      admin,
    );
    expect(rest.data?.users.edges).toHaveLength(total - 2);
  });
});

describe('the role matrix', () => {
  // For each operation: who may run it. Everyone else gets UNAUTHENTICATED (anonymous) or FORBIDDEN.
  const operations: { name: string; query: string; allowed: ('ADMIN' | 'MANAGER' | 'USER' | 'SECRETARY' | 'ANON')[]; vars?: () => Record<string, unknown> }[] = [
    { name: 'me', query: '{ me { id } }', allowed: ['ADMIN', 'MANAGER', 'USER', 'SECRETARY', 'ANON'] },
    { name: 'users', query: '{ users { edges { node { id } } } }', allowed: ['ADMIN'] },
    { name: 'loginStats', query: '{ loginStats { username } }', allowed: ['ADMIN'] },
    {
      name: 'createUser',
      query: 'mutation($u: String!) { createUser(input: { username: $u, password: "matrix-password", role: USER }) { id } }',
      allowed: ['ADMIN'],
      vars: () => ({ u: `matrix${Math.random().toString(36).slice(2, 10)}` }),
    },
    { name: 'updateUser', query: 'mutation($id: ID!) { updateUser(id: $id, input: { role: USER }) { id } }', allowed: ['ADMIN'] },
    { name: 'deleteUser', query: 'mutation($id: ID!) { deleteUser(id: $id) }', allowed: ['ADMIN'] },
    { name: 'changePassword', query: 'mutation { changePassword(currentPassword: "x-wrong-password", newPassword: "whatever-123") }', allowed: [] },
    { name: 'logout', query: 'mutation { logout }', allowed: ['ADMIN', 'MANAGER', 'USER', 'SECRETARY'] },
  ];

  for (const op of operations) {
    test(op.name, async () => {
      for (const role of ['ADMIN', 'MANAGER', 'USER', 'SECRETARY', 'ANON'] as const) {
        const token = role === 'ANON' ? undefined : (await server.userWithRole(role)).token;
        let vars = op.vars?.() ?? {};
        if (op.name === 'updateUser' || op.name === 'deleteUser') vars = { id: (await server.userWithRole('USER')).id };
        const result = await server.gql(op.query, vars, token);
        const code = result.errors?.[0]?.extensions?.code;
        if (op.allowed.includes(role)) {
          expect({ role, errors: result.errors }).toEqual({ role, errors: undefined });
        } else if (op.name === 'changePassword' && role !== 'ANON') {
          // Everyone logged in may call it; the wrong current password is the expected answer.
          expect({ role, code }).toEqual({ role, code: 'BAD_USER_INPUT' });
        } else {
          expect({ role, code }).toEqual({ role, code: role === 'ANON' ? 'UNAUTHENTICATED' : 'FORBIDDEN' });
        }
      }
    });
  }

  test('a user cannot read another user, even nested', async () => {
    const a = await server.userWithRole('USER');
    const b = await server.userWithRole('MANAGER');
    const peek = await server.gql('{ users { edges { node { id } } } }', {}, a.token);
    expect(peek.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const self = await server.gql('{ me { id username } }', {}, b.token);
    expect(self.data?.me.username).toBe(b.username);
  });

  test('loginEvents over WebSocket is for admins only', async () => {
    for (const role of ['MANAGER', 'USER'] as const) {
      const { token } = await server.userWithRole(role);
      const sub = subscribe(server.wsClient(token), 'subscription { loginEvents { username } }');
      await sub.waitFor(1);
      expect(sub.events[0]?.errors?.[0]?.extensions?.code ?? (sub.error as any)?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const anonymous = subscribe(server.wsClient(), 'subscription { loginEvents { username } }');
    await anonymous.waitFor(1);
    expect(anonymous.events[0]?.errors?.[0]?.extensions?.code ?? (anonymous.error as any)?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

test('the admin password from the environment works', async () => {
  expect(await server.login('admin', ADMIN_PASSWORD)).toBeString();
});

test('a remembered session still expires on time', async () => {
  const token = await server.login('admin', ADMIN_PASSWORD);
  const users = server.running.app.users;
  expect(await users.authenticate(token)).not.toBeNull();
  expect(await users.authenticate(token)).not.toBeNull(); // now from memory
  setSystemTime(new Date(Date.now() + 8 * 24 * 3600 * 1000));
  try {
    expect(await users.authenticate(token)).toBeNull();
  } finally {
    setSystemTime();
  }
});

describe('password hashing cost', () => {
  // Bun's argon2id defaults (64 MiB, 2 passes, 1 lane), as written into every hash it makes.
  const STRONG = /^\$argon2id\$v=19\$m=65536,t=2,p=1\$/;

  test('production (loadConfig + createApp, no option) hashes with the strong default; verify works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-hash-'));
    const config = loadConfig({ DATABASE_PATH: join(dir, 'jobgraph.db'), WORKERS: '1', QUOTE_SERVER: '127.0.0.1:9' });
    const app = await createApp(config, createLogger({ level: 'silent' }));
    try {
      await app.users.bootstrapAdmin('admin', 'production-admin-password');
      const user = await app.users.createUser({ username: 'prod-user', password: 'production-password', role: 'USER' });
      const admin = await app.users.login('admin', 'production-admin-password', null);
      expect(user.passwordHash).toMatch(STRONG);
      expect(admin.user.passwordHash).toMatch(STRONG);
      expect((await app.users.login('prod-user', 'production-password', null)).user.username).toBe('prod-user');
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the test servers hash at the cheap test cost, and their hashes verify as usual', async () => {
    const hashes = (await server.sql<{ hash: string }>('SELECT password_hash AS hash FROM users')).map((row) => row.hash);
    const { memoryCost, timeCost } = TEST_PASSWORD_HASH_COST;
    expect(hashes.length).toBeGreaterThan(1);
    for (const hash of hashes) expect(hash).toStartWith(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=1$`);
    expect(await server.login('admin', ADMIN_PASSWORD)).toBeString();
  });
});
