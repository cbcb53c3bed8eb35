// Issue 11, class 6: an unexpected failure inside the server is masked JSON with the request id — never Bun's
// development error page (HTML with the working directory, file paths and source lines).
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startTestServer();
  token = await server.adminToken();
  // A fault no route expects, with a message that must not reach the client.
  (server.running.app.jobs as { statusesOfKind: unknown }).statusesOfKind = () => {
    throw new Error(`disk I/O error at ${process.cwd()}/data/jobgraph.db`);
  };
});
afterAll(() => server.stop());

test('a failure no route expected answers 500 as masked JSON carrying the request id', async () => {
  const response = await fetch(server.url.replace('/graphql', '/api/jobs'), {
    headers: { authorization: `Bearer ${token}`, 'x-request-id': 'trace-me-42' },
  });
  expect(response.status).toBe(500);
  expect(response.headers.get('content-type')).toContain('application/json');
  expect(response.headers.get('x-request-id')).toBe('trace-me-42');
  const text = await response.text();
  expect(text).not.toContain('<html');
  expect(text).not.toContain(process.cwd());
  expect(JSON.parse(text)).toEqual({
    errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'trace-me-42' } }],
  });
});
