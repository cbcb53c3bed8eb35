// Subscriptions executed once per event for every WebSocket subscriber who asks the same thing and sees the same
// things (src/http/fan-out.ts, issue 13): each still gets its own frames, with its own id, and only what it may see.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, subscribe, type TestServer, until } from './helpers/server';

let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
});
afterAll(() => server.stop());

/** A graphql-transport-ws socket read as raw text frames, so a test sees exactly what the server sends. */
async function rawSocket(token: string) {
  const frames: string[] = [];
  let closeCode: number | undefined;
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  socket.onmessage = (event) => frames.push(String(event.data));
  socket.onclose = (event) => (closeCode = event.code);
  await new Promise((resolve) => (socket.onopen = resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await until(() => frames.includes('{"type":"connection_ack"}'), 'connection_ack');
  const parsed = () => frames.map((frame) => JSON.parse(frame));
  return {
    frames,
    get closeCode() {
      return closeCode;
    },
    subscribe: (id: string, query: string, variables?: Record<string, unknown>) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
    complete: (id: string) => socket.send(JSON.stringify({ id, type: 'complete' })),
    /** The raw `next` frames of operation `id`. */
    nextsOf: (id: string) => frames.filter((frame) => JSON.parse(frame).id === id && JSON.parse(frame).type === 'next'),
    endOf: (id: string) => parsed().find((message) => message.id === id && (message.type === 'complete' || message.type === 'error')),
    close: () => socket.close(1000),
  };
}

const failedLogin = (username: string) => server.gql('mutation($u: String!) { login(username: $u, password: "not-the-password") { token } }', { u: username });
const fanOutStats = () => server.running.fanOut.stats();

describe('one execution per event, a frame per subscriber', () => {
  test('every subscription on a socket gets its own id spliced into the same payload; one leaving leaves the others', async () => {
    const before = fanOutStats();
    const socket = await rawSocket(admin);
    const ids = ['1', 'second', 'with "quotes" and \\ in it'];
    const listening = server.nextSubscriptions('loginEvents', ids.length);
    for (const id of ids) socket.subscribe(id, 'subscription { loginEvents { username success reason } }');
    await listening;
    // One group for the three of them.
    expect(fanOutStats()).toEqual({ groups: before.groups + 1, members: before.members + 3 });

    await failedLogin('frank');
    await until(() => ids.every((id) => socket.nextsOf(id).length === 1), 'a frame for each id');
    const frames = ids.map((id) => socket.nextsOf(id)[0]!);
    for (const [index, id] of ids.entries()) expect(JSON.parse(frames[index]!)).toEqual({ id, type: 'next', payload: { data: { loginEvents: { username: 'frank', success: false, reason: 'unknown user' } } } });
    // Byte for byte the same frame but for the id.
    const payloadOf = (frame: string) => frame.slice(frame.indexOf('"type"'));
    expect(new Set(frames.map(payloadOf)).size).toBe(1);

    socket.complete('second');
    await until(() => fanOutStats().members === before.members + 2, 'the member to leave');
    await failedLogin('grace');
    await until(() => socket.nextsOf('1').length === 2 && socket.nextsOf(ids[2]!).length === 2, 'the others to get the next event');
    expect(socket.nextsOf('second')).toHaveLength(1);
    expect(JSON.parse(socket.nextsOf('1')[1]!).payload.data.loginEvents.username).toBe('grace');
    socket.close();
    await until(() => fanOutStats().groups === before.groups, 'the group to end with its last member');
    expect(fanOutStats()).toEqual(before);
  });

  test('an error while executing an event is masked, the same for every member; the stream goes on', async () => {
    const before = fanOutStats();
    const sockets = [await rawSocket(admin), await rawSocket(admin)];
    const listening = server.nextSubscriptions('loginEvents', 2);
    for (const socket of sockets) socket.subscribe('events', 'subscription { loginEvents { username } }');
    await listening;
    const broken = {
      success: false,
      reason: null,
      clientAddress: null,
      at: new Date(),
      get username(): string {
        throw new Error('secret detail of a broken event');
      },
    };
    server.running.app.events.publish('loginEvents', broken);
    await failedLogin('heidi');
    await until(() => sockets.every((socket) => socket.nextsOf('events').length === 2), 'both events on both sockets');
    for (const socket of sockets) {
      const [failed, next] = socket.nextsOf('events').map((frame) => JSON.parse(frame).payload);
      expect(failed.data).toBeNull();
      expect(failed.errors).toHaveLength(1);
      expect(failed.errors[0]).toMatchObject({ message: 'Unexpected error.', path: ['loginEvents'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      expect(JSON.stringify(failed)).not.toContain('secret');
      expect(next.data.loginEvents.username).toBe('heidi');
    }
    for (const socket of sockets) socket.close();
    await until(() => fanOutStats().groups === before.groups, 'the group to end');
  });

  test('quoteStream: users of one role share a group, whoever they are; another role is another group', async () => {
    const before = fanOutStats();
    const users = [await server.userWithRole('USER'), await server.userWithRole('USER')];
    const sockets = [await rawSocket(users[0]!.token), await rawSocket(users[1]!.token), await rawSocket(admin)];
    for (const socket of sockets) socket.subscribe('q', 'subscription { quoteStream(intervalMs: 100) { index raw } }');
    await until(() => sockets.every((socket) => socket.nextsOf('q').length >= 2), 'two quotes on every socket');
    expect(fanOutStats()).toEqual({ groups: before.groups + 2, members: before.members + 3 });
    // The users' frames are the same quotes from their one execution.
    const [first, second] = [sockets[0]!.nextsOf('q'), sockets[1]!.nextsOf('q')];
    expect(first.filter((frame) => second.includes(frame)).length).toBeGreaterThanOrEqual(1);
    for (const socket of sockets) socket.close();
    await until(() => fanOutStats().groups === before.groups, 'the groups to end');
    expect(server.running.app.quotes.streamStats()).toMatchObject({ streams: 0, subscribers: 0 });
  });

  test('a refusal reads as before: not allowed, bad arguments, unknown job', async () => {
    const { token } = await server.userWithRole('USER');
    const socket = await rawSocket(token);
    socket.subscribe('a', 'subscription { loginEvents { username } }');
    socket.subscribe('b', 'subscription { quoteStream(intervalMs: 5) { index } }');
    socket.subscribe('c', 'subscription { jobUpdated(id: "99999") { id } }');
    await until(() => ['a', 'b', 'c'].every((id) => socket.endOf(id)), 'three refusals');
    const codes = ['a', 'b', 'c'].map((id) => JSON.parse(socket.nextsOf(id)[0]!).payload.errors[0].extensions.code);
    expect(codes).toEqual(['FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND']);
    socket.close();
  });

  test('a token revoked closes its socket (4403); the group serves the rest', async () => {
    const before = fanOutStats();
    const other = await server.userWithRole('ADMIN');
    const revoked = await rawSocket(other.token);
    const staying = await rawSocket(admin);
    const listening = server.nextSubscriptions('loginEvents', 2);
    revoked.subscribe('1', 'subscription { loginEvents { username } }');
    staying.subscribe('1', 'subscription { loginEvents { username } }');
    await listening;
    await server.gql('mutation { logout }', {}, other.token);
    await until(() => revoked.closeCode !== undefined, 'the revoked socket to close');
    expect(revoked.closeCode).toBe(4403);
    await failedLogin('ivan');
    await until(() => staying.nextsOf('1').some((frame) => frame.includes('"ivan"')), 'the other socket to go on');
    expect(revoked.nextsOf('1').some((frame) => frame.includes('"ivan"'))).toBe(false);
    staying.close();
    await until(() => fanOutStats().groups === before.groups, 'the group to end');
  });
});

describe('visibility per role', () => {
  async function createPausedQueue(name: string) {
    await server.gql('mutation($input: CreateQueueInput!) { createQueue(input: $input) { name } }', { input: { name } }, admin);
    await server.gql('mutation($name: String!) { pauseQueue(name: $name) { paused } }', { name }, admin);
  }
  const submit = async (token: string, queue: string) =>
    (await server.gql('mutation($q: String!) { submitPiJob(input: { simulations: 1000, queue: $q }) { id } }', { q: queue }, token)).data!.submitPiJob.id as string;
  const cancel = (id: string, token: string) => server.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id }, token);

  test('jobCompleted: many users on many sockets never get another user’s job; managers and admins get all', async () => {
    await createPausedQueue('fan-completed');
    const [alice, bob, manager] = [await server.userWithRole('USER'), await server.userWithRole('USER'), await server.userWithRole('MANAGER')];
    const query = 'subscription { jobCompleted(queue: "fan-completed") { id owner { username } } }';
    const before = fanOutStats();
    const listening = server.nextSubscriptions('jobCompleted', 9);
    const subs = {
      alice: [1, 2, 3].map(() => subscribe(server.wsClient(alice.token), query)),
      bob: [1, 2, 3].map(() => subscribe(server.wsClient(bob.token), query)),
      manager: [1, 2].map(() => subscribe(server.wsClient(manager.token), query)),
      admin: [subscribe(server.wsClient(admin), query)],
    };
    await listening;
    // Alice's, Bob's, the managers' and the admins': four executions per event, whatever the number of sockets.
    expect(fanOutStats()).toEqual({ groups: before.groups + 4, members: before.members + 9 });

    const aliceJobs = [await submit(alice.token, 'fan-completed'), await submit(alice.token, 'fan-completed')];
    const bobJobs = [await submit(bob.token, 'fan-completed'), await submit(bob.token, 'fan-completed')];
    for (const id of [aliceJobs[0]!, bobJobs[0]!, aliceJobs[1]!, bobJobs[1]!]) await cancel(id, admin);

    const idsOf = (sub: ReturnType<typeof subscribe<any>>) => sub.events.map((event) => event.data?.jobCompleted.id);
    for (const sub of [...subs.manager, ...subs.admin]) {
      await sub.waitFor(4);
      expect(idsOf(sub)).toEqual([aliceJobs[0], bobJobs[0], aliceJobs[1], bobJobs[1]]);
    }
    for (const sub of subs.alice) {
      await sub.waitFor(2);
      expect(sub.events.map((event) => event.data?.jobCompleted)).toEqual(aliceJobs.map((id) => ({ id, owner: { username: alice.username } })));
    }
    for (const sub of subs.bob) {
      await sub.waitFor(2);
      expect(sub.events.map((event) => event.data?.jobCompleted)).toEqual(bobJobs.map((id) => ({ id, owner: { username: bob.username } })));
    }
    // A job of Bob's finishing last: everyone who may see it has it, and Alice's streams still hold only hers.
    const last = await submit(bob.token, 'fan-completed');
    await cancel(last, bob.token);
    for (const sub of [...subs.bob, ...subs.manager, ...subs.admin]) await until(() => idsOf(sub).includes(last), 'the last job');
    for (const sub of subs.alice) expect(idsOf(sub)).toEqual(aliceJobs);

    for (const sub of Object.values(subs).flat()) sub.unsubscribe();
    await until(() => fanOutStats().groups === before.groups, 'the groups to end');
  });

  test('jobUpdated: the same document with other variables is another group; a late joiner gets the job as it is now', async () => {
    await createPausedQueue('fan-updated');
    const alice = await server.userWithRole('USER');
    const bob = await server.userWithRole('USER');
    const [first, second] = [await submit(alice.token, 'fan-updated'), await submit(alice.token, 'fan-updated')];
    const query = 'subscription($id: ID!) { jobUpdated(id: $id) { id status } }';
    const before = fanOutStats();
    const listening = server.nextSubscriptions('jobUpdated', 4);
    const onFirst = [subscribe(server.wsClient(alice.token), query, { id: first }), subscribe(server.wsClient(admin), query, { id: first })];
    const onSecond = [subscribe(server.wsClient(alice.token), query, { id: second }), subscribe(server.wsClient(alice.token), query, { id: second })];
    await listening;
    // Per job: alice's group and the admins' group.
    expect(fanOutStats()).toEqual({ groups: before.groups + 3, members: before.members + 4 });
    for (const sub of onFirst) expect((await sub.waitFor(1))[0]?.data?.jobUpdated).toEqual({ id: first, status: 'QUEUED' });
    for (const sub of onSecond) expect((await sub.waitFor(1))[0]?.data?.jobUpdated).toEqual({ id: second, status: 'QUEUED' });

    // Bob may not watch Alice's job, though her group for it is open.
    const refused = subscribe(server.wsClient(bob.token), query, { id: second });
    await refused.waitFor(1);
    expect(refused.events[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    await cancel(first, alice.token);
    for (const sub of onFirst) {
      await sub.waitFor(3);
      expect(sub.events.map((event) => event.data?.jobUpdated.status)).toEqual(['QUEUED', 'CANCELLED']);
      expect(sub.completed).toBe(true);
    }
    // The other job's subscribers heard nothing of it.
    expect(onSecond.map((sub) => sub.events.length)).toEqual([1, 1]);

    const joined = server.nextSubscriptions('jobUpdated');
    const late = subscribe(server.wsClient(alice.token), query, { id: second });
    await joined;
    expect((await late.waitFor(1))[0]?.data?.jobUpdated).toEqual({ id: second, status: 'QUEUED' });
    await cancel(second, alice.token);
    for (const sub of [...onSecond, late]) {
      await sub.waitFor(3);
      expect(sub.events.at(-1)?.data?.jobUpdated.status).toBe('CANCELLED');
      expect(sub.completed).toBe(true);
    }
    await until(() => fanOutStats().groups === before.groups, 'the groups to end with their streams');
  });
});

describe('a reader that falls behind', () => {
  /** A WebSocket client on a bare TCP socket, so the test can stop reading (the kernel's buffers fill, then Bun's). */
  async function pausableSocket(token: string) {
    const { connect } = await import('node:net');
    const { port } = new URL(server.url);
    const tcp = connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    tcp.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    await new Promise((resolve) => tcp.once('connect', resolve));
    tcp.write(
      `GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${btoa('0123456789abcdef')}\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    /** A client frame: text, final, masked (with a zero mask, which leaves the bytes as they are). */
    const send = (message: unknown) => {
      const body = Buffer.from(JSON.stringify(message));
      const header = body.length < 126 ? Buffer.from([0x81, 0x80 | body.length]) : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 0xff]);
      tcp.write(Buffer.concat([header, Buffer.alloc(4), body]));
    };
    const text = () => received.toString('latin1');
    send({ type: 'connection_init' });
    await until(() => text().includes('connection_ack'), 'connection_ack');
    return { send, text, pause: () => tcp.pause(), resume: () => tcp.resume(), destroy: () => tcp.destroy() };
  }

  test('is ended with UNAVAILABLE once too far behind; the members keeping up get every event', async () => {
    const slow = await pausableSocket(admin);
    const keepingUp = subscribe(server.wsClient(admin), 'subscription { loginEvents { username } }');
    const listening = server.nextSubscriptions('loginEvents', 2);
    slow.send({ id: 'slow', type: 'subscribe', payload: { query: 'subscription { loginEvents { username } }' } });
    await listening;
    const before = fanOutStats();
    slow.pause();
    // Large events, so the buffers fill after a few hundred: the kernel's first, then the 8 MiB bound on Bun's.
    const username = 'x'.repeat(64 * 1024);
    let published = 0;
    while (fanOutStats().members === before.members && published < 2000) {
      for (let n = 0; n < 20; n++, published++) server.running.app.events.publish('loginEvents', { username, success: false, reason: null, clientAddress: null, at: new Date() });
      await Bun.sleep(1);
    }
    expect(fanOutStats().members).toBe(before.members - 1);
    await keepingUp.waitFor(published, 10_000);
    expect(keepingUp.events).toHaveLength(published);
    slow.resume();
    await until(() => slow.text().includes('{"id":"slow","type":"error"'), 'the error frame', 10_000);
    const error = slow.text().slice(slow.text().indexOf('{"id":"slow","type":"error"'));
    expect(error).toContain('"code":"UNAVAILABLE"');
    expect(error).toContain(`fell more than 512 events behind`);
    slow.destroy();
    keepingUp.unsubscribe();
  });
});
