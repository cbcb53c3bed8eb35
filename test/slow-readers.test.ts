// A subscriber that stops reading (a paused SSE client) must not take the process down: past MAX_UNREAD_EVENTS its
// stream ends with UNAVAILABLE, every other stream goes on (issue 11 review: the Repeater underneath used to throw
// inside the event listener at 1,024 pending events, which ended the process).
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { MAX_UNREAD_EVENTS } from '../src/events';
import { startTestServer, type TestServer } from './helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const loginEvent = (n: number) => ({ username: `u${n}`, success: false, reason: 'unknown user', clientAddress: null, at: new Date() });

test('a reader that stops pulling is ended past the bound; a reader that keeps up gets everything; the server lives', async () => {
  const { events } = server.running.app;
  const stalled = events.subscribe('loginEvents');
  const keepingUp = events.subscribe('loginEvents');
  // Both start listening on their first pull.
  const stalledFirst = stalled.next();
  const received: string[] = [];
  const reading = (async () => {
    for await (const event of keepingUp) {
      received.push(event.username);
      if (received.length === 2 * MAX_UNREAD_EVENTS + 100) return;
    }
  })();
  for (let n = 0; n < 2 * MAX_UNREAD_EVENTS + 100; n++) {
    events.publish('loginEvents', loginEvent(n));
    if (n % 64 === 0) await Bun.sleep(0);
  }
  await reading;
  expect(received.length).toBe(2 * MAX_UNREAD_EVENTS + 100);
  expect((await stalledFirst).value.username).toBe('u0');
  // What was still unread is delivered, then the stream ends with a coded error.
  let delivered = 1;
  let failure: any;
  try {
    for (;;) {
      const { done } = await stalled.next();
      if (done) break;
      delivered++;
    }
  } catch (error) {
    failure = error;
  }
  expect(failure?.code).toBe('UNAVAILABLE');
  expect(failure?.message).toContain(`more than ${MAX_UNREAD_EVENTS} events behind`);
  expect(delivered).toBeLessThanOrEqual(MAX_UNREAD_EVENTS + 1);
  expect((await server.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
});
