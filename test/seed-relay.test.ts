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
    server = await startTestServer({ RELAY_UPSTREAM: upstream.base, ANONYMOUS_ACCESS: 'relay', RELAY_TIMEOUT_MS: '300' }, { clock });
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
    expect(await relayGet('restaurant/html')).toMatchObject({ status: 404, body: null });
    const escape = await relayGet('..%2f..%2fetc');
    expect(escape.status).toBe(400);
    expect(escape.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await fetch(server.url.replace('/graphql', '/relay/restaurant'), { method: 'POST' })).status).toBe(405);
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
