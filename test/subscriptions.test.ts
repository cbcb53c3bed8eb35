import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readSseEvents, startTestServer, subscribe, type TestServer } from './helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const LOGIN_EVENTS = 'subscription { loginEvents { username success reason address at } }';

describe('loginEvents', () => {
  test('delivers successes and failures live over WebSocket', async () => {
    const admin = await server.adminToken();
    const listening = server.nextSubscriptions('loginEvents');
    const sub = subscribe(server.wsClient(admin), LOGIN_EVENTS);
    await listening; // the subscription listens before the events happen
    const before = Date.now();
    await server.gql('mutation { login(username: "ivan", password: "not-his-password") { token } }');
    await server.userWithRole('USER', 'judy');
    const events = await sub.waitFor(2);
    const logins = events.map((e) => e.data?.loginEvents);
    expect(logins[0]).toMatchObject({ username: 'ivan', success: false, reason: 'unknown user', address: '127.0.0.1' });
    expect(logins.find((e) => e.username === 'judy')).toMatchObject({ success: true, reason: null });
    expect(new Date(logins[0].at).getTime()).toBeGreaterThanOrEqual(before);
    sub.unsubscribe();
  });

  test('delivers over Server-Sent Events', async () => {
    const admin = await server.adminToken();
    const controller = new AbortController();
    const listening = server.nextSubscriptions('loginEvents');
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: LOGIN_EVENTS }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reading = readSseEvents(response, 1);
    await listening;
    await server.gql('mutation { login(username: "mallory", password: "guessing-here") { token } }');
    const [event] = await reading;
    expect(event.data.loginEvents).toMatchObject({ username: 'mallory', success: false });
    controller.abort();
  });

  test('SSE refuses non-admins with FORBIDDEN', async () => {
    const { token } = await server.userWithRole('MANAGER');
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: LOGIN_EVENTS }),
    });
    const [event] = await readSseEvents(response, 1);
    expect(event.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('tokens on WebSocket', () => {
  test('a revoked token cannot open a connection', async () => {
    const { token } = await server.userWithRole('ADMIN');
    await server.gql('mutation { logout }', {}, token);
    const closed = new Promise<number>((resolve) => {
      const client = server.wsClient(token, { on: { closed: (event) => resolve((event as CloseEvent).code) } });
      subscribe(client, LOGIN_EVENTS);
    });
    expect(await closed).toBe(4403);
  });

  test('a token revoked after connecting closes the socket (4403); nothing more is served on it', async () => {
    const { token } = await server.userWithRole('ADMIN');
    const client = server.wsClient(token);
    const listening = server.nextSubscriptions('loginEvents');
    const first = subscribe(client, 'subscription { loginEvents { username } }');
    await listening;
    await server.gql('mutation { logout }', {}, token);
    await first.waitFor(1);
    expect((first.error as CloseEvent).code).toBe(4403);
    // The client cannot reconnect with the revoked token either (retryAttempts: 0 in the helper: one try).
    const second = subscribe(client, 'subscription { loginEvents { username } }');
    await second.waitFor(1);
    expect((second.error as CloseEvent).code).toBe(4403);
    expect(second.events).toEqual([]);
  });

  test('the Authorization header of the upgrade request works too', async () => {
    const admin = await server.adminToken();
    const ws = new WebSocket(server.wsUrl, { protocols: ['graphql-transport-ws'], headers: { authorization: `Bearer ${admin}` } } as any);
    const messages: any[] = [];
    const listening = server.nextSubscriptions('loginEvents');
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
      ws.onerror = reject;
      ws.onmessage = (event) => {
        const message = JSON.parse(String(event.data));
        messages.push(message);
        if (message.type === 'connection_ack') {
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { loginEvents { username } }' } }));
          void listening.then(() => server.gql('mutation { login(username: "trent", password: "wrong-wrong") { token } }'), reject);
        }
        if (message.type === 'next') resolve();
      };
    });
    ws.close();
    expect(messages.find((m) => m.type === 'next').payload.data.loginEvents.username).toBe('trent');
  });

  test('a wrong subprotocol is refused before the upgrade', async () => {
    const response = await fetch(server.url, {
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', 'sec-websocket-protocol': 'graphql-ws' },
    });
    expect(response.status).toBe(400);
  });
});
