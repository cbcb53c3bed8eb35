// The GraphQL clients people use, each with its defaults, against a real server: a query, a mutation and a
// subscription each (graphql-request has no subscriptions). Apollo with automatic persisted queries and
// GraphQLWsLink, urql's GET queries and fetch subscriptions, graphql-sse in both of its modes, graphql-ws, and the
// protocol features behind them: batching and @defer/@stream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { cacheExchange, Client as UrqlClient, fetchExchange } from '@urql/core';
import { GraphQLClient } from 'graphql-request';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { startTestServer, type TestServer, until } from './helpers/server';

const QUERY = 'query Me { me { username role } }';
const SUBMIT = 'mutation Submit($input: PiJobInput!) { submitPiJob(input: $input) { id status } }';
const FOLLOW = 'subscription Follow($id: ID!) { jobUpdated(id: $id) { id status } }';
const PI_INPUT = { simulations: 1000, seed: 7 };

let server: TestServer;
let token: string;
let auth: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  token = await server.adminToken();
  auth = { authorization: `Bearer ${token}` };
});
afterAll(() => server.stop());

/** A subscription's statuses, in order, until it ends (jobUpdated ends after the job's final state). */
function expectFollowedToTheEnd(statuses: string[]) {
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.at(-1)).toBe('SUCCEEDED');
}

const sha256 = (text: string) => new Bun.CryptoHasher('sha256').update(text).digest('hex');

describe('urql (@urql/core) with its defaults', () => {
  test('a query sent as GET without any CSRF header, a mutation, and a subscription over fetch', async () => {
    const sent: string[] = [];
    const client = new UrqlClient({
      url: server.url,
      exchanges: [cacheExchange, fetchExchange],
      fetchSubscriptions: true,
      fetchOptions: { headers: auth },
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
        sent.push(init?.method ?? 'GET');
        return fetch(input, init);
      }) as typeof fetch,
    });
    const me = await client.query(QUERY, {}).toPromise();
    expect(me.error).toBeUndefined();
    expect(me.data.me).toMatchObject({ username: 'admin', role: 'ADMIN' });
    expect(sent[0]).toBe('GET');

    const submitted = await client.mutation(SUBMIT, { input: PI_INPUT }).toPromise();
    expect(submitted.error).toBeUndefined();
    const { id } = submitted.data.submitPiJob;

    // Followed until the server ends the stream (urql's last result, hasNext false, repeats the last event). An
    // unsubscribe while the response is still open aborts its fetch, and that abort rejects inside urql with nobody
    // to catch it: Bun charged it to whichever test ran next.
    const statuses = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const { unsubscribe } = client.subscription(FOLLOW, { id }).subscribe((result) => {
        if (result.error) {
          unsubscribe();
          return reject(result.error);
        }
        if (!result.hasNext) return resolve(seen);
        seen.push(result.data.jobUpdated.status);
      });
    });
    expectFollowedToTheEnd(statuses);
  });
});

