// PERSISTED_ONLY=1 through every transport: the manifest (persisted-operations.json) is current and every document in
// it validates against the schema; a USER's (or an anonymous caller's) document outside it is refused over HTTP (POST,
// GET, after an admin warmed the response cache and the fast path with it), graphql-ws, SSE and graphql-sse's
// single-connection mode, while the same transports run the dashboard's documents, by text or by hash alone.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { parse, validate } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { buildSchema } from '../src/schema';
import { sha256Hex } from '../src/persisted-operations';
import { readSseEvents, startTestServer, subscribe, type TestServer } from './helpers/server';

const manifest = (await Bun.file(new URL('../persisted-operations.json', import.meta.url)).json()) as Record<string, string>;
const trusted = (prefix: string) => Object.values(manifest).find((document) => document.startsWith(prefix))!;
const ME = '{ me { id username role } }';
const SUBMIT_PI = trusted('mutation($input: PiJobInput!) { submitPiJob');
const FOLLOW_JOB = trusted('subscription($id: ID!) { jobUpdated(id: $id) { id kind status');
// Documents no client of ours sends.
const OWN_QUERY = 'query Mine { me { username } }';
const OWN_SUBSCRIPTION = 'subscription Mine { jobCompleted { id } }';

let server: TestServer;
let user: string;
let admin: string;

beforeAll(async () => {
  server = await startTestServer({ PERSISTED_ONLY: '1' });
  admin = await server.adminToken();
  user = (await server.userWithRole('USER')).token;
}, 20_000);
afterAll(() => server.stop());

const post = (body: unknown, token?: string, accept = 'application/json') =>
  fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', accept, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

async function expectRefused(response: Response) {
  expect(response.status).toBe(403);
  const { errors } = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
  expect(errors[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  expect(errors[0]!.message).toContain('trusted documents');
}

describe('the manifest', () => {
  test('is current (bun run persisted:check) and every document in it validates against the schema', async () => {
    const check = Bun.spawnSync(['bun', 'scripts/persisted-operations.ts', '--check'], { cwd: new URL('..', import.meta.url).pathname });
    expect(check.stderr.toString()).toBe('');
    expect(check.exitCode).toBe(0);
    const schema = buildSchema();
    expect(Object.keys(manifest).length).toBeGreaterThan(30);
    for (const [hash, document] of Object.entries(manifest)) {
      expect(sha256Hex(document)).toBe(hash);
      expect({ document, errors: validate(schema, parse(document)).map((error) => error.message) }).toEqual({ document, errors: [] });
    }
    // The documents the dashboard builds per kind and the CLI per command are all there.
    for (const mutation of ['submitPiJob', 'submitForecastJob', 'submitCalcJob', 'submitAnalyticsJob', 'submitDiagnosticJobs', 'pauseQueue', 'resumeQueue', 'cancelJob', 'retryJob', 'deleteJob']) {
      expect(Object.values(manifest).some((document) => document.includes(`{ ${mutation}(`))).toBe(true);
    }
  });
});

describe('HTTP', () => {
  test("a USER's own document is refused, even after an admin's run of it warmed the cache and the fast path", async () => {
    await expectRefused(await post({ query: OWN_QUERY }, user));
    for (let run = 0; run < 3; run += 1) expect(((await (await post({ query: OWN_QUERY }, admin)).json()) as any).data.me.username).toBe('admin');
    for (let run = 0; run < 2; run += 1) await expectRefused(await post({ query: OWN_QUERY }, user));
    await expectRefused(await fetch(`${server.url}?query=${encodeURIComponent(OWN_QUERY)}`, { headers: { authorization: `Bearer ${user}`, accept: 'application/json' } }));
    // Anonymous callers too; and each operation of a batch.
    await expectRefused(await post({ query: OWN_QUERY }));
    const batch = await post([{ query: ME }, { query: OWN_QUERY }], user);
    expect(JSON.stringify(await batch.json())).toContain('PERSISTED_QUERY_NOT_IN_LIST');
  });

  test('a trusted document runs for a USER and for anyone, by text (repeatedly: the shortcuts) or by its hash alone', async () => {
    for (let run = 0; run < 3; run += 1) expect(((await (await post({ query: ME }, user)).json()) as any).data.me.role).toBe('USER');
    expect(((await (await post({ query: ME })).json()) as any).data.me).toBeNull();
    const byHash = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(ME) } } }, user);
    expect(((await byHash.json()) as any).data.me.role).toBe('USER');
    // A hash outside the manifest is not found; registering a document by APQ does not make it trusted.
    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(OWN_QUERY) } } }, user);
    expect(((await unknown.json()) as any).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    await expectRefused(await post({ query: OWN_QUERY, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(OWN_QUERY) } } }, user));
    await expectRefused(await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(OWN_QUERY) } } }, user));
  });
});

