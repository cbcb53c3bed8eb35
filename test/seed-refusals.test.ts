// Refusals that happen before a source service's route runs (a body over MAX_BODY_BYTES, over the rate) keep that
// source's own error shape, so its clients read them as they read every other refusal.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_BODY_BYTES: '2048', ANONYMOUS_ACCESS: 'analytics,simulations' });
});
afterAll(() => server.stop());

const post = (path: string, body: string) =>
  fetch(server.url.replace('/graphql', path), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const tooBig = JSON.stringify({ username: 'x', password: 'y', simulations: 1000, padding: 'p'.repeat(4096) });

test('a body over MAX_BODY_BYTES: /pi and /quote answer {"error"}, /api answers {"status":"error","reason"}', async () => {
  for (const path of ['/pi', '/quote']) {
    const response = await post(path, tooBig);
    expect(response.status).toBe(413);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toContain('exceeds the limit of 2048 bytes');
  }
  const api = await post('/api/states_mean', tooBig);
  expect(api.status).toBe(413);
  expect(await api.json()).toEqual({ status: 'error', reason: expect.stringContaining('exceeds the limit of 2048 bytes') });
  // GraphQL keeps GraphQL's shape.
  const graphql = await post('/graphql', tooBig);
  expect(graphql.status).toBe(413);
  expect(((await graphql.json()) as { errors: unknown[] }).errors).toHaveLength(1);
});

test('over the rate: /pi answers {"error"} with Retry-After, /api {"status":"error","reason"}', async () => {
  const limited = await startTestServer({ RATE_LIMIT_PER_SECOND: '1', ANONYMOUS_ACCESS: 'analytics,simulations' });
  try {
    const at = (path: string) => fetch(limited.url.replace('/graphql', path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    let pi: Response | undefined;
    for (let i = 0; i < 10 && pi?.status !== 429; i++) pi = await at('/pi');
    expect(pi!.status).toBe(429);
    expect(pi!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await pi!.json()).toEqual({ error: expect.stringContaining('too many requests') });
    const api = await at('/api/states_mean');
    expect(api.status).toBe(429);
    expect(await api.json()).toEqual({ status: 'error', reason: expect.stringContaining('too many requests') });
  } finally {
    await limited.stop();
  }
});