describe('Apollo Client with PersistedQueryLink and GraphQLWsLink', () => {
  test('queries and mutations by hash (the document sent once), subscriptions over graphql-ws', async () => {
    const bodies: any[] = [];
    const http = new HttpLink({
      uri: server.url,
      headers: auth,
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
        bodies.push(JSON.parse(String(init?.body)));
        return fetch(input, init);
      }) as typeof fetch,
    });
    const wsClient = createWsClient({ url: server.wsUrl, connectionParams: auth, retryAttempts: 0 });
    const link = ApolloLink.split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
      },
      new GraphQLWsLink(wsClient),
      new PersistedQueryLink({ sha256 }).concat(http),
    );
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    try {
      const first = await client.query({ query: gql(QUERY), fetchPolicy: 'network-only' });
      expect(first.data).toMatchObject({ me: { username: 'admin', role: 'ADMIN' } });
      // The first ask sent only the hash, was told PersistedQueryNotFound, and sent the document with it.
      expect(bodies[0].query).toBeUndefined();
      expect(bodies[0].extensions.persistedQuery.sha256Hash).toBeString();
      expect(bodies[1].query).toContain('query Me');
      const again = await client.query({ query: gql(QUERY), fetchPolicy: 'network-only' });
      expect(again.data).toMatchObject({ me: { username: 'admin' } });
      // Now the hash alone is enough, over GET too (PersistedQueryLink's useGETForHashedQueries).
      expect(bodies.at(-1).query).toBeUndefined();
      const extensions = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha256(bodies[1].query) } }));
      const byGet = await fetch(`${server.url}?operationName=Me&extensions=${extensions}`, { headers: auth });
      expect(((await byGet.json()) as any).data.me.username).toBe('admin');

      const submitted = await client.mutate({ mutation: gql(SUBMIT), variables: { input: PI_INPUT } });
      const { id } = (submitted.data as any).submitPiJob;

      const statuses = await new Promise<string[]>((resolve, reject) => {
        const seen: string[] = [];
        const subscription = client.subscribe({ query: gql(FOLLOW), variables: { id } }).subscribe({
          next: (result) => {
            if (result.error) return reject(result.error);
            seen.push((result.data as any).jobUpdated.status);
          },
          error: reject,
          complete: () => {
            subscription.unsubscribe();
            resolve(seen);
          },
        });
      });
      expectFollowedToTheEnd(statuses);
    } finally {
      client.stop();
      await wsClient.dispose();
    }
  });

  test('a hash that does not match its document is refused; an unknown hash asks for the document', async () => {
    const post = (body: unknown) => fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ never { sent } }') } } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).errors[0]).toEqual({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
    const mismatch = await post({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ me { id } }') } } });
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as any).errors[0]).toEqual({ message: 'PersistedQueryMismatch', extensions: { code: 'PERSISTED_QUERY_MISMATCH' } });
  });
});

