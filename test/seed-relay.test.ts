// Seed 002 (shared/specs/relay.md): jobgraph driven exactly as the source relay's clients drove it — plain HTTP GETs
// of `<relay>/restaurant` and `<relay>/restaurant/<identifier>`, answered with the upstream's status, JSON body and
// caching headers through the cache (X-Cache) — and its dish tool, `bun run dishes`, with no credentials.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { runDishesCli } from '../src/relay/dishes-cli';
import { FakeClock } from './helpers/clock';
import { startTestServer, type TestServer } from './helpers/server';
import { startUpstream } from './helpers/upstream';

const RESTAURANTS = [
  { identifier: 'r1', name: 'Chez Bun', city: 'Lyon' },
  { identifier: 'r2', name: 'Yoga Diner', city: 'Oslo' },
];
const R1 = { identifier: 'r1', name: 'Chez Bun', dishes: [{ name: 'Soupe à l’oignon', price: 7.5, description: 'gratinée' }] };

describe('seed 002: the relay over plain HTTP, anonymous (ANONYMOUS_ACCESS=relay)', () => {
  const upstream = startUpstream();
  const clock = new FakeClock();
  let server: TestServer;
  beforeAll(async () => {
    // No test here waits for a timeout: a generous one, since an upstream answer can take seconds on a busy machine.
    server = await startTestServer({ RELAY_UPSTREAM: upstream.base, ANONYMOUS_ACCESS: 'relay', RELAY_TIMEOUT_MS: '20000' }, { clock });
  });
  afterAll(async () => {
    await server.stop();
    upstream.server.stop(true);
  });
  beforeEach(() => {
    upstream.routes.clear();
    upstream.routes.set('restaurant', () => upstream.json(RESTAURANTS, { 'cache-control': 'max-age=60', etag: '"list-1"' }));
    upstream.routes.set('restaurant/r1', () => upstream.json(R1, { 'cache-control': 'max-age=60' }));
  });

  const relayGet = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(server.url.replace('/graphql', `/relay/${path}`), { headers });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
  };
  const cachedStatuses = () => server.sql<{ url: string; status: number }>('SELECT url, status FROM relay_cache');

  test('GET /relay/restaurant and /relay/restaurant/<id>: the upstream’s status, JSON and caching headers; MISS then HIT', async () => {
    const first = await relayGet('restaurant');
    expect(first.status).toBe(200);
    expect(first.body).toEqual(RESTAURANTS);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.headers.get('content-type')).toStartWith('application/json');
    expect(first.headers.get('cache-control')).toBe('max-age=60');
    expect(first.headers.get('etag')).toBe('"list-1"');
    const again = await relayGet('restaurant');
    expect(again).toMatchObject({ status: 200, body: RESTAURANTS });
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(upstream.count('restaurant')).toBe(1);
    const one = await relayGet('restaurant/r1');
    expect(one).toMatchObject({ status: 200, body: R1 });
    // The upstream's own refusals come through as they are, and are cached like any answer.
    const missing = await relayGet('restaurant/nope');
    expect(missing).toMatchObject({ status: 404, body: { error: 'not found' } });
    // The same cache as GraphQL: the typed field is answered from it.
    const typed = await server.gql('{ restaurant(id: "r1") { name dishes { name } } }');
    expect(typed.data).toEqual({ restaurant: { name: 'Chez Bun', dishes: [{ name: 'Soupe à l’oignon' }] } });
    expect(upstream.count('restaurant/r1')).toBe(1);
  });

  test('REVALIDATED after a 304, STALE when the upstream fails past freshness', async () => {
    let down = false;
    upstream.routes.set('menu', (request) => {
      if (down) return new Response('boom', { status: 500 });
      if (request.headers.get('if-none-match') === '"m1"') return new Response(null, { status: 304, headers: { etag: '"m1"', 'cache-control': 'max-age=1' } });
      return upstream.json({ menu: 1 }, { etag: '"m1"', 'cache-control': 'max-age=1' });
    });
    expect((await relayGet('menu')).headers.get('x-cache')).toBe('MISS');
    clock.advance(1100);
    const revalidated = await relayGet('menu');
    expect(revalidated).toMatchObject({ status: 200, body: { menu: 1 } });
    expect(revalidated.headers.get('x-cache')).toBe('REVALIDATED');
    clock.advance(1100);
    down = true;
    const stale = await relayGet('menu');
    expect(stale).toMatchObject({ status: 200, body: { menu: 1 } });
    expect(stale.headers.get('x-cache')).toBe('STALE');
  });

  test('redirects within the upstream are followed and never cached as the answer; others are an error with a code', async () => {
    upstream.routes.set('old/r1', () => new Response(null, { status: 301, headers: { location: `${upstream.base}restaurant/r1` } }));
    upstream.routes.set('moved', () => new Response(null, { status: 302, headers: { location: 'restaurant' } }));
    upstream.routes.set('away', () => new Response(null, { status: 302, headers: { location: `http://localhost:${upstream.server.port}/api/restaurant` } }));
    upstream.routes.set('outside', () => new Response(null, { status: 307, headers: { location: '/elsewhere' } }));
    upstream.routes.set('loop', () => new Response(null, { status: 302, headers: { location: 'loop' } }));
    expect(await relayGet('old/r1')).toMatchObject({ status: 200, body: R1 });
    expect(await relayGet('moved')).toMatchObject({ status: 200, body: RESTAURANTS });
    expect((await cachedStatuses()).filter((row) => row.status >= 300 && row.status < 400)).toEqual([]);
    for (const [path, reason] of [
      ['away', 'REDIRECT_OUTSIDE_UPSTREAM'],
      ['outside', 'REDIRECT_OUTSIDE_UPSTREAM'],
      ['loop', 'TOO_MANY_REDIRECTS'],
    ] as const) {
      const refused = await relayGet(path);
      expect({ path, status: refused.status, error: refused.body.errors[0].extensions }).toEqual({ path, status: 503, error: { code: 'UNAVAILABLE', reason } });
    }
    expect(upstream.count('loop')).toBe(6);
    // GraphQL says the same.
    const viaGraphQL = await server.gql('{ relay(path: "away") { status } }');
    expect(viaGraphQL.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', reason: 'REDIRECT_OUTSIDE_UPSTREAM' });
  });

  test('an upstream 404 is null from restaurant(id), whatever its body; a path that leaves the upstream is refused', async () => {
    upstream.routes.set('restaurant/html', () => new Response('<html>Not Found</html>', { status: 404, headers: { 'content-type': 'text/html' } }));
    upstream.routes.set('restaurant/empty', () => new Response(null, { status: 404 }));
    const typed = await server.gql('{ html: restaurant(id: "html") { name } empty: restaurant(id: "empty") { name } json: restaurant(id: "nope") { name } }');
    expect(typed).toMatchObject({ data: { html: null, empty: null, json: null } });
    expect(typed.errors).toBeUndefined();
    // GET /relay/… passes the upstream's page through as it came.
    const html = await fetch(server.url.replace('/graphql', '/relay/restaurant/html'));
    expect(html.status).toBe(404);
    expect(html.headers.get('content-type')).toBe('text/html');
    expect(await html.text()).toBe('<html>Not Found</html>');
    const escape = await relayGet('..%2f..%2fetc');
    expect(escape.status).toBe(400);
    expect(escape.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await fetch(server.url.replace('/graphql', '/relay/restaurant'), { method: 'POST' })).status).toBe(405);
  });

  test('any content type passes through GET /relay/<path> as sent (nosniff), and is cached; GraphQL says it is not JSON', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00, 0x80]);
    upstream.routes.set('menu.html', () => new Response('<h1>Menu</h1>', { headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=60' } }));
    upstream.routes.set('menu.txt', () => new Response('soupe, 7.5\n', { headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=60' } }));
    upstream.routes.set('logo.png', () => new Response(png, { headers: { 'content-type': 'image/png', 'cache-control': 'max-age=60' } }));
    for (const [path, type, body] of [
      ['menu.html', 'text/html; charset=utf-8', '<h1>Menu</h1>'],
      ['menu.txt', 'text/plain', 'soupe, 7.5\n'],
      ['logo.png', 'image/png', png],
    ] as const) {
      for (const xCache of ['MISS', 'HIT']) {
        const response = await fetch(server.url.replace('/graphql', `/relay/${path}`));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe(type);
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('x-cache')).toBe(xCache);
        const got = new Uint8Array(await response.arrayBuffer());
        expect(got).toEqual(typeof body === 'string' ? new TextEncoder().encode(body) : body);
      }
      expect(upstream.count(path)).toBe(1);
    }
    // The stored bytes survive a restart: read back from the database as they were.
    expect((await cachedStatuses()).map((row) => row.url).filter((url) => url.endsWith('logo.png'))).toHaveLength(1);
    const typed = await server.gql('{ relay(path: "menu.html") { status } }');
    expect(typed.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(typed.errors?.[0]?.message).toContain('not JSON (text/html; charset=utf-8)');
  });

  test('GET /relay is the upstream’s root', async () => {
    upstream.routes.set('', () => upstream.json({ service: 'restaurants' }, { 'cache-control': 'max-age=60' }));
    const root = await relayGet('');
    expect(root).toMatchObject({ status: 200, body: { service: 'restaurants' } });
    const bare = await fetch(server.url.replace('/graphql', '/relay'));
    expect(bare.status).toBe(200);
    expect(await bare.json()).toEqual({ service: 'restaurants' });
  });

  test('an admin clears the relay cache: the next GET asks the upstream again; others may not', async () => {
    await relayGet('restaurant');
    const asked = upstream.count('restaurant');
    expect((await relayGet('restaurant')).headers.get('x-cache')).toBe('HIT');
    const admin = await server.adminToken();
    const user = await server.userWithRole('USER');
    const refused = await server.gql('mutation { clearRelayCache }', {}, user.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const cleared = await server.gql('mutation { clearRelayCache }', {}, admin);
    expect(cleared.data!.clearRelayCache).toBeGreaterThanOrEqual(1);
    expect(await cachedStatuses()).toEqual([]);
    const again = await relayGet('restaurant');
    expect(again.headers.get('x-cache')).toBe('MISS');
    expect(upstream.count('restaurant')).toBe(asked + 1);
  });

  test('`bun run dishes` with no credentials: the restaurants, and one restaurant’s dishes, “1 dish”', async () => {
    const list = await runDishesCli({ url: server.url });
    expect(list).toContain('Chez Bun');
    expect(list).toEndWith('2 restaurants\n');
    const child = Bun.spawn(['bun', 'run', 'dishes', '--restaurant', 'r1', '--url', server.url], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, JOBGRAPH_TOKEN: '' } });
    const [out, err, code] = [await new Response(child.stdout).text(), await new Response(child.stderr).text(), await child.exited];
    expect({ code, err }).toEqual({ code: 0, err: expect.any(String) });
    expect(out).toContain('Chez Bun (r1)');
    expect(out).toContain('Soupe à l’oignon  7.50   gratinée');
    expect(out).toEndWith('\n1 dish\n');
  }, 60_000);
});

describe('seed 002 without ANONYMOUS_ACCESS: the relay needs a token', () => {
  const upstream = startUpstream();
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RELAY_UPSTREAM: upstream.base });
    upstream.routes.set('restaurant', () => upstream.json(RESTAURANTS));
  });
  afterAll(async () => {
    await server.stop();
    upstream.server.stop(true);
  });

  test('GET /relay/… is 401 `user info error` without a token, 200 with one; the dish tool says what is missing', async () => {
    const url = server.url.replace('/graphql', '/relay/restaurant');
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as any).errors[0]).toEqual({ message: 'user info error', extensions: { code: 'UNAUTHENTICATED' } });
    const { token } = await server.userWithRole('USER');
    const allowed = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual(RESTAURANTS);
    await expect(runDishesCli({ url: server.url })).rejects.toThrow('the server does not open its relay to everyone');
    expect(await runDishesCli({ url: server.url, token })).toEndWith('2 restaurants\n');
  });
});

describe('seed 002: an upstream that cannot be reached', () => {
  let server: TestServer;
  beforeAll(async () => {
    // A port that was free a moment ago: nothing answers there.
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
    const base = `http://127.0.0.1:${closed.port}/api/`;
    closed.stop(true);
    server = await startTestServer({ RELAY_UPSTREAM: base, ANONYMOUS_ACCESS: 'relay' });
  });
  afterAll(() => server.stop());

  test('GET /relay/… is 502 with the source relay’s words; GraphQL says UNAVAILABLE', async () => {
    const response = await fetch(server.url.replace('/graphql', '/relay/restaurant'));
    expect(response.status).toBe(502);
    const error = ((await response.json()) as any).errors[0];
    expect(error.message).toBe("Remote server didn't provide a proper response.");
    expect(error.extensions).toMatchObject({ code: 'UNAVAILABLE', reason: 'UPSTREAM_UNREACHABLE' });
    expect(error.extensions.detail).toContain('RELAY_UPSTREAM/restaurant could not be reached');
    const typed = await server.gql('{ relay(path: "restaurant") { status } }');
    expect(typed.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
  });
});
