// The fast path for known-valid JSON queries and mutations (src/http/graphql-fast-path.ts) answers exactly as Yoga
// does, keeps every limit and the revocation of tokens, and `me` answers from the session.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { parse } from 'graphql';
import { COMPILE_AT_USE, compiles } from '../src/graphql/compiled';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_QUERY_COMPLEXITY: '60' });
});
afterAll(() => server.stop());

/** A JSON POST; `accept` decides the way: `*\/*` (or none) takes the fast path, a list of types goes through Yoga. */
async function post(query: string, options: { variables?: Record<string, unknown>; token?: string; accept?: string; origin?: string } = {}) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.accept ? { accept: options.accept } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  const text = await response.text();
  // A masked error quotes its request id, which differs per request.
  return { status: response.status, type: response.headers.get('content-type'), body: text.replace(/"requestId":"[^"]+"/g, '"requestId":"…"'), headers: response.headers };
}

describe('the fast path', () => {
  test('answers every outcome as Yoga does: data, resolver errors, refused scopes, bad input, masked errors', async () => {
    const { token } = await server.userWithRole('USER');
    const requests: [string, Record<string, unknown>?][] = [
      ['{ __typename me { id username role } }'],
      ['query Named { me { username } } query Other { __typename }', undefined],
      ['{ job(id: "999999") { id } }'],
      ['{ users(first: 1) { edges { node { id } } } }'],
      ['mutation($input: PiJobInput!) { submitPiJob(input: $input) { status } }', { input: { samples: -5 } }],
      ['query($id: ID!) { job(id: $id) { id } }', { id: 'not-a-number' }],
    ];
    for (const [query, variables] of requests) {
      for (const as of [token, undefined]) {
        // Twice each: the first ask validates the document, the second finds it known.
        for (let ask = 0; ask < 2; ask++) {
          const fast = await post(query, { variables, token: as, accept: '*/*' });
          const throughYoga = await post(query, { variables, token: as, accept: 'application/json, text/plain' });
          expect({ query, ...fast, headers: undefined }).toEqual({ query, ...throughYoga, headers: undefined });
        }
      }
    }
  });

  test('leaves CORS requests, other answer types and unknown body keys to Yoga', async () => {
    const cors = await post('{ __typename }', { origin: 'http://example.test' });
    expect(cors.status).toBe(200);
    expect(cors.headers.get('access-control-allow-origin')).toBe('http://example.test');
    // A "simple" content type that only mentions JSON needs the CSRF header (with a cookie), as it does through Yoga.
    for (const contentType of ['text/plain;application/json', 'text/plain; charset=application/json']) {
      const simple = await fetch(server.url, { method: 'POST', headers: { 'content-type': contentType, cookie: 'a=b' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(simple.status).toBe(403);
      expect(((await simple.json()) as any).errors[0].extensions.code).toBe('FORBIDDEN');
    }
    const extra = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }', foo: 1 }) });
    expect(extra.status).toBe(400);
  });

  test('a cost that depends on the variables is checked for each request’s variables', async () => {
    const admin = await server.adminToken();
    const query = 'query($n: Int) { users(first: $n) { edges { node { id username role } } } }';
    const small = await server.gql(query, { n: 1 }, admin);
    expect(small.errors).toBeUndefined();
    const large = await server.gql(query, { n: 100 }, admin);
    expect(large.data).toBeUndefined();
    expect(large.errors?.[0]?.extensions?.limit).toBe('complexity');
    expect((await server.gql(query, { n: 1 }, admin)).errors).toBeUndefined();
  });

  test('a document over a limit is refused on every ask', async () => {
    const aliased = `{ me { id } ${Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    for (let ask = 0; ask < 3; ask++) {
      const result = await server.gql(aliased);
      expect(result.data).toBeUndefined();
      expect(result.errors?.[0]?.extensions?.limit).toBe('aliases');
    }
  });

  test('a token stops working on the next request after logout, however often its documents were seen', async () => {
    const { token } = await server.userWithRole('USER');
    for (let ask = 0; ask < 3; ask++) expect((await server.gql('{ me { id } }', undefined, token)).data?.me?.id).toBeString();
    expect((await server.gql('mutation { logout }', undefined, token)).data?.logout).toBe(true);
    const refused = await server.gql('{ me { id } }', undefined, token);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('me', () => {
  test('answers id, username and role from the session, and follows a change of role', async () => {
    const { id, token, username } = await server.userWithRole('USER');
    expect((await server.gql('{ me { id username role } }', undefined, token)).data?.me).toEqual({ id, username, role: 'USER' });
    const admin = await server.adminToken();
    const updated = await server.gql('mutation($id: ID!) { updateUser(id: $id, input: { role: MANAGER }) { role } }', { id }, admin);
    expect(updated.data?.updateUser?.role).toBe('MANAGER');
    expect((await server.gql('{ me { role } }', undefined, token)).data?.me).toEqual({ role: 'MANAGER' });
  });

  test('reads the account for any other field, through fragments too', async () => {
    const { token, username } = await server.userWithRole('USER');
    const result = await server.gql('{ me { username loginCount ...F } } fragment F on User { createdAt lastLoginAt }', undefined, token);
    expect(result.data?.me?.username).toBe(username);
    expect(result.data?.me?.loginCount).toBe(1);
    expect(result.data?.me?.createdAt).toBeString();
    expect(result.data?.me?.lastLoginAt).toBeString();
    const fragmentOnly = await server.gql('{ me { ... on User { id username } } }', undefined, token);
    expect(fragmentOnly.data?.me?.username).toBe(username);
  });
  test('runs compiled (graphql-jit) and answers as the interpreter does: anonymous, the session, the account, fragments', async () => {
    const { token } = await server.userWithRole('USER');
    const selections = ['{ id username }', '{ __typename id username role }', '{ id loginCount createdAt lastLoginAt disabled }', '{ ...F } } fragment F on User { username role', '{ ... on User { id } }'];
    for (const selection of selections) {
      const plain = `{ me ${selection} }`;
      // A directive keeps a document interpreted (compiled.ts).
      const directed = `query($x: Boolean = true) { me @include(if: $x) ${selection} }`;
      expect(compiles(parse(plain), null)).toBe(true);
      expect(compiles(parse(directed), null)).toBe(false);
      // A document runs interpreted until its second use compiles it (COMPILE_AT_USE): the later asks run compiled.
      for (let use = 0; use <= COMPILE_AT_USE; use++) {
        for (const as of [token, undefined]) {
          const [compiled, interpreted] = [await server.gql(plain, undefined, as), await server.gql(directed, undefined, as)];
          expect(compiled.errors).toBeUndefined();
          expect(compiled.data).toEqual(interpreted.data);
          expect(compiled.data?.me === null).toBe(as === undefined);
        }
      }
    }
  });
});

describe('compiled analytics queries', () => {
  /** The same question asked with variables (compiled) and with literals (interpreted). */
  const both = async (field: string, args: Record<string, string | number>, selection: string, token?: string) => {
    const names = Object.keys(args);
    const types: Record<string, string> = { question: 'String!', state: 'String!', yearFrom: 'Int', yearTo: 'Int' };
    const compiled = await server.gql(
      `query(${names.map((name) => `$${name}: ${types[name]}`).join(', ')}) { analytics { ${field}(${names.map((name) => `${name}: $${name}`).join(', ')}) ${selection} } }`,
      args,
      token,
    );
    const interpreted = await server.gql(`{ analytics { ${field}(${names.map((name) => `${name}: ${JSON.stringify(args[name])}`).join(', ')}) ${selection} } }`, undefined, token);
    return { compiled, interpreted };
  };

  test('answer as the interpreter does: data, errors with their codes, paths and locations, refusals', async () => {
    const token = await server.adminToken();
    const question = (await server.gql('{ analytics { questions { text } } }', undefined, token)).data?.analytics.questions[0].text;
    const asks: [string, Record<string, string | number>, string][] = [
      ['meanByCategory', { question }, '{ state category segment value }'],
      ['statesMean', { question, yearFrom: 2011, yearTo: 2030 }, '{ state value rows }'],
      ['stateMean', { question, state: 'Nowhere' }, '{ state value }'],
      ['globalMean', { question: 'no such question' }, ''],
    ];
    for (const [field, args, selection] of asks) {
      // Each document past its compile (COMPILE_AT_USE uses, as two callers), and its first uses, interpreted, too.
      for (const as of [token, undefined, token, undefined]) {
        const { compiled, interpreted } = await both(field, args, selection, as);
        expect(compiled.status).toBe(interpreted.status);
        expect(compiled.data).toEqual(interpreted.data);
        const shape = (errors: any[] | undefined) => errors?.map(({ locations, ...rest }: any) => ({ ...rest, located: locations?.length === 1 }));
        expect(shape(compiled.errors)).toEqual(shape(interpreted.errors));
      }
    }
  });

  test('each operation of a document runs itself: one compiled never answers for another of the same text', async () => {
    const token = await server.adminToken();
    const question = (await server.gql('{ analytics { questions { text } } }', undefined, token)).data?.analytics.questions[0].text;
    const document = 'query Mean($q: String!) { analytics { globalMean(question: $q) } } query Who { me { username } }';
    const ask = async (operationName: string, variables: Record<string, unknown>) => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: document, variables, operationName }),
      });
      return { status: response.status, body: await response.json() };
    };
    const mean = (await server.gql('query($q: String!) { analytics { globalMean(question: $q) } }', { q: question }, token)).data?.analytics.globalMean;
    // Past both operations' compiles, in turns: each answer is its own operation's.
    for (let use = 0; use <= COMPILE_AT_USE + 1; use++) {
      expect(await ask('Mean', { q: question })).toEqual({ status: 200, body: { data: { analytics: { globalMean: mean } } } });
      expect(await ask('Who', {})).toEqual({ status: 200, body: { data: { me: { username: 'admin' } } } });
    }
  });
});
