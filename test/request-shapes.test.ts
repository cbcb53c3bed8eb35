// Issue 11: requests Yoga's own parsers read (multipart, GET) get the same checks as JSON bodies — a coded 400,
// never a masked INTERNAL_SERVER_ERROR, and nothing recursive sees a value nested past the limits.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const multipart = (operations: string, map = '{}') => {
  const form = new FormData();
  form.set('operations', operations);
  form.set('map', map);
  return fetch(server.url, { method: 'POST', body: form, headers: { 'graphql-preflight': '1' } });
};

test('multipart operations that are not a GraphQL request: 400 BAD_USER_INPUT', async () => {
  for (const [operations, map, message] of [
    ['null', '{}', 'the request must be a JSON object'],
    ['"x"', '{}', 'the request must be a JSON object'],
    ['{"query": 1}', '{}', '"query" must be a string'],
    ['not json', '{}', 'Multipart form field "operations" must be a valid JSON string'],
    ['{"query": "{ __typename }"}', 'not json', 'Multipart form field "map" must be a valid JSON string'],
  ] as const) {
    const response = await multipart(operations, map);
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toContain(message);
  }
});

test('multipart variables nested 100,000 deep are refused before the response cache or coercion touch them', async () => {
  const operations = `{"query":"query($v: JSON) { __typename }","variables":{"v":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
  const response = await multipart(operations);
  expect(response.status).toBe(400);
  expect(((await response.json()) as any).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'nesting' });
  expect((await server.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
});

test('a well-formed multipart request still works', async () => {
  const response = await multipart('{"query":"{ __typename }"}');
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
});

test('parse and validation errors carry the same code over WebSocket as over HTTP, in either order, and no HTTP-only fields', async () => {
  const socketErrors = async (query: string) => {
    const client = server.wsClient();
    const errors = await new Promise<any[]>((resolve) =>
      client.subscribe({ query }, { next: () => {}, error: (error) => resolve(error as any[]), complete: () => resolve([]) }),
    );
    await client.dispose();
    return errors;
  };
  // WebSocket first, then HTTP (Yoga caches the parse error between them)…
  const wsFirst = await socketErrors('{ broken');
  const httpSecond = await server.gql('{ broken');
  // …and HTTP first, then WebSocket.
  const httpFirst = await server.gql('{ other');
  const wsSecond = await socketErrors('{ other');
  for (const error of [wsFirst[0], httpSecond.errors![0], httpFirst.errors![0], wsSecond[0]]) {
    expect(error.extensions).toEqual({ code: 'GRAPHQL_PARSE_FAILED' });
  }
  const invalid = await socketErrors('{ noSuchField }');
  expect(invalid[0].extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
});

describe('uploads', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ MAX_BODY_BYTES: '65536', MAX_UPLOAD_BYTES: '1048576' });
  });
  afterAll(() => small.stop());

  const upload = (files: number, bytes: number, token?: string) => {
    const form = new FormData();
    const map: Record<string, string[]> = {};
    for (let i = 0; i < files; i++) map[i] = [i === 0 ? 'variables.f' : `variables.extra${i}`];
    form.set('operations', JSON.stringify({ query: 'mutation($f: File!) { submitCalcJob(input: { file: $f }) { id } }', variables: { f: null } }));
    form.set('map', JSON.stringify(map));
    for (let i = 0; i < files; i++) form.set(String(i), new File(['1+1\n'.repeat(Math.ceil(bytes / 4))], `f${i}.txt`));
    return fetch(small.url, { method: 'POST', body: form, headers: { 'graphql-preflight': '1', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  };

  test('uploads past MAX_BODY_BYTES are for signed-in callers only: anonymous ones get 413 before being buffered', async () => {
    const anonymous = await upload(1, 200_000);
    expect(anonymous.status).toBe(413);
    expect(((await anonymous.json()) as any).errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    const { token } = await small.userWithRole('USER');
    const signedIn = await upload(1, 200_000, token);
    expect(signedIn.status).toBe(200);
    expect(((await signedIn.json()) as any).data.submitCalcJob.id).toBeString();
  });

  test('a multipart map naming more than 16 files is refused before Yoga looks them up', async () => {
    const { token } = await small.userWithRole('USER');
    const response = await upload(17, 4, token);
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).errors[0]).toMatchObject({
      message: 'a request may upload at most 16 files',
      extensions: { code: 'BAD_USER_INPUT', limit: 'files' },
    });
  });
});

test('Yoga’s own request refusals carry the contract’s codes and a JSON body (406 included)', async () => {
  const invalidJson = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
  expect(invalidJson.status).toBe(400);
  expect(((await invalidJson.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  const put = await fetch(server.url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(put.status).toBe(405);
  expect(((await put.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  const xml = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/xml' }, body: '{"query":"{ __typename }"}' });
  expect(xml.status).toBe(406);
  expect(((await xml.json()) as any).errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  const noSuchOperation = await server.gql('query A { __typename } query B { __typename }');
  expect(noSuchOperation.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});
