// The operations console over HTTP: the dashboard's and GraphiQL's pages (compressed, cached, revalidated), and the
// API fields the dashboard reads (JobConnection.totalCount, workerPool, workerPoolUpdates).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { FakeClock } from './helpers/clock';
import { gqlData, startTestServer, subscribe, type TestServer, until } from './helpers/server';

let server: TestServer;
let origin: string;
beforeAll(async () => {
  server = await startTestServer();
  origin = new URL(server.url).origin;
});
afterAll(() => server.stop());

/** The bytes as sent (Bun's fetch would otherwise undo the compression). */
const raw = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${origin}${path}`, { method, headers, decompress: false, redirect: 'manual' });
const bytesOf = async (response: Response) => new Uint8Array(await response.arrayBuffer());

/** What GraphiQL's page opens on: the options its script (a file the page loads) renders it with. */
async function graphiqlDefaultQuery(): Promise<string> {
  const page = await (await fetch(`${origin}/graphql`, { headers: { accept: 'text/html' } })).text();
  const scripts = await Promise.all([...page.matchAll(/<script src="([^"]+)"/g)].map(async (m) => (await fetch(`${origin}${m[1]}`)).text()));
  const options = scripts.map((script) => script.match(/renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s)).find(Boolean);
  return JSON.parse(options![1]!).defaultQuery as string;
}

describe('the dashboard and GraphiQL pages', () => {
  test('/ leads to /dashboard', async () => {
    const response = await raw('/');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/dashboard');
  });

  test('the dashboard page and its bundles come compressed as asked, revalidated by ETag, bundles cached for good', async () => {
    const identity = await raw('/dashboard', { 'accept-encoding': 'identity' });
    expect(identity.status).toBe(200);
    expect(identity.headers.get('content-type')).toContain('text/html');
    expect(identity.headers.get('cache-control')).toBe('no-cache');
    expect(identity.headers.get('vary')).toBe('Accept-Encoding');
    expect(identity.headers.get('content-encoding')).toBeNull();
    const page = new TextDecoder().decode(await bytesOf(identity));
    // Everything it loads is served here: no CDN.
    const bundles = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => !url.startsWith('data:'));
    expect(bundles.length).toBeGreaterThanOrEqual(2);
    expect(bundles.every((url) => url.startsWith('/dashboard/'))).toBe(true);

    const br = await raw('/dashboard/', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(new TextDecoder().decode(brotliDecompressSync(await bytesOf(br)))).toBe(page);
    const gz = await raw('/dashboard', { 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(new TextDecoder().decode(gunzipSync(await bytesOf(gz)))).toBe(page);
    expect(new Set([identity, br, gz].map((r) => r.headers.get('etag'))).size).toBe(3);

    // A copy cached in any encoding is still good: 304, no body.
    const notModified = await raw('/dashboard', { 'accept-encoding': 'br', 'if-none-match': `W/"x", ${gz.headers.get('etag')}` });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(br.headers.get('etag'));
    expect((await bytesOf(notModified)).length).toBe(0);

    for (const url of bundles) {
      const identityBundle = await raw(url, { 'accept-encoding': 'identity' });
      const brBundle = await raw(url, { 'accept-encoding': 'br' });
      expect(identityBundle.status).toBe(200);
      expect(brBundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const size = (await bytesOf(identityBundle)).length;
      const compressed = (await bytesOf(brBundle)).length;
      // Text compresses to well under half.
      expect(compressed).toBeLessThan(size / 2);
      expect(Number(brBundle.headers.get('content-length'))).toBe(compressed);
    }
  });

  test('the pages (the dashboard, GraphiQL) run no inline script and may not be framed by another site; no asset is content-sniffed', async () => {
    for (const [path, headers] of [['/dashboard', {}], ['/graphql', { accept: 'text/html' }]] as const) {
      const page = await raw(path, headers);
      expect([path, page.status, page.headers.get('x-frame-options')]).toEqual([path, 200, 'DENY']);
      const policy = Object.fromEntries(page.headers.get('content-security-policy')!.split(';').map((directive) => directive.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      expect(policy['script-src']).toEqual(["'self'"]);
      expect(policy['frame-ancestors']).toEqual(["'none'"]);
      expect(policy['object-src']).toEqual(["'none'"]);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      // Every script of the page is a file it loads (an inline one would be refused by script-src 'self').
      const text = await (await raw(path, { ...headers, 'accept-encoding': 'identity' })).text();
      const scripts = [...text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/\ssrc="\/(dashboard|graphiql)\/[^"]+"/);
        expect(body!.trim()).toBe('');
      }
      for (const [, attributes] of scripts) {
        const src = /src="([^"]+)"/.exec(attributes!)![1]!;
        const file = await raw(src);
        expect([src, file.status, file.headers.get('content-type'), file.headers.get('x-content-type-options')]).toEqual([src, 200, expect.stringMatching(/javascript/), 'nosniff']);
      }
    }
    const pageText = await (await raw('/dashboard', { 'accept-encoding': 'identity' })).text();
    const bundle = [...pageText.matchAll(/src="(\/dashboard\/[^"]+)"/g)][0]![1]!;
    const script = await raw(bundle);
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    expect(script.headers.get('x-frame-options')).toBeNull();
  });

  test('the dashboard answers GET and HEAD only, and 404 for a file it does not have', async () => {
    const head = await raw('/dashboard', { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBeTruthy();
    const post = await raw('/dashboard', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const missing = await raw('/dashboard/nothing-here.js');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  test('GraphiQL comes compressed with an ETag, and opens on example operations, login first', async () => {
    const html = { accept: 'text/html' };
    const identity = await raw('/graphql', { ...html, 'accept-encoding': 'identity' });
    const br = await raw('/graphql', { ...html, 'accept-encoding': 'br' });
    const gz = await raw('/graphql', { ...html, 'accept-encoding': 'gzip' });
    const sizes = { identity: (await bytesOf(identity)).length, br: (await bytesOf(br)).length, gzip: (await bytesOf(gz)).length };
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    // About 1 MB as it is, mostly base64 icons (its scripts are files); brotli and gzip send well under half of it.
    expect(sizes.br).toBeLessThan(sizes.identity * 0.45);
    expect(sizes.gzip).toBeLessThan(sizes.identity * 0.5);
    // Its script (about 8 MB as it is): brotli and gzip send about a fifth and a quarter of it, and it is cached for good.
    const src = /<script src="([^"]+)"/.exec(new TextDecoder().decode(await bytesOf(await raw('/graphql', { ...html, 'accept-encoding': 'identity' }))))![1]!;
    const script = { identity: await raw(src, { 'accept-encoding': 'identity' }), br: await raw(src, { 'accept-encoding': 'br' }), gzip: await raw(src, { 'accept-encoding': 'gzip' }) };
    const scriptSizes = { identity: (await bytesOf(script.identity)).length, br: (await bytesOf(script.br)).length, gzip: (await bytesOf(script.gzip)).length };
    expect(scriptSizes.br).toBeLessThan(scriptSizes.identity * 0.3);
    expect(scriptSizes.gzip).toBeLessThan(scriptSizes.identity * 0.35);
    expect(script.br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(br.headers.get('cache-control')).toBe('no-cache');
    const revalidated = await raw('/graphql', { ...html, 'accept-encoding': 'br', 'if-none-match': br.headers.get('etag')! });
    expect(revalidated.status).toBe(304);

    const defaultQuery = await graphiqlDefaultQuery();
    const operations = [...defaultQuery.matchAll(/^(query|mutation|subscription) (\w+)/gm)].map((m) => m[2]);
    expect(operations[0]).toBe('Login');
    expect(operations).toEqual(expect.arrayContaining(['SubmitPi', 'WatchJob', 'Queues', 'EstimatePi', 'Evaluate', 'Best5', 'QuoteStream', 'Logins']));
  });

  test('every example operation in GraphiQL is valid against the schema', async () => {
    const document = await graphiqlDefaultQuery();
    const { buildSchema } = await import('../src/schema');
    const { parse, validate } = await import('graphql');
    expect(validate(buildSchema(), parse(document)).map((e) => e.message)).toEqual([]);
  });
});

describe('what the dashboard reads', () => {
  test('JobConnection.totalCount counts every job the filter matches, of the owners the caller may see', async () => {
    const admin = await server.adminToken();
    const alice = await server.userWithRole('USER');
    const bob = await server.userWithRole('USER');
    const submit = (token: string, queue = 'default') => gqlData(server, 'mutation($q: String) { submitPiJob(input: { simulations: 1000, queue: $q }) { id } }', { q: queue }, token);
    await gqlData(server, 'mutation { createQueue(input: { name: "counted" }) { name } }', {}, admin);
    await Promise.all([submit(alice.token), submit(alice.token), submit(alice.token, 'counted'), submit(bob.token), submit(bob.token, 'counted')]);
    const total = async (token: string, args = '') => ((await gqlData(server, `{ jobs(first: 1${args}) { totalCount edges { node { id } } } }`, {}, token)) as any).jobs;

    const alicePage = await total(alice.token);
    expect(alicePage.totalCount).toBe(3);
    expect(alicePage.edges).toHaveLength(1);
    // A USER's count is of their own jobs, whatever owner they name.
    expect((await total(alice.token, `, owner: "${bob.id}"`)).totalCount).toBe(3);
    expect((await total(alice.token, ', queue: "counted"')).totalCount).toBe(1);
    expect((await total(admin, ', queue: "counted"')).totalCount).toBe(2);
    expect((await total(admin, `, owner: "${bob.id}"`)).totalCount).toBe(2);
    expect((await total(admin, `, owner: "${bob.id}", queue: "counted", kind: PI`)).totalCount).toBe(1);
    expect((await total(admin, ', kind: CALC')).totalCount).toBe(0);
    // Asked alone, the count needs no page.
    expect(await gqlData(server, '{ jobs(queue: "counted") { totalCount } }', {}, admin)).toEqual({ jobs: { totalCount: 2 } });
  });

  test('workerPool: the pool now, throughput and latency percentiles of finished jobs; managers and admins only', async () => {
    const manager = await server.userWithRole('MANAGER');
    const user = await server.userWithRole('USER');
    const finished = await Promise.all(
      Array.from({ length: 4 }, () => gqlData(server, 'mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, user.token)),
    );
    const ids = finished.map((f: any) => f.submitPiJob.id);
    await until(
      async () => ((await gqlData(server, '{ jobs(status: SUCCEEDED, first: 100) { edges { node { id } } } }', {}, user.token)) as any).jobs.edges.length >= ids.length,
      'the jobs to finish',
    );
    const query = `{ workerPool {
      size busy tasksRunning tasksQueued jobsPerSecond
      throughput(minutes: 2, intervalSeconds: 10) { at jobsPerSecond }
      runMs { count p50 p90 p99 max } waitMs(minutes: 1) { count p50 max }
    } }`;
    const { workerPool } = (await gqlData(server, query, {}, manager.token)) as any;
    expect(workerPool.size).toBe(2);
    expect(workerPool.tasksQueued).toBeGreaterThanOrEqual(0);
    expect(workerPool.throughput).toHaveLength(12);
    const finishedInWindow = workerPool.throughput.reduce((sum: number, s: any) => sum + s.jobsPerSecond * 10, 0);
    expect(Math.round(finishedInWindow)).toBe(workerPool.runMs.count);
    expect(workerPool.runMs.count).toBeGreaterThanOrEqual(ids.length);
    expect(workerPool.jobsPerSecond).toBeCloseTo(workerPool.runMs.count / 60, 5);
    const { p50, p90, p99, max } = workerPool.runMs;
    expect(0 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max).toBe(true);
    expect(workerPool.waitMs.count).toBe(workerPool.runMs.count);
    expect(Date.parse(workerPool.throughput[1].at) - Date.parse(workerPool.throughput[0].at)).toBe(10_000);

    const refused = await server.gql('{ workerPool { size } }', {}, user.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await server.gql('{ workerPool { size } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('workerPoolUpdates streams the statistics over WebSocket; its interval is checked', async () => {
    const admin = await server.adminToken();
    const client = server.wsClient(admin);
    const stream = subscribe(client, 'subscription { workerPoolUpdates(intervalMs: 250) { size jobsPerSecond runMs { count } } }');
    const events = await stream.waitFor(2);
    expect(events.slice(0, 2).map((e) => e.data?.workerPoolUpdates.size)).toEqual([2, 2]);
    stream.unsubscribe();

    const tooFast = subscribe(client, 'subscription { workerPoolUpdates(intervalMs: 10) { size } }');
    await tooFast.waitFor(1);
    const errors = (tooFast.error ?? tooFast.events[0]?.errors) as { message: string; extensions?: { code?: string } }[];
    expect(errors[0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors[0]!.message).toContain('250 to 60000');

    const user = await server.userWithRole('USER');
    const refused = subscribe(server.wsClient(user.token), 'subscription { workerPoolUpdates { size } }');
    await refused.waitFor(1);
    const refusal = (refused.error ?? refused.events[0]?.errors) as { extensions?: { code?: string } }[];
    expect(refusal[0]!.extensions?.code).toBe('FORBIDDEN');
  });
});

test('workerPool forgets jobs as they leave its window (the app clock moved, no sleeping)', async () => {
  const clock = new FakeClock();
  const timed = await startTestServer({}, { clock });
  try {
    const admin = await timed.adminToken();
    const { submitPiJob } = (await gqlData(timed, 'mutation { submitPiJob(input: { simulations: 1000 }) { id } }', {}, admin)) as any;
    await until(async () => ((await gqlData(timed, 'query($id: ID!) { job(id: $id) { status } }', { id: submitPiJob.id }, admin)) as any).job.status === 'SUCCEEDED', 'the job to finish');
    const stats = async () => ((await gqlData(timed, '{ workerPool { jobsPerSecond runMs(minutes: 10) { count } waitMs(minutes: 1) { count } throughput(minutes: 1, intervalSeconds: 60) { jobsPerSecond } } }', {}, admin)) as any).workerPool;
    // The pool's statistics hear of an outcome once the runner's whole batch is written, which on PostgreSQL can be
    // a moment after another connection already reads the job SUCCEEDED.
    // (its jobCompleted comes through the event log: beside a second suite at load 20 that took longer than 15 s).
    await until(async () => (await stats()).runMs.count === 1, 'the statistics to count the job', 60_000);
    expect(await stats()).toEqual({ jobsPerSecond: 1 / 60, runMs: { count: 1 }, waitMs: { count: 1 }, throughput: [{ jobsPerSecond: 1 / 60 }] });
    clock.advance(2 * 60_000);
    expect(await stats()).toEqual({ jobsPerSecond: 0, runMs: { count: 1 }, waitMs: { count: 0 }, throughput: [{ jobsPerSecond: 0 }] });
    clock.advance(9 * 60_000);
    expect((await stats()).runMs).toEqual({ count: 0 });
  } finally {
    await timed.stop();
  }
}, 90_000);