describe('graphql-sse', () => {
  for (const singleConnection of [false, true]) {
    test(`${singleConnection ? 'single-connection' : 'distinct connections'} mode: a query, a mutation and a subscription`, async () => {
      // A copy: graphql-sse writes its stream token into the object it is given.
      const client = createSseClient({ url: server.url, singleConnection, headers: { ...auth }, retryAttempts: 0 });
      try {
        const collect = async (query: string, variables: Record<string, unknown> = {}) => {
          const results: any[] = [];
          for await (const result of client.iterate({ query, variables })) {
            if (result.errors) throw new Error(JSON.stringify(result.errors));
            results.push(result.data);
          }
          return results;
        };
        expect(await collect(QUERY)).toEqual([{ me: { username: 'admin', role: 'ADMIN' } }]);
        const [submitted] = await collect(SUBMIT, { input: PI_INPUT });
        const updates = await collect(FOLLOW, { id: submitted.submitPiJob.id });
        expectFollowedToTheEnd(updates.map((update) => update.jobUpdated.status));
      } finally {
        client.dispose();
      }
    });
  }

  test('a single-connection reservation needs a signed-in caller; a plain PUT is still refused', async () => {
    const anonymous = await fetch(server.url, { method: 'PUT' });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const reserved = await fetch(server.url, { method: 'PUT', headers: auth });
    expect(reserved.status).toBe(201);
    expect(await reserved.text()).toMatch(/^[0-9a-f-]{36}$/);
    expect((await fetch(server.url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(405);
  });

  test('single-connection operations are authenticated per operation: a bad token is refused', async () => {
    const client = createSseClient({ url: server.url, singleConnection: true, headers: { authorization: 'Bearer not-a-token' }, retryAttempts: 0 });
    try {
      const iterate = async () => {
        for await (const _ of client.iterate({ query: QUERY })) {
          // nothing expected
        }
      };
      await expect(iterate()).rejects.toBeDefined();
    } finally {
      client.dispose();
    }
  });
});

describe('graphql-ws', () => {
  test('a query, a mutation and a subscription over one socket', async () => {
    const client = createWsClient({ url: server.wsUrl, connectionParams: auth, retryAttempts: 0 });
    try {
      const one = async (query: string, variables: Record<string, unknown> = {}) => {
        const results: any[] = [];
        for await (const result of client.iterate({ query, variables })) {
          if (result.errors) throw new Error(JSON.stringify(result.errors));
          results.push(result.data);
        }
        return results;
      };
      expect(await one(QUERY)).toEqual([{ me: { username: 'admin', role: 'ADMIN' } }]);
      const [submitted] = await one(SUBMIT, { input: PI_INPUT });
      const updates = await one(FOLLOW, { id: submitted.submitPiJob.id });
      expectFollowedToTheEnd(updates.map((update) => update.jobUpdated.status));
    } finally {
      await client.dispose();
    }
  });
});

describe('graphql-request', () => {
  test('a query and a mutation (it has no subscriptions), and a batch', async () => {
    const client = new GraphQLClient(server.url, { headers: auth });
    expect(await client.request(QUERY)).toEqual({ me: { username: 'admin', role: 'ADMIN' } });
    const submitted = await client.request<any>(SUBMIT, { input: PI_INPUT });
    expect(submitted.submitPiJob.id).toBeString();
    const batch = await client.batchRequests<any>([{ document: QUERY }, { document: '{ job(id: $id) { id } }'.replace('{ job', 'query J($id: ID!) { job'), variables: { id: submitted.submitPiJob.id } }]);
    expect(batch[0].data.me.username).toBe('admin');
    expect(batch[1].data.job.id).toBe(submitted.submitPiJob.id);
  });
});

describe('batching', () => {
  const post = (body: unknown) => fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });

  test('a JSON array answers an array, each operation checked alone; a batch over the limit is refused', async () => {
    const answered = await post([{ query: '{ me { username } }' }, { query: '{ nope }' }, { query: '{ __typename }' }]);
    expect(answered.status).toBe(200);
    const results = (await answered.json()) as any[];
    expect(results[0]).toEqual({ data: { me: { username: 'admin' } } });
    expect(results[1].errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(results[2]).toEqual({ data: { __typename: 'Query' } });

    const tooMany = await post(Array.from({ length: 11 }, () => ({ query: '{ __typename }' })));
    expect(tooMany.status).toBeGreaterThanOrEqual(400);
    expect(tooMany.status).toBeLessThan(500);
    const bad = await post([{ query: '{ __typename }' }, { query: 42 }]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('@defer and @stream', () => {
  /** The parts of a multipart/mixed answer, parsed. */
  async function incrementalParts(query: string, variables: Record<string, unknown> = {}): Promise<any[]> {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed', ...auth },
      body: JSON.stringify({ query, variables }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('multipart/mixed');
    const text = await response.text();
    return [...text.matchAll(/\r\n\r\n(\{.*?\})\r\n---/gs)].map((match) => JSON.parse(match[1]!));
  }

  test('analytics meanByCategory streamed: the first groups at once, the rest as they follow', async () => {
    const question = 'Percent of adults aged 18 years and older who have obesity';
    const whole = await server.gql('query($q: String!) { analytics { meanByCategory(question: $q) { state category segment value } } }', { q: question }, token);
    const groups = whole.data!.analytics.meanByCategory as unknown[];
    expect(groups.length).toBeGreaterThan(2);
    const parts = await incrementalParts('query($q: String!) { analytics { meanByCategory(question: $q) @stream(initialCount: 2) { state category segment value } } }', { q: question });
    expect(parts[0].data.analytics.meanByCategory).toEqual(groups.slice(0, 2));
    expect(parts[0].hasNext).toBe(true);
    const streamed = parts.slice(1).flatMap((part) => (part.incremental ?? []).flatMap((increment: any) => increment.items ?? []));
    expect([...parts[0].data.analytics.meanByCategory, ...streamed]).toEqual(groups);
    expect(parts.at(-1).hasNext).toBe(false);
  });

  test('a calc job: its status at once, its results deferred', async () => {
    const submitted = await server.gql('mutation { submitCalcJob(input: { expressions: ["1 + 2", "2 ^ 10"] }) { id } }', {}, token);
    const { id } = submitted.data!.submitCalcJob;
    const client = createWsClient({ url: server.wsUrl, connectionParams: auth, retryAttempts: 0 });
    for await (const _ of client.iterate({ query: FOLLOW, variables: { id } })) {
      // until the job's final state
    }
    await client.dispose();
    const parts = await incrementalParts(
      'query($id: ID!) { job(id: $id) { status ... @defer { result { ... on CalcBatchResult { results { expression value } } } } } }',
      { id },
    );
    expect(parts[0].data.job).toEqual({ status: 'SUCCEEDED' });
    const deferred = parts.slice(1).flatMap((part) => part.incremental ?? []);
    expect(deferred[0].data.result.results).toEqual([
      { expression: '1 + 2', value: 3 },
      { expression: '2 ^ 10', value: 1024 },
    ]);
  });
});

describe('graphql-sse single-connection stream limits', () => {
  test('each operation on a stream counts as a live operation of its user, like a graphql-ws one, until it ends', async () => {
    const capped = await startTestServer({ MAX_SUBSCRIPTIONS_PER_USER: '2' });
    try {
      const { token: userToken } = await capped.userWithRole('USER');
      const headers = { authorization: `Bearer ${userToken}` };
      const reservation = await (await fetch(capped.url, { method: 'PUT', headers })).text();
      const streamHeaders = { ...headers, 'x-graphql-event-stream-token': reservation };
      const stream = await fetch(capped.url, { headers: { ...streamHeaders, accept: 'text/event-stream' } });
      expect(stream.status).toBe(200);
      // The stream alone holds none of the user's two.
      expect(capped.running.liveOperations().operations).toBe(0);
      const operation = (operationId: string) =>
        fetch(capped.url, {
          method: 'POST',
          headers: { ...streamHeaders, 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'subscription { jobCompleted { id } }', extensions: { operationId } }),
        });
      expect((await operation('a')).status).toBe(202);
      expect((await operation('b')).status).toBe(202);
      expect(capped.running.liveOperations().operations).toBe(2);
      // A third, on this stream or over plain SSE, is over the cap.
      const third = await operation('c');
      expect(third.status).toBe(429);
      expect(((await third.json()) as any).errors[0].extensions).toEqual({ code: 'RATE_LIMITED', limit: 'subscriptionsPerUser', max: 2 });
      const other = await fetch(capped.url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query: 'subscription { jobCompleted { id } }' }) });
      expect(other.status).toBe(429);
      await other.body?.cancel();
      // Cancelling one (graphql-sse's DELETE) makes room.
      expect((await fetch(`${capped.url}?operationId=a`, { method: 'DELETE', headers: streamHeaders })).status).toBe(200);
      await until(() => capped.running.liveOperations().operations === 1, 'the cancelled operation uncounted');
      expect((await operation('c')).status).toBe(202);
      // Every operation counts while it runs, as over graphql-ws: at the cap a query is refused too.
      const query = await fetch(capped.url, { method: 'POST', headers: { ...streamHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ me { id } }', extensions: { operationId: 'q' } }) });
      expect(query.status).toBe(429);
      // Logging out ends the stream, and its operations with it.
      await capped.gql('mutation { logout }', {}, userToken);
      const reader = stream.body!.getReader();
      const deadline = Date.now() + 5000;
      let ended = false;
      while (!ended && Date.now() < deadline) ended = (await Promise.race([reader.read(), Bun.sleep(5000).then(() => ({ done: false }))])).done === true;
      expect(ended).toBe(true);
      await until(() => capped.running.liveOperations().operations === 0, 'the stream’s operations uncounted');
    } finally {
      await capped.stop();
    }
  }, 30_000);
});
