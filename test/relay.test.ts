import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDishesCli } from '../src/relay/dishes-cli';
import { ENTRY_OVERHEAD_BYTES } from '../src/relay/service';
import { FakeClock } from './helpers/clock';
import { startUpstream, tooSlow } from './helpers/upstream';
import { startTestServer, type TestServer, until } from './helpers/server';

const RESTAURANTS = [
  { identifier: 'r1', name: 'Chez Bun', city: 'Lyon' },
  { identifier: 'r2', name: 'Yoga Diner', city: 'Oslo' },
];
const R1 = {
  identifier: 'r1',
  name: 'Chez Bun',
  city: 'Lyon',
  dishes: [
    { name: 'Soupe à l’oignon', price: 7.5, description: 'gratinée', vegetarian: true },
    { name: 'Tarte Tatin', price: '6', allergens: ['gluten'] },
  ],
};

describe('the relay', () => {
  const upstream = startUpstream();
  // Freshness and age are measured on this clock: a max-age of 1 s passes when the test moves it.
  const clock = new FakeClock();
  // The upstream's answers are awaited on a generous timeout: on a busy machine one can take more than a few hundred
  // ms. Timeouts themselves are shown on a server of their own, against an upstream that never answers.
  let server: TestServer;
  let token: string;
  let hasty: TestServer;
  let hastyToken: string;
  beforeAll(async () => {
    server = await startTestServer({ RELAY_UPSTREAM: upstream.base, RELAY_DEFAULT_TTL_SECONDS: '1', RELAY_TIMEOUT_MS: '20000' }, { clock });
    token = (await server.userWithRole('USER')).token;
    hasty = await startTestServer({ RELAY_UPSTREAM: upstream.base, RELAY_DEFAULT_TTL_SECONDS: '1', RELAY_TIMEOUT_MS: '300' }, { clock });
    hastyToken = (await hasty.userWithRole('USER')).token;
  });
  afterAll(async () => {
    await server.stop();
    await hasty.stop();
    upstream.server.stop(true);
  });
  beforeEach(() => {
    upstream.routes.clear();
    upstream.routes.set('restaurant', () => upstream.json(RESTAURANTS, { 'cache-control': 'max-age=60' }));
    upstream.routes.set('restaurant/r1', () => upstream.json(R1, { 'cache-control': 'max-age=60' }));
  });

  const RELAY = 'query($p: String!) { relay(path: $p) { path url status body cached stale revalidated fetchedAt headers { name value } } }';
  const relay = (path: string) => server.gql(RELAY, { p: path }, token);
  const hastyRelay = (path: string) => hasty.gql(RELAY, { p: path }, hastyToken);
  const cachedRows = async (on = server) => {
    return (await on.sql<{ url: string }>('SELECT url FROM relay_cache')).map((row) => row.url.replace(upstream.base, ''));
  };

  test('restaurants and restaurant(id), typed from the menu JSON, unknown fields kept; an unknown id is null', async () => {
    const result = await server.gql(
      '{ restaurants { identifier name fields } restaurant(id: "r1") { identifier name dishes { name price description fields } } missing: restaurant(id: "nope") { name } }',
      {},
      token,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.restaurants).toEqual(RESTAURANTS.map((r) => ({ identifier: r.identifier, name: r.name, fields: r })));
    expect(result.data!.restaurant).toEqual({
      identifier: 'r1',
      name: 'Chez Bun',
      dishes: [
        { name: 'Soupe à l’oignon', price: 7.5, description: 'gratinée', fields: R1.dishes[0] },
        { name: 'Tarte Tatin', price: 6, description: null, fields: R1.dishes[1] },
      ],
    });
    expect(result.data!.missing).toBeNull();
  });

  test('a miss then hits: one upstream request, answers flagged, the entry in SQLite', async () => {
    upstream.routes.set('menu/a', () => upstream.json({ a: 1 }, { 'cache-control': 'max-age=60', etag: '"v1"' }));
    const first = (await relay('menu/a')).data!.relay;
    const second = (await relay('/menu/a')).data!.relay;
    expect(first).toMatchObject({ status: 200, body: { a: 1 }, cached: false, stale: false, url: `${upstream.base}menu/a` });
    expect(second).toMatchObject({ body: { a: 1 }, cached: true, stale: false, revalidated: false, fetchedAt: first.fetchedAt });
    expect(second.headers).toContainEqual({ name: 'etag', value: '"v1"' });
    expect(upstream.count('menu/a')).toBe(1);
    expect(await cachedRows()).toContain('menu/a');
  });

  test('max-age expiry refetches; the default TTL applies to answers without cache headers', async () => {
    upstream.routes.set('short', () => upstream.json({ n: upstream.count('short') }, { 'cache-control': 'max-age=1' }));
    upstream.routes.set('plain', () => upstream.json({ n: upstream.count('plain') }));
    await relay('short');
    await relay('plain');
    expect((await relay('short')).data!.relay.cached).toBe(true);
    expect((await relay('plain')).data!.relay.cached).toBe(true);
    clock.advance(1100);
    expect((await relay('short')).data!.relay).toMatchObject({ cached: false, body: { n: 2 } });
    expect((await relay('plain')).data!.relay).toMatchObject({ cached: false, body: { n: 2 } });
  });

  test('ETag and Last-Modified revalidation: a 304 refreshes the entry', async () => {
    upstream.routes.set('etag', (request) =>
      request.headers.get('if-none-match') === '"e1"' ? new Response(null, { status: 304, headers: { etag: '"e1"', 'cache-control': 'no-cache' } }) : upstream.json({ e: 1 }, { etag: '"e1"', 'cache-control': 'no-cache' }),
    );
    const modified = 'Wed, 21 Oct 2026 07:28:00 GMT';
    upstream.routes.set('lm', (request) =>
      request.headers.get('if-modified-since') === modified ? new Response(null, { status: 304 }) : upstream.json({ m: 1 }, { 'last-modified': modified, 'cache-control': 'max-age=0' }),
    );
    for (const path of ['etag', 'lm']) {
      const first = (await relay(path)).data!.relay;
      expect(first.cached).toBe(false);
      const again = (await relay(path)).data!.relay;
      expect(again).toMatchObject({ cached: true, revalidated: true, stale: false, body: first.body });
      expect(upstream.count(path)).toBe(2);
    }
    expect(upstream.requests.filter((r) => r.path === 'etag').at(-1)!.headers.get('if-none-match')).toBe('"e1"');
  });

  test('no-store answers are never cached', async () => {
    upstream.routes.set('secret', () => upstream.json({ s: upstream.count('secret') }, { 'cache-control': 'no-store' }));
    expect((await relay('secret')).data!.relay).toMatchObject({ cached: false, body: { s: 1 } });
    expect((await relay('secret')).data!.relay).toMatchObject({ cached: false, body: { s: 2 } });
    expect(await cachedRows()).not.toContain('secret');
  });

  test('stale-if-error: an expired entry is served, flagged, when the upstream fails, errs or times out', async () => {
    let mode: 'ok' | '500' | 'slow' | 'garbage' = 'ok';
    upstream.routes.set('flaky', async (request) => {
      if (mode === '500') return new Response('boom', { status: 500 });
      if (mode === 'slow') await tooSlow(request);
      // Says JSON, is not: a broken answer (a body of another type is an answer, passed through by GET /relay/…).
      if (mode === 'garbage') return new Response('<html>', { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=60' } });
      return upstream.json({ ok: true }, { 'cache-control': 'max-age=1' });
    });
    await relay('flaky');
    // The hasty server's 300 ms cover an answer given at once, unless the machine is very busy: asked until cached.
    await until(async () => !(await hastyRelay('flaky')).errors, 'the hasty server to cache flaky');
    clock.advance(1100);
    for (const failure of ['500', 'slow', 'garbage'] as const) {
      mode = failure;
      const ask = failure === 'slow' ? hastyRelay : relay;
      expect((await ask('flaky')).data!.relay).toMatchObject({ cached: true, stale: true, body: { ok: true } });
    }
  });

  test('a bad upstream with nothing cached is a clear UNAVAILABLE, and nothing is cached', async () => {
    upstream.routes.set('html', () => new Response('<html>not json</html>', { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=60' } }));
    upstream.routes.set('down', () => new Response('boom', { status: 503 }));
    upstream.routes.set('slow', async (request) => {
      await tooSlow(request);
      return upstream.json({});
    });
    for (const [path, message] of [
      ['html', 'answered 200 with a body that is not JSON'],
      ['down', 'answered 503'],
      ['slow', 'did not answer within 300 ms'],
    ]) {
      const result = await (path === 'slow' ? hastyRelay : relay)(path!);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
      expect(result.errors?.[0]?.message).toContain(message!);
      // It names the path under RELAY_UPSTREAM, never the upstream's (internal) address.
      expect(result.errors?.[0]?.message).toContain(`RELAY_UPSTREAM/${path}`);
      expect(result.errors?.[0]?.message).not.toContain(upstream.base);
    }
    expect((await cachedRows()).filter((row) => ['html', 'down', 'slow'].includes(row))).toEqual([]);
    expect(await cachedRows(hasty)).not.toContain('slow');
  });

  test('50 concurrent misses for one URL make a single upstream request', async () => {
    upstream.routes.set('popular', async () => {
      await Bun.sleep(100);
      return upstream.json({ popular: true }, { 'cache-control': 'max-age=60' });
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => relay('popular')));
    expect(results.every((r) => r.data?.relay.body.popular === true)).toBe(true);
    expect(upstream.count('popular')).toBe(1);
  });

  test('whole answers of the typed fields are reused only while the upstream answer is fresh', async () => {
    let version = 1;
    upstream.routes.set('restaurant/r9', () => upstream.json({ identifier: 'r9', name: `v${version}` }, { 'cache-control': 'max-age=1' }));
    const ask = async () => (await server.gql('{ restaurant(id: "r9") { name } }', {}, token)).data!.restaurant.name;
    expect(await ask()).toBe('v1');
    version = 2;
    expect(await ask()).toBe('v1');
    expect(upstream.count('restaurant/r9')).toBe(1);
    clock.advance(1100);
    expect(await ask()).toBe('v2');
    // no-store answers are not reused either.
    upstream.routes.set('restaurant/r8', () => upstream.json({ identifier: 'r8', name: `v${version++}` }, { 'cache-control': 'no-store' }));
    const first = (await server.gql('{ restaurant(id: "r8") { name } }', {}, token)).data!.restaurant.name;
    const second = (await server.gql('{ restaurant(id: "r8") { name } }', {}, token)).data!.restaurant.name;
    expect(second).not.toBe(first);
  });

  test('a path can never leave the upstream', async () => {
    const before = upstream.requests.length;
    for (const path of ['http://evil.example/x', 'https:evil', '//evil.example/x', '../secret', 'a/../../b', '%2e%2e/x', 'a/%2E%2E/b', 'user@evil.example', 'a\\b', 'a b', 'a%00b', 'a/%40b', 'file:///etc/passwd']) {
      const result = await relay(path);
      expect([path, result.errors?.[0]?.extensions?.code]).toEqual([path, 'BAD_USER_INPUT']);
    }
    expect(upstream.requests.length).toBe(before);
  });
});

describe('the relay cache over time', () => {
  test('evicts the least recently used past RELAY_CACHE_MAX_BYTES, and survives a restart', async () => {
    const upstream = startUpstream();
    const body = { padding: 'x'.repeat(400) };
    for (const path of ['p1', 'p2', 'p3']) upstream.routes.set(path, () => upstream.json(body, { 'cache-control': 'max-age=600' }));
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-relay-'));
    const env = { RELAY_UPSTREAM: upstream.base, RELAY_CACHE_MAX_BYTES: '8192', DATABASE_PATH: join(dir, 'db.sqlite') };
    try {
      let server = await startTestServer(env);
      let token = (await server.userWithRole('USER', 'relay-user')).token;
      const get = (path: string) => server.gql('query($p: String!) { relay(path: $p) { cached } }', { p: path }, token);
      await get('p1');
      await get('p2');
      await get('p1'); // p1 is now the most recently used
      await get('p3'); // each counts ~3.4 KB (a 412-byte body, its JSON, URL, headers, overhead); 3 > 8192: p2 goes
      expect(upstream.count('p2')).toBe(1);
      expect((await get('p1')).data!.relay.cached).toBe(true);
      expect((await get('p3')).data!.relay.cached).toBe(true);
      expect((await get('p2')).data!.relay.cached).toBe(false);
      expect(upstream.count('p2')).toBe(2);
      await server.stop();

      server = await startTestServer(env);
      token = (await server.userWithRole('USER', 'relay-user-2')).token;
      const hitsBefore = upstream.requests.length;
      expect((await get('p2')).data!.relay.cached).toBe(true);
      expect(upstream.requests.length).toBe(hitsBefore);
      await server.stop();
    } finally {
      upstream.server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('many small entries: the bound counts what each entry holds in memory, not only its body', async () => {
    const upstream = startUpstream();
    const paths = Array.from({ length: 60 }, (_, i) => `s${i}`);
    for (const [i, path] of paths.entries()) upstream.routes.set(path, () => upstream.json({ n: i }, { 'cache-control': 'max-age=600' }));
    const maxBytes = 32 * 1024;
    const server = await startTestServer({ RELAY_UPSTREAM: upstream.base, RELAY_CACHE_MAX_BYTES: String(maxBytes) });
    try {
      const token = (await server.userWithRole('USER')).token;
      const get = (path: string) => server.gql('query($p: String!) { relay(path: $p) { cached } }', { p: path }, token);
      for (const path of paths) await get(path);

      // 60 bodies of ~8 bytes are under 500 bytes, but 60 entries are not: each counts at least its fixed overhead.
      const ready = await fetch(server.url.replace('/graphql', '/ready'), { headers: { authorization: `Bearer ${await server.adminToken()}` } });
      const { entries, bytes } = ((await ready.json()) as any).checks.relay as { entries: number; bytes: number };
      expect(bytes).toBeLessThanOrEqual(maxBytes);
      expect(entries).toBeLessThanOrEqual(Math.floor(maxBytes / ENTRY_OVERHEAD_BYTES));
      expect(entries).toBeGreaterThanOrEqual(10);
      const rows = (await server.sql<{ url: string }>('SELECT url FROM relay_cache')).map((row) => row.url.replace(upstream.base, ''));
      // The most recently used are the ones kept, in memory and in SQLite alike.
      expect(rows.sort()).toEqual(paths.slice(-entries).sort());
      expect((await get(paths.at(-1)!)).data!.relay.cached).toBe(true);
      expect((await get(paths[0]!)).data!.relay.cached).toBe(false);
    } finally {
      await server.stop();
      upstream.server.stop(true);
    }
  });

  // Slow, not stalled: on PostgreSQL each of the 2,000 entries is a commit of its own, in a row (12-36 s under load
  // on 2 cores, 2.6 s quiet), plus full GCs: its own liveness bound (120 s), whatever the runner's default.
  test('the size counted for the entries is at least the heap they take (the heap after a full GC)', async () => {
    const upstream = startUpstream();
    const count = 2000;
    const pathsOf = (round: number) => Array.from({ length: count }, (_, i) => `h${i}-${round}`);
    const menu = (i: number) => ({ identifier: `r${i}`, name: 'Chez Bun', dishes: [{ name: 'Soupe à l’oignon', price: 7.5 }] });
    for (const round of [0, 1, 2]) for (const [i, path] of pathsOf(round).entries()) upstream.routes.set(path, () => upstream.json(menu(i), { 'cache-control': 'max-age=600', etag: `"v${i}"` }));
    const server = await startTestServer({ RELAY_UPSTREAM: upstream.base });
    try {
      const relay = server.running.app.relay;
      for (let i = 0; i < 50; i++) await relay.get(`warm-up-${i}`); // 404s, cached too: every code path warm
      const heapNow = () => {
        Bun.gc(true);
        // The same figure as bun:jsc heapStats().heapSize, without its walk over every object (~60 ms here).
        return process.memoryUsage().heapUsed;
      };
      // Other garbage freed meanwhile (a server of the same process, a busy machine) can hide the growth: measured
      // again, on a new set of entries, while the heap says it shrank.
      let heapGrowth = 0;
      let counted = 0;
      for (let round = 0; round < 3 && heapGrowth <= 0; round++) {
        const fresh = pathsOf(round);
        const before = heapNow();
        const { bytes: bytesBefore, entries: entriesBefore } = relay.status();
        for (let i = 0; i < count; i += 50) await Promise.all(fresh.slice(i, i + 50).map((path) => relay.get(path)));
        heapGrowth = heapNow() - before;
        counted = relay.status().bytes - bytesBefore;
        expect(relay.status().entries).toBe(entriesBefore + count);
      }
      expect(heapGrowth).toBeGreaterThan(0);
      // Counting bodies alone said ~90 bytes an entry here, against ~1 KB of heap each.
      expect(counted).toBeGreaterThanOrEqual(heapGrowth);
    } finally {
      await server.stop();
      upstream.server.stop(true);
    }
  }, 120_000);

  test('without RELAY_UPSTREAM the relay fields say how to configure it', async () => {
    const server = await startTestServer();
    try {
      const token = (await server.userWithRole('USER')).token;
      const result = await server.gql('{ restaurants { name } }', {}, token);
      expect(result.errors?.[0]).toMatchObject({
        message: 'the relay is not configured: set RELAY_UPSTREAM to the upstream API’s base URL',
        extensions: { code: 'UNAVAILABLE' },
      });
    } finally {
      await server.stop();
    }
  });
});

describe('`bun run dishes`', () => {
  test('lists restaurants, or one restaurant’s dishes, as a table', async () => {
    const upstream = startUpstream();
    upstream.routes.set('restaurant', () => upstream.json(RESTAURANTS));
    upstream.routes.set('restaurant/r1', () => upstream.json(R1));
    const server = await startTestServer({ RELAY_UPSTREAM: upstream.base });
    try {
      const token = (await server.userWithRole('USER')).token;
      const list = await runDishesCli({ url: server.url, token });
      expect(list).toBe('IDENTIFIER  NAME\n----------  ----------\nr1          Chez Bun\nr2          Yoga Diner\n2 restaurants\n');
      const child = Bun.spawn(['bun', 'run', 'dishes', '--restaurant', 'r1', '--url', server.url, '--token', token], { stdout: 'pipe', stderr: 'pipe' });
      const exitCode = await child.exited;
      // Its stderr in the failure message, so a failure says why.
      expect({ exitCode, stderr: exitCode === 0 ? '' : await new Response(child.stderr).text() }).toEqual({ exitCode: 0, stderr: '' });
      const dishes = await new Response(child.stdout).text();
      expect(dishes).toContain('Chez Bun (r1)');
      expect(dishes).toContain('Soupe à l’oignon  7.50   gratinée');
      expect(dishes).toContain('Tarte Tatin       6.00');
      expect(dishes).toContain('2 dishes');
      await expect(runDishesCli({ url: server.url, token, restaurant: 'nope' })).rejects.toThrow('no restaurant with identifier "nope"');
    } finally {
      await server.stop();
      upstream.server.stop(true);
    }
  }, 60_000);
});
