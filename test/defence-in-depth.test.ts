// Issue 20 item 9: answers say what they are (nosniff, the relay's included), an unsupported media type is a coded 415,
// and each malformed request is told its own problem ("variables must be a JSON object" only when it is that).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';
import { startUpstream } from './helpers/upstream';

type ErrorBody = { errors: { message: string; extensions: { code: string } }[] };

describe('defence in depth on the HTTP answers', () => {
  const upstream = startUpstream();
  let server: TestServer;
  let origin: string;
  beforeAll(async () => {
    upstream.routes.set('restaurants', () => upstream.json([{ name: '<script>alert(1)</script>' }], { 'cache-control': 'max-age=60' }));
    server = await startTestServer({ RELAY_UPSTREAM: upstream.base, ANONYMOUS_ACCESS: 'relay' });
    origin = server.url.replace('/graphql', '');
  });
  afterAll(async () => {
    await server.stop();
    upstream.server.stop(true);
  });

  test('relay answers, and every other answer, carry X-Content-Type-Options: nosniff', async () => {
    const relayed = await fetch(`${origin}/relay/restaurants`);
    expect(relayed.status).toBe(200);
    expect(relayed.headers.get('content-type')).toStartWith('application/json');
    expect(relayed.headers.get('x-content-type-options')).toBe('nosniff');
    const refused = await fetch(`${origin}/relay/restaurants`, { method: 'POST' });
    expect(refused.status).toBe(405);
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
    for (const response of [await fetch(`${origin}/health`), await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  test('an unsupported media type is a 415 with a coded JSON body that says what to send', async () => {
    for (const contentType of ['application/xml', 'text/plain']) {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': contentType, 'graphql-preflight': '1' }, body: '{"query":"{ __typename }"}' });
      expect(response.status).toBe(415);
      expect(response.headers.get('content-type')).toStartWith('application/json');
      const body = (await response.json()) as ErrorBody;
      expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
      expect(body.errors[0]!.message).toContain(`Content-Type: ${contentType}`);
      expect(body.errors[0]!.message).toContain('application/json');
    }
  });

  test('each malformed request is told its own problem', async () => {
    const post = (contentType: string, body: string | FormData) =>
      fetch(server.url, { method: 'POST', headers: { ...(contentType ? { 'content-type': contentType } : {}), 'graphql-preflight': '1' }, body });
    const get = (query: string) => fetch(`${server.url}?${query}`, { headers: { 'graphql-preflight': '1' } });
    const multipart = (operations: string) => {
      const form = new FormData();
      form.set('operations', operations);
      form.set('map', '{}');
      return form;
    };
    const cases: [string, Response, string][] = [
      ['a body that is not JSON', await post('application/json', '{"query": '), 'POST body sent invalid JSON.'],
      ['a JSON string', await post('application/json', '"{ __typename }"'), 'the request must be a JSON object'],
      ['no query', await post('application/json', '{"variables": 5}'), '"query" must be a string'],
      ['variables a number', await post('application/json', '{"query": "{ __typename }", "variables": 5}'), '"variables" must be a JSON object'],
      ['variables an array (multipart)', await post('', multipart('{"query": "{ __typename }", "variables": []}')), '"variables" must be a JSON object'],
      ['extensions a number', await post('application/json', '{"query": "{ __typename }", "extensions": 5}'), '"extensions" must be a JSON object'],
      ['operationName a number', await post('application/json', '{"query": "{ __typename }", "operationName": 5}'), '"operationName" must be a string'],
      ['a form value that is not JSON', await post('application/x-www-form-urlencoded', 'query=%7B__typename%7D&variables=%7Bx'), 'a value of the request is not valid JSON'],
      ['GET variables not JSON', await get('query=%7B__typename%7D&variables=%7Bx'), '"variables" in the query string must be JSON'],
      ['GET variables a string', await get('query=%7B__typename%7D&variables=%22s%22'), '"variables" must be a JSON object'],
    ];
    for (const [what, response, message] of cases) {
      const body = (await response.json()) as ErrorBody;
      expect([what, response.status, body.errors[0]!.extensions.code]).toEqual([what, 400, 'BAD_USER_INPUT']);
      expect(`${what}: ${body.errors[0]!.message}`).toContain(`${what}: ${message}`);
      // Only the variables' own problem speaks of them.
      if (!message.includes('variables')) expect(body.errors[0]!.message).not.toContain('"variables" must');
    }
  });
});