describe('graphql-ws', () => {
  test("a USER's own subscription is refused; the dashboard's follows a job to its end", async () => {
    const client = server.wsClient(user);
    try {
      const own = subscribe(client, OWN_SUBSCRIPTION);
      await own.waitFor(1).catch(() => {});
      expect((own.error as any[])?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
      const { data } = await server.gql(SUBMIT_PI, { input: { simulations: 1000, seed: 3 } }, user);
      const followed = subscribe(client, FOLLOW_JOB, { id: data!.submitPiJob.id });
      await followed.waitFor(100, 10_000).catch(() => {});
      expect(followed.error).toBeUndefined();
      expect(followed.events.at(-1)?.data?.jobUpdated.status).toBe('SUCCEEDED');
    } finally {
      await client.dispose();
    }
  }, 20_000);
});

describe('SSE', () => {
  test("distinct streams: a USER's own subscription is refused; a trusted one streams", async () => {
    const refused = await post({ query: OWN_SUBSCRIPTION }, user, 'text/event-stream');
    expect(refused.status).toBe(403);
    const [refusal] = await readSseEvents(refused, 1);
    expect(refusal.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const { data } = await server.gql(SUBMIT_PI, { input: { simulations: 1000, seed: 4 } }, user);
    const stream = await post({ query: FOLLOW_JOB, variables: { id: data!.submitPiJob.id } }, user, 'text/event-stream');
    expect(stream.status).toBe(200);
    const [first] = await readSseEvents(stream, 1, 10_000);
    expect(first.data.jobUpdated.id).toBe(data!.submitPiJob.id);
  }, 20_000);

  test("single-connection mode: a USER's own operation is refused; trusted ones run", async () => {
    const clients: ReturnType<typeof createSseClient>[] = [];
    // A client whose operation failed reconnects its stream; each case has its own.
    const collect = async (query: string, variables: Record<string, unknown> = {}) => {
      const client = createSseClient({ url: server.url, singleConnection: true, headers: { authorization: `Bearer ${user}` }, retryAttempts: 0 });
      clients.push(client);
      const results: any[] = [];
      for await (const result of client.iterate({ query, variables })) results.push(result);
      return results;
    };
    try {
      // graphql-sse's client reports the status only; the body says why (the next test: the protocol by hand).
      expect(String(await collect(OWN_QUERY).catch((error) => error))).toContain('403');
      expect((await collect(ME))[0].data.me.role).toBe('USER');
      const [submitted] = await collect(SUBMIT_PI, { input: { simulations: 1000, seed: 5 } });
      const updates = await collect(FOLLOW_JOB, { id: submitted.data.submitPiJob.id });
      expect(updates.at(-1).data.jobUpdated.status).toBe('SUCCEEDED');
    } finally {
      for (const client of clients) client.dispose();
    }
  }, 20_000);

  test("single-connection mode by hand: the refusal's body names the code", async () => {
    const headers = { authorization: `Bearer ${user}` };
    const token = await (await fetch(server.url, { method: 'PUT', headers })).text();
    const operation = (query: string, operationId: string) =>
      fetch(server.url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'x-graphql-event-stream-token': token }, body: JSON.stringify({ query, extensions: { operationId } }) });
    await expectRefused(await operation(OWN_QUERY, 'a'));
    expect((await operation(ME, 'b')).status).toBe(202);
  });

  test('an admin may run any document on every transport (GraphiQL)', async () => {
    expect(((await (await post({ query: OWN_QUERY }, admin)).json()) as any).data.me.username).toBe('admin');
    const client = server.wsClient(admin);
    try {
      const own = subscribe(client, 'query Mine { me { username } }');
      await own.waitFor(1);
      expect(own.events[0]!.data?.me.username).toBe('admin');
    } finally {
      await client.dispose();
    }
  });
});
