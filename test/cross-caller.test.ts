// Issue 20 item 1: nothing one caller sends may change another caller's answer. Every cache on the request path
// (Yoga's parse and validation caches, the fast path's known documents, the response cache) keys a verdict by
// everything it depends on; a property-based run interleaves hostile anonymous and low-role traffic with a fixed set
// of signed-in requests, over every transport, and each signed-in answer must equal its baseline every time.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { type ClientDocument, DASHBOARD_DOCUMENTS, GRAPHIQL_DOCUMENTS, OBESITY } from './helpers/client-documents';
import { readSseEvents, startTestServer, type TestServer, until } from './helpers/server';

const REPRO = 'query P($id:ID!){job(id:$id){id status}}';

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('a variable value is the one request’s mistake, never a verdict cached for the document', () => {
  let server: TestServer;
  let admin: string;
  let jobId: string;
  beforeAll(async () => {
    server = await startTestServer({ ANONYMOUS_ACCESS: 'analytics' });
    admin = await server.adminToken();
    const submitted = await server.gql<{ submitDiagnosticJobs: { id: string }[] }>(
      'mutation { submitDiagnosticJobs(input: { behavior: SUCCEED }) { id } }',
      {},
      admin,
    );
    jobId = submitted.data!.submitDiagnosticJobs[0]!.id;
  });
  afterAll(() => server.stop());

  test('the issue’s repro: an anonymous bad value, then a signed-in good one, over POST (fast path or Yoga) and GET', async () => {
    const attack = await post(server.url, { query: REPRO, variables: { id: { a: 'attacker text' } } });
    const attackBody = (await attack.json()) as { errors: { message: string; extensions: { code: string } }[] };
    // The normal per-request answer for a bad variable (as graphql-js's execution words it), not a validation verdict.
    expect(attack.status).toBe(400);
    expect(attackBody.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(attackBody.errors[0]!.message).toStartWith('Variable "$id" got invalid value');

    const expected = { data: { job: { id: jobId, status: expect.any(String) } } };
    // The fast path (a plain JSON POST), Yoga (an Accept the fast path leaves to it) and GET.
    const viaFastPath = await post(server.url, { query: REPRO, variables: { id: jobId } }, bearer(admin));
    expect(await viaFastPath.json()).toMatchObject(expected);
    const viaYoga = await post(server.url, { query: REPRO, variables: { id: jobId } }, { ...bearer(admin), accept: 'application/json, text/event-stream' });
    expect(await viaYoga.json()).toMatchObject(expected);
    const url = `${server.url}?query=${encodeURIComponent(REPRO)}&variables=${encodeURIComponent(JSON.stringify({ id: jobId }))}`;
    const viaGet = await fetch(url, { headers: { ...bearer(admin), 'graphql-preflight': '1' } });
    expect(await viaGet.json()).toMatchObject(expected);
    // And the attacker's request, asked again, still gets its own error.
    const again = await post(server.url, { query: REPRO, variables: { id: { a: 'attacker text' } } });
    expect(((await again.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  });

  test('a missing required variable, then a present one: each request its own answer (the cost rule reads no variables)', async () => {
    const query = 'query Missing($id: ID!) { job(id: $id) { id } }';
    const missing = await post(server.url, { query });
    expect(((await missing.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(await (await post(server.url, { query, variables: { id: jobId } }, bearer(admin))).json()).toEqual({ data: { job: { id: jobId } } });
  });

  test('a document whose cost reads its variables (`first:`) still measures each request’s, and a bad value is per request', async () => {
    const query = 'query Page($n: Int) { jobs(first: $n) { totalCount } }';
    const bad = await post(server.url, { query, variables: { n: 'many' } }, bearer(admin));
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    const good = (await (await post(server.url, { query, variables: { n: 5 } }, bearer(admin))).json()) as { data: { jobs: { totalCount: number } } };
    expect(good.data.jobs.totalCount).toBeGreaterThan(0);
  });

  test('compiled execution (analytics): a value graphql-jit cannot coerce is BAD_USER_INPUT, never a 500 from the masker', async () => {
    const query = 'query A($q: String!, $yearTo: Int) { analytics { statesMean(question: $q, yearTo: $yearTo) { state value } } }';
    // Past the document's compile (its second use: src/graphql/compiled.ts), so the odd values meet compiled code.
    for (let use = 0; use < 3; use++) expect((await post(server.url, { query, variables: { q: OBESITY, yearTo: 2020 - use } }, bearer(admin))).status).toBe(200);
    for (const headers of [bearer(admin), {}]) {
      const odd = await post(server.url, { query, variables: { q: OBESITY, yearTo: '\u202e\u0301\ufeff' } }, headers);
      const body = (await odd.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(odd.status).toBe(400);
      expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
      expect(body.errors[0]!.message).toStartWith('Variable "$yearTo" got invalid value');
    }
  });
});

describe('cached answers pass the same gates as the first ask', () => {
  let server: TestServer;
  let admin: string;
  const query = 'query G($q: String!) { analytics { globalMean(question: $q) } }';
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.adminToken();
    // The answer is computed once and kept (analytics answers are cached per session).
    for (let i = 0; i < 2; i++) expect((await post(server.url, { query, variables: { q: OBESITY } }, bearer(admin))).status).toBe(200);
  });
  afterAll(() => server.stop());

  const ask = (headers: Record<string, string>) =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(admin), ...headers }, body: JSON.stringify({ query, variables: { q: OBESITY } }) });

  // CSRF prevention applies where a browser could send ambient credentials, a cookie (docs/clients.md).
  test('a "simple" content type that mentions JSON, with a cookie, is CSRF prevention’s 403, hit or miss', async () => {
    const refused = await ask({ 'content-type': 'text/plain;application/json', cookie: 'theme=dark' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('FORBIDDEN');
  });

  test('an Accept the endpoint cannot answer is a 406, hit or miss', async () => {
    const refused = await ask({ accept: 'application/xml' });
    expect(refused.status).toBe(406);
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  });

  test('a hit answers in the media type Yoga would choose: the first plain one Accept lists', async () => {
    const first = await ask({ accept: 'application/graphql-response+json, application/json' });
    expect(first.headers.get('content-type')).toStartWith('application/graphql-response+json');
    const second = await ask({ accept: 'application/json, application/graphql-response+json' });
    expect(second.headers.get('content-type')).toStartWith('application/json');
    expect(await second.json()).toEqual((await first.json()) as object);
  });
});

/** What the property run can send: a document from the clients' pool, hostile or honest variables, odd framing. */
interface HostileOperation {
  document: ClientDocument;
  variables: unknown;
  who: 'anonymous' | 'user' | 'secretary';
  transport: 'post' | 'get' | 'ws';
  contentType: string;
  accept: string | null;
  operationName: unknown;
  /** A fresh tiny document instead, now and then: churns every LRU keyed by text, as a flushing attacker would. */
  flush: number | null;
}

/**
 * A raw graphql-transport-ws socket, as an attacker drives one: frames as given (a `variables` of any shape, an
 * integer operationName), reopened when the server closes it for a bad frame.
 */
class HostileSocket {
  private socket: WebSocket | null = null;
  private ready: Promise<void> | null = null;
  private readonly waiting = new Map<string, () => void>();
  private nextId = 0;
  constructor(
    private readonly url: string,
    private readonly token: string | null,
  ) {}

  private open(): Promise<void> {
    const socket = new WebSocket(this.url, 'graphql-transport-ws');
    this.socket = socket;
    return new Promise<void>((resolve) => {
      socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: this.token ? { authorization: `Bearer ${this.token}` } : {} }));
      socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as { type: string; id?: string };
        if (message.type === 'connection_ack') resolve();
        if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
        if ((message.type === 'error' || message.type === 'complete') && message.id !== undefined) this.waiting.get(message.id)?.();
      };
      // Closed (a bad frame, a refused token): the operation waiting is over, and the next one opens a new socket.
      socket.onclose = () => {
        if (this.socket === socket) this.ready = null;
        resolve();
        for (const done of this.waiting.values()) done();
      };
    });
  }

  /** Sends one operation and waits for its end (complete, error, or the socket closed); several may be under way. */
  async operation(payload: unknown): Promise<void> {
    await (this.ready ??= this.open());
    const socket = this.socket!;
    if (socket.readyState !== WebSocket.OPEN) return;
    const id = String(++this.nextId);
    await new Promise<void>((done) => {
      this.waiting.set(id, done);
      socket.send(JSON.stringify({ id, type: 'subscribe', payload }));
    });
    this.waiting.delete(id);
  }

  close(): void {
    this.ready = null;
    this.socket?.close();
  }
}

const HOSTILE_STRINGS = ['attacker text', '\u202e\u0301\ufeff', '', '1', '-1', '0x10', '1e309', 'null', '{"a":1}', '\u0000', '𝕏'.repeat(50)];

describe('hostile traffic never changes a signed-in answer (property-based; seeded, replays)', () => {
  let server: TestServer;
  const pool = [...DASHBOARD_DOCUMENTS, ...GRAPHIQL_DOCUMENTS];

  afterAll(() => server?.stop());

  test('≥ 2,000 hostile operations interleaved with signed-in requests over POST, GET, the fast path, SSE and WebSocket', async () => {
    const seed = Number(process.env.CROSS_CALLER_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`cross-caller property seed: ${seed} (replay: CROSS_CALLER_SEED=${seed} bun test test/cross-caller.test.ts)`);
    // Small document caches, so the run's flushes evict (an attacker needs ~1,200 tiny documents at the defaults).
    server = await startTestServer({ ANONYMOUS_ACCESS: 'analytics', DOCUMENT_CACHE_BYTES: '8192' });
    const admin = await server.adminToken();
    const tokens = { user: (await server.userWithRole('USER')).token, secretary: (await server.userWithRole('SECRETARY')).token };
    const viewer = await server.userWithRole('MANAGER', 'viewer');
    const job = await server.gql<{ submitDiagnosticJobs: { id: string }[] }>('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED }) { id } }', {}, admin);
    const jobId = job.data!.submitDiagnosticJobs[0]!.id;
    await until(async () => (await server.gql(REPRO, { id: jobId }, admin)).data?.job.status === 'SUCCEEDED', 'the seed job to finish');

    // The fixed signed-in requests: documents the pool also holds, asked honestly, over each transport.
    const analytics = DASHBOARD_DOCUMENTS[3]!;
    type Signed = { name: string; ask: () => Promise<unknown> };
    const json = async (response: Response) => ({ status: response.status, body: await response.json() });
    const ws = server.wsClient(admin);
    const wsAsk = (query: string, variables: Record<string, unknown>) =>
      new Promise((resolve, reject) => {
        let result: unknown;
        ws.subscribe({ query, variables }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
      });
    const signed: Signed[] = [
      { name: 'repro, fast path', ask: async () => json(await post(server.url, { query: REPRO, variables: { id: jobId } }, bearer(admin))) },
      {
        name: 'repro, Yoga',
        ask: async () => json(await post(server.url, { query: REPRO, variables: { id: jobId } }, { ...bearer(admin), accept: 'application/graphql-response+json;q=1' })),
      },
      {
        name: 'repro, GET',
        ask: async () =>
          json(await fetch(`${server.url}?query=${encodeURIComponent(REPRO)}&variables=${encodeURIComponent(JSON.stringify({ id: jobId }))}`, { headers: { ...bearer(admin), 'graphql-preflight': '1' } })),
      },
      { name: 'analytics, cached', ask: async () => json(await post(server.url, { query: analytics.query, variables: analytics.variables }, bearer(viewer.token))) },
      {
        name: 'analytics, SSE',
        ask: async () => {
          const response = await post(server.url, { query: analytics.query, variables: analytics.variables }, { ...bearer(viewer.token), accept: 'text/event-stream' });
          return { status: response.status, events: await readSseEvents(response, 1) };
        },
      },
      { name: 'job detail, WebSocket', ask: () => wsAsk(DASHBOARD_DOCUMENTS[2]!.query, { id: jobId }) },
      { name: 'me, fast path', ask: async () => json(await post(server.url, { query: DASHBOARD_DOCUMENTS[0]!.query }, bearer(viewer.token))) },
      { name: 'GraphiQL Questions', ask: async () => json(await post(server.url, { query: GRAPHIQL_DOCUMENTS[6]!.query, operationName: 'Questions' }, bearer(viewer.token))) },
    ];
    const baselines = new Map<string, string>();
    for (const request of signed) {
      const answer = JSON.stringify(await request.ask());
      expect(answer).not.toContain('"errors"');
      baselines.set(request.name, answer);
    }

    // Hostile sockets, one per identity, opened once: operations go over a few long-lived connections.
    const hostileSockets = { anonymous: new HostileSocket(server.wsUrl, null), user: new HostileSocket(server.wsUrl, tokens.user), secretary: new HostileSocket(server.wsUrl, tokens.secretary) };
    const send = async (operation: HostileOperation): Promise<void> => {
      const query = operation.flush === null ? operation.document.query : `query Flush${operation.flush} { __typename }\n# ${'-'.repeat(1000)}`;
      const token = operation.who === 'anonymous' ? null : tokens[operation.who];
      const body = { query, variables: operation.variables, operationName: operation.operationName };
      if (operation.transport === 'ws') {
        await hostileSockets[operation.who].operation(body);
        return;
      }
      const headers: Record<string, string> = { ...(token ? bearer(token) : {}), ...(operation.accept ? { accept: operation.accept } : {}) };
      const response =
        operation.transport === 'get'
          ? await fetch(`${server.url}?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify(operation.variables))}`, { headers: { ...headers, 'graphql-preflight': '1' } })
          : await fetch(server.url, { method: 'POST', headers: { ...headers, 'content-type': operation.contentType }, body: JSON.stringify(body) });
      // A stream (SSE) is not waited on; everything else is read so the connection is reused.
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) await response.body?.cancel();
      else await response.arrayBuffer();
      expect(response.status).toBeLessThan(500);
    };

    const targets = [DASHBOARD_DOCUMENTS[9]!, DASHBOARD_DOCUMENTS[3]!, DASHBOARD_DOCUMENTS[2]!, DASHBOARD_DOCUMENTS[0]!, GRAPHIQL_DOCUMENTS[6]!];
    const hostileValue = fc.oneof(
      fc.constantFrom(...HOSTILE_STRINGS),
      fc.record({ a: fc.constantFrom(...HOSTILE_STRINGS) }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const operation: fc.Arbitrary<HostileOperation> = fc
      .record({
        // Twice as often the documents the signed-in requests use: what an attacker would aim at.
        document: fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...pool) }, { weight: 2, arbitrary: fc.constantFrom(...targets) }),
        mode: fc.constantFrom('honest', 'hostile', 'hostile', 'absent', 'wrongShape'),
        hostile: fc.dictionary(fc.constantFrom('id', 'first', 'question', 'yearTo', 'yearFrom', 'input', 'name', 'status', 'kind', 'after', 'owner'), hostileValue, { maxKeys: 4 }),
        who: fc.constantFrom('anonymous', 'anonymous', 'user', 'secretary'),
        transport: fc.constantFrom('post', 'post', 'post', 'get', 'ws'),
        contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain;application/json', 'application/graphql-response+json', 'text/plain'),
        accept: fc.constantFrom(null, null, '*/*', 'application/json', 'application/graphql-response+json', 'application/xml', 'text/event-stream', 'application/json, text/event-stream'),
        operationName: fc.oneof(fc.constant(undefined), fc.constant(null), fc.constantFrom('Me', 'P', 'Jobs', 'Nope', 'Questions'), fc.integer()),
        flush: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(5000) }),
      })
      .map(({ document, mode, hostile, operationName, ...rest }) => ({
        ...rest,
        document,
        operationName: document.operationName !== undefined && mode === 'honest' ? document.operationName : operationName,
        variables:
          mode === 'honest' ? document.variables : mode === 'hostile' ? { ...document.variables, ...hostile } : mode === 'absent' ? undefined : Object.values(hostile)[0] ?? [],
      }));

    const ROUNDS = 2_000;
    const PARALLEL = 8;
    let sent = 0;
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: ROUNDS, maxLength: ROUNDS }), async (operations) => {
        for (let at = 0; at < operations.length; at += PARALLEL) {
          // A few hostile operations at once, then one signed-in request checked against its baseline.
          await Promise.all(operations.slice(at, at + PARALLEL).map(send));
          sent += Math.min(PARALLEL, operations.length - at);
          const request = signed[(at / PARALLEL) % signed.length]!;
          expect(`${request.name}: ${JSON.stringify(await request.ask())}`).toBe(`${request.name}: ${baselines.get(request.name)}`);
          checked++;
        }
      }),
      // One long run per seed; on a failure fast-check reports the seed and the run replays it (no shrinking).
      { seed, numRuns: 1, endOnFailure: true },
    );
    expect(sent).toBeGreaterThanOrEqual(ROUNDS);
    expect(checked).toBeGreaterThanOrEqual(ROUNDS / PARALLEL);
    await ws.dispose();
    for (const socket of Object.values(hostileSockets)) socket.close();
  }, 120_000);
});
