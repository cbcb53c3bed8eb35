// Seed 000 (shared/specs/pi-and-quotes.md): jobgraph driven exactly as the source π and quote services' clients
// drove them — `POST /pi` and `POST /quote` with credentials in the JSON body, the source's answers, its validation
// order, messages and status codes — plus what the source logged (serverinfo.log) and counted (login_stat.json).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logWhen, startTestServer, subscribe, type TestServer } from './helpers/server';

const USERNAME = '0123';
const PASSWORD = '0123-password';

describe('seed 000: the π and quote services’ REST clients', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-seed-000-'));
  const logFile = join(dir, 'server.log');
  beforeAll(async () => {
    server = await startTestServer({ LOG_LEVEL: 'info', LOG_FILE: logFile });
    const admin = await server.adminToken();
    const created = await server.gql('mutation { createUser(input: { username: "0123", password: "0123-password", role: USER }) { id } }', {}, admin);
    expect(created.errors).toBeUndefined();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A POST as the source's clients sent it: a JSON body (a raw string where the test needs `100.0` kept as written). */
  const post = async (path: '/pi' | '/quote', body: Record<string, unknown> | string, headers: Record<string, string> = {}) => {
    const response = await fetch(server.url.replace('/graphql', path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const credentials = { username: USERNAME, password: PASSWORD };

  test('POST /pi: the source’s answer, the split summing to simulations, concurrency 1 by default', async () => {
    const answer = await post('/pi', { ...credentials, simulations: 7919, concurrency: 3 });
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body).sort()).toEqual(['concurrency', 'pi', 'simulations', 'simulations_distribution', 'time']);
    expect(answer.body).toMatchObject({ simulations: 7919, concurrency: 3, simulations_distribution: [2640, 2640, 2639] });
    expect(Math.abs(answer.body.pi - Math.PI)).toBeLessThan(0.2);
    expect(answer.body.time).toBeGreaterThan(0);
    const alone = await post('/pi', { ...credentials, simulations: 100 });
    expect(alone).toMatchObject({ status: 200, body: { simulations: 100, concurrency: 1, simulations_distribution: [100] } });
    expect(Math.abs(alone.body.pi - Math.PI)).toBeLessThan(1);
  });

  test('POST /pi: validation in the source’s order, with its messages and status codes', async () => {
    const refusals: [body: Record<string, unknown> | string, status: number, message: string][] = [
      [{ simulations: 1000 }, 401, 'user info error'],
      [{ username: USERNAME, simulations: 1000 }, 401, 'user info error'],
      [{ ...credentials, password: 'wrong-password', simulations: 1000 }, 401, 'user info error'],
      [{ username: 'no such user!', password: PASSWORD, simulations: 1000 }, 401, 'user info error'],
      // Credentials come first: a wrong password with a bad field is still `user info error`.
      [{ username: USERNAME, password: 'wrong-password', simulations: 'x', concurrency: 0 }, 401, 'user info error'],
      [{ ...credentials }, 400, 'missing field simulations'],
      [{ ...credentials, concurrency: 2 }, 400, 'missing field simulations'],
      [{ ...credentials, simulations: '100' }, 400, 'invalid field simulations'],
      [`{"username": "${USERNAME}", "password": "${PASSWORD}", "simulations": 100.0}`, 400, 'invalid field simulations'],
      [`{"username": "${USERNAME}", "password": "${PASSWORD}", "simulations": 1e3}`, 400, 'invalid field simulations'],
      [{ ...credentials, simulations: null }, 400, 'invalid field simulations'],
      [{ ...credentials, simulations: 99 }, 400, 'invalid field simulations'],
      [{ ...credentials, simulations: 100_000_001 }, 400, 'invalid field simulations'],
      // simulations before concurrency.
      [{ ...credentials, simulations: 99, concurrency: 0 }, 400, 'invalid field simulations'],
      [{ ...credentials, simulations: 1000, concurrency: 0 }, 400, 'invalid field concurrency'],
      [{ ...credentials, simulations: 1000, concurrency: 9 }, 400, 'invalid field concurrency'],
      [{ ...credentials, simulations: 1000, concurrency: -100 }, 400, 'invalid field concurrency'],
      [{ ...credentials, simulations: 1000, concurrency: null }, 400, 'invalid field concurrency'],
      [{ ...credentials, simulations: 1000, concurrency: '2' }, 400, 'invalid field concurrency'],
      [`{"username": "${USERNAME}", "password": "${PASSWORD}", "simulations": 1000, "concurrency": 2.0}`, 400, 'invalid field concurrency'],
    ];
    for (const [sent, status, message] of refusals) {
      expect({ sent, ...(await post('/pi', sent)) }).toEqual({ sent, status, body: { error: message } });
    }
  });

  test('POST /quote: the raw messages, on TCP and UDP, `concurrency` at once', async () => {
    const tcp = await post('/quote', { ...credentials, protocol: 'tcp', concurrency: 3 });
    expect(tcp.status).toBe(200);
    expect(Object.keys(tcp.body).sort()).toEqual(['concurrency', 'protocol', 'quotes', 'time']);
    expect(tcp.body).toMatchObject({ protocol: 'tcp', concurrency: 3 });
    expect(tcp.body.quotes).toHaveLength(3);
    for (const quote of tcp.body.quotes) expect(quote).toMatch(/^T\d{3}: \S/);
    const udp = await post('/quote', { ...credentials, protocol: 'udp' });
    expect(udp.body).toMatchObject({ protocol: 'udp', concurrency: 1 });
    expect(udp.body.quotes[0]).toMatch(/^U\d{3}: \S/);
  });

  test('POST /quote: validation in the source’s order, with its messages and status codes', async () => {
    const refusals: [body: Record<string, unknown>, status: number, message: string][] = [
      [{ protocol: 'tcp' }, 401, 'user info error'],
      [{ username: USERNAME, password: 'wrong-password', protocol: 'http' }, 401, 'user info error'],
      [{ ...credentials }, 400, 'missing field protocol'],
      [{ ...credentials, concurrency: 2 }, 400, 'missing field protocol'],
      [{ ...credentials, protocol: 1 }, 400, 'invalid field protocol'],
      [{ ...credentials, protocol: 'http' }, 400, 'invalid field protocol'],
      [{ ...credentials, protocol: null }, 400, 'invalid field protocol'],
      // Lowercase only, as the source.
      [{ ...credentials, protocol: 'TCP' }, 400, 'invalid field protocol'],
      // The required protocol before the optional concurrency.
      [{ ...credentials, protocol: 'http', concurrency: 9 }, 400, 'invalid field protocol'],
      [{ ...credentials, protocol: 'tcp', concurrency: 0 }, 400, 'invalid field concurrency'],
      [{ ...credentials, protocol: 'udp', concurrency: 9 }, 400, 'invalid field concurrency'],
      [{ ...credentials, protocol: 'tcp', concurrency: null }, 400, 'invalid field concurrency'],
      [{ ...credentials, protocol: 'tcp', concurrency: '2' }, 400, 'invalid field concurrency'],
    ];
    for (const [sent, status, message] of refusals) {
      expect({ sent, ...(await post('/quote', sent)) }).toEqual({ sent, status, body: { error: message } });
    }
  });

  test('a Bearer token may stand in for the body’s credentials; a bad one is `user info error`', async () => {
    const token = await server.login(USERNAME, PASSWORD);
    expect((await post('/pi', { simulations: 1000 }, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(await post('/quote', { protocol: 'tcp' }, { authorization: 'Bearer not-a-token' })).toEqual({ status: 401, body: { error: 'user info error' } });
    expect((await post('/pi', 'not json')).status).toBe(400);
  });

  test('each request with credentials counts as a login (login statistics), and the log says who was refused and why', async () => {
    const stats = async () => {
      const result = await server.gql<{ loginStats: { username: string; loginCount: number }[] }>('{ loginStats { username loginCount } }', {}, await server.adminToken());
      return result.data!.loginStats.find((stat) => stat.username === USERNAME)?.loginCount ?? 0;
    };
    const before = await stats();
    await post('/pi', { ...credentials, simulations: 1000 });
    await post('/quote', { ...credentials, protocol: 'udp' });
    await post('/pi', { ...credentials, password: 'wrong-password', simulations: 1000 });
    expect(await stats()).toBe(before + 2);

    await post('/pi', { ...credentials, simulations: 99 });
    const { lines } = await logWhen(logFile, (all) => all.some((line) => line.msg === 'rejected input' && line.error === 'invalid field simulations'));
    expect(lines.find((line) => line.msg === 'rejected input' && line.error === 'invalid field simulations')).toMatchObject({
      address: '127.0.0.1',
      username: USERNAME,
      route: '/pi',
      status: 400,
    });
    expect(lines.find((line) => line.msg === 'login failed' && line.username === USERNAME)).toMatchObject({ address: '127.0.0.1', reason: 'wrong password' });
    expect(lines.find((line) => line.msg === 'rejected input' && line.error === 'user info error' && line.username === USERNAME)).toMatchObject({ address: '127.0.0.1', status: 401 });
    expect(lines.some((line) => line.msg === 'login succeeded' && line.username === USERNAME && line.address === '127.0.0.1')).toBe(true);
  });

  test('GraphQL’s refusals are logged with the address and the username too: before execution, in validation, on subscribe', async () => {
    const token = await server.login(USERNAME, PASSWORD);
    const get = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}&variables=not-json`, {
      headers: { authorization: `Bearer ${token}`, 'graphql-preflight': '1' },
    });
    expect(get.status).toBe(400);
    expect((await server.gql('{ estimatePi { pi } }', {}, token)).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const stream = subscribe(server.wsClient(token), 'subscription { quoteStream(intervalMs: 5) { raw } }');
    await stream.waitFor(1);
    const { lines } = await logWhen(logFile, (all) => all.some((line) => line.msg === 'subscription refused'));
    const mine = (msg: string) => lines.find((line) => line.msg === msg && line.username === USERNAME);
    expect(mine('rejected request')).toMatchObject({ address: '127.0.0.1', status: 400, errors: ['"variables" in the query string must be JSON (URL-encoded)'] });
    expect(mine('rejected query')?.address).toBe('127.0.0.1');
    expect(mine('subscription refused')).toMatchObject({ address: '127.0.0.1', errors: ['invalid field intervalMs: an integer from 100 to 60000'] });
  });

  test('in GraphQL too, an explicit `concurrency: null` is `invalid field concurrency`, never taken as 1', async () => {
    const token = await server.login(USERNAME, PASSWORD);
    for (const query of [
      '{ estimatePi(simulations: 1000, concurrency: null) { pi } }',
      '{ quotes(protocol: TCP, concurrency: null) { quotes } }',
      'mutation { submitPiJob(input: { simulations: 1000, concurrency: null }) { id } }',
    ]) {
      const result = await server.gql(query, {}, token);
      expect({ query, error: result.errors?.[0] }).toMatchObject({ query, error: { message: 'invalid field concurrency', extensions: { code: 'BAD_USER_INPUT' } } });
    }
    const { lines } = await logWhen(logFile, (all) => all.some((line) => line.msg === 'operation rejected input' && line.errors?.includes('invalid field concurrency')));
    expect(lines.find((line) => line.msg === 'operation rejected input' && line.errors?.includes('invalid field concurrency'))).toMatchObject({
      address: '127.0.0.1',
      username: USERNAME,
    });
  });
});
