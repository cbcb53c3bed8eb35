// Issue 11, class 2: no single request may stall the server. Every user-supplied string is length-checked before
// expensive work, and while a bad request is being answered a `{ __typename }` still answers promptly: within 100 ms,
// or, on a machine too busy for that, within STALL_FACTOR times what the same probe takes idle, measured just before
// (or LARGE_BODY_FACTOR times a large document's parse, if more); a slower probe is a stall only when the event loop
// used at least 100 ms of CPU meanwhile.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { largeParseMs } from './helpers/machine-speed';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from './helpers/server';

const LOW = 'Percent of adults aged 18 years and older who have obesity';
/** The bound for `{ __typename }` while a bad request runs, on an unloaded machine. */
const PROBE_BOUND_MS = 100;
/** A stall is a probe this many times slower than the idle probes of the same moment: a busy machine slows both. */
const STALL_FACTOR = 10;
/** Tries of a bad request before a slow probe counts as its stall. */
const TRIES = 4;
/**
 * Nor is it a stall within this many times what this process takes, right now, to parse a document of 10,000 fields
 * (~190 KB; test/fuzz.test.ts measures the machine the same way): a loaded machine makes reading and parsing a large
 * body several times slower however prompt an idle probe is (seen at load ~7 on 2 cores: all four tries of the 3 MB
 * question over 100 ms, in a pass that passed otherwise).
 */
// Six, where the fuzz test's is three: the 3 MB question is sixteen times the reference's bytes, and its probes took
// 137–273 ms beside a second suite on a slow day where three times the reference was 100–198 ms.
const LARGE_BODY_FACTOR = 6;

let server: TestServer;
let token: string;
beforeAll(async () => {
  // Bodies up to 4 MiB, so a 3 MB question reaches /api; an upstream nobody listens on (paths are checked first).
  server = await startTestServer({ MAX_BODY_BYTES: String(4 * 1024 * 1024), RELAY_UPSTREAM: 'http://127.0.0.1:9/' });
  token = (await server.userWithRole('USER')).token;
});
afterAll(() => server.stop());

/** CPU time (ms) this thread has used: the event loop's, which runs the in-process server too. */
const loopCpuMs = () => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

/** One `{ __typename }`: its time, and the CPU the event loop used meanwhile. */
type Probe = { ms: number; loopCpuMs: number };
const probe = async (): Promise<Probe> => {
  const cpuBefore = loopCpuMs();
  const started = performance.now();
  const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
  expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  return { ms: performance.now() - started, loopCpuMs: loopCpuMs() - cpuBefore };
};

type Try = { response: Response; body: any; slowestProbeMs: number; boundMs: number; stall?: Probe };
/**
 * A probe stalled when it passed the bound and the event loop used at least PROBE_BOUND_MS of CPU while it waited: a
 * loop that used less cannot have held it that long with its own work (beside a second suite all four tries of the
 * 3 MB question had a probe of ~140 ms, bound 100 ms, while this thread waited for a core).
 */
const stallOf = (probes: Probe[], boundMs: number) => probes.find((p) => p.ms >= boundMs && p.loopCpuMs >= PROBE_BOUND_MS);
const expectNoStall = (tried: Try) =>
  expect(tried.stall, `a probe took ${tried.stall?.ms.toFixed(0)} ms (bound ${tried.boundMs.toFixed(0)} ms) while the loop used ${tried.stall?.loopCpuMs.toFixed(0)} ms of CPU`).toBeUndefined();

/**
 * Sends the bad request, then `{ __typename }` probes one after another until it is answered, five at least (the
 * server runs in this process, so a stalled event loop delays the probes' answers too; probing only while the body
 * uploads would miss work done once it has arrived). Answers the bad request's response, the slowest probe and the
 * first stalled one. A stall happens every time and a scheduling hiccup rarely several times in a row (a second suite
 * beside this one makes hiccups of 100 ms common), so a try with a stall is tried again, up to TRIES times, and the
 * best try counts.
 */
async function whileRunning(bad: () => Promise<Response>): Promise<Try> {
  let best: Try | undefined;
  for (let attempt = 0; attempt < TRIES && !(best && !best.stall); attempt++) {
    await probe(); // warm: the first request of a connection costs more than the rule is about
    const idle: number[] = [];
    for (let i = 0; i < 5; i++) idle.push((await probe()).ms);
    const boundMs = Math.max(PROBE_BOUND_MS, STALL_FACTOR * idle.sort((a, b) => a - b)[2]!, LARGE_BODY_FACTOR * largeParseMs());
    let answered = false;
    const pending = bad().finally(() => (answered = true));
    const probes: Probe[] = [];
    while (probes.length < 5 || !answered) probes.push(await probe());
    const response = await pending;
    const tried: Try = { response, body: await response.json(), slowestProbeMs: Math.max(...probes.map((p) => p.ms)), boundMs, stall: stallOf(probes, boundMs) };
    if (!best || (best.stall && (!tried.stall || tried.slowestProbeMs / tried.boundMs < best.slowestProbeMs / best.boundMs))) best = tried;
  }
  return best!;
}

const post = (body: unknown, auth = token) =>
  fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify(body),
  });

describe('a bad request of each kind is answered at once, and the server keeps answering meanwhile', () => {
  test('a 1 MB question over GraphQL: BAD_USER_INPUT naming the limit (fields and submitAnalyticsJob alike)', async () => {
    const question = LOW + ' '.repeat(1_000_000);
    const probed = await whileRunning(() =>
      post({ query: 'query($q: String!) { analytics { statesMean(question: $q) { state } } }', variables: { q: question } }),
    );
    expect(probed.body.errors[0]).toMatchObject({ message: 'question is longer than 152 characters', extensions: { code: 'BAD_USER_INPUT', field: 'question', maxLength: 152 } });
    expectNoStall(probed);

    const submitted = await whileRunning(() =>
      post({ query: 'mutation($q: String!) { submitAnalyticsJob(input: { query: BEST5, question: $q }) { id } }', variables: { q: question } }),
    );
    expect(submitted.body.errors[0]).toMatchObject({ message: 'question is longer than 152 characters', extensions: { code: 'BAD_USER_INPUT' } });
    expectNoStall(submitted);
  });

  test('a 3 MB question through /api: the source’s error shape naming the limit', async () => {
    const probed = await whileRunning(() =>
      fetch(server.url.replace('/graphql', '/api/states_mean'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ question: 'x'.repeat(3_000_000) }),
      }),
    );
    expect(probed.response.status).toBe(400);
    expect(probed.body).toEqual({ status: 'error', reason: 'question is longer than 152 characters' });
    expectNoStall(probed);
  });

  test('a 100,000-term chain in evaluate: the right value, and the probes still answer', async () => {
    const chain = Array(100_000).fill('1').join('+');
    const probed = await whileRunning(() =>
      post({ query: 'query($e: [String!]!) { evaluate(expressions: $e) { value error } }', variables: { e: [chain, '2 * 21'] } }),
    );
    expect(probed.body).toEqual({ data: { evaluate: [{ value: 100_000, error: null }, { value: 42, error: null }] } });
    expectNoStall(probed);
  });

  test('a 1 MB password or username at login: refused before any hash is verified; the right password still works', async () => {
    const login = (username: string, password: string) =>
      post({ query: 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', variables: { u: username, p: password } }, '');
    const longPassword = await whileRunning(() => login('admin', 'p'.repeat(1_000_000)));
    expect(longPassword.body.errors[0]).toMatchObject({ message: 'password is longer than 256 characters', extensions: { code: 'BAD_USER_INPUT' } });
    expectNoStall(longPassword);
    const longName = await login('a'.repeat(1_000_000), 'whatever-password').then((response) => response.json());
    expect(longName.errors[0]).toMatchObject({ message: expect.stringContaining('username must be 3 to 64 characters'), extensions: { code: 'BAD_USER_INPUT' } });
    expect(await server.login('admin', ADMIN_PASSWORD)).toBeString();
  });
});

describe('every other user-supplied string has a cap', () => {
  test('questions and states: up to 64 characters past the longest known one still get a suggestion; longer are refused', async () => {
    const ask = (question: string, state: string) =>
      server.gql('query($q: String!, $s: String!) { analytics { stateMean(question: $q, state: $s) { value } } }', { q: question, s: state }, token);
    // The fixture's longest question has 88 characters, its longest state 10 ("California").
    const atLimit = await ask(LOW.padEnd(152, '!'), 'Alabama');
    expect(atLimit.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'question', suggestion: LOW } });
    expect((await ask('x'.repeat(153), 'Alabama')).errors?.[0]).toMatchObject({ message: 'question is longer than 152 characters', extensions: { maxLength: 152 } });
    expect((await ask(LOW, 'Alabma'.padEnd(74, '!'))).errors?.[0]).toMatchObject({ message: expect.stringContaining('did you mean "Alabama"?') });
    expect((await ask(LOW, 'x'.repeat(75))).errors?.[0]).toMatchObject({ message: 'state is longer than 74 characters', extensions: { code: 'BAD_USER_INPUT', field: 'state' } });
  });

  test('cursors, ids, queue names, relay paths and current passwords: BAD_USER_INPUT naming the limit', async () => {
    const admin = await server.adminToken();
    const manager = (await server.userWithRole('MANAGER')).token;
    const big = '9'.repeat(1_000_000);
    const cases: [string, Record<string, unknown>, string, string?][] = [
      ['query($v: String) { jobs(first: 2, after: $v) { edges { cursor } } }', { v: big }, 'after is longer than 256 characters'],
      ['query($v: String) { users(last: 2, before: $v) { edges { cursor } } }', { v: big }, 'before is longer than 256 characters', admin],
      ['query($v: ID!) { job(id: $v) { id } }', { v: big }, 'id is longer than 32 characters'],
      ['mutation($v: ID!) { deleteUser(id: $v) }', { v: big }, 'id is longer than 32 characters', admin],
      ['query($v: String!) { queue(name: $v) { name } }', { v: big }, 'name is longer than 64 characters'],
      ['mutation($v: String!) { pullJob(queue: $v) { id } }', { v: big }, 'queue is longer than 64 characters', manager],
      ['mutation($v: String!) { submitPiJob(input: { simulations: 100, queue: $v }) { id } }', { v: big }, 'queue is longer than 64 characters'],
      ['query($v: String!) { relay(path: $v) { status } }', { v: big }, 'path is longer than 2,048 characters'],
      ['query($v: ID!) { restaurant(id: $v) { name } }', { v: big }, 'id is longer than 200 characters'],
      ['mutation($v: String!) { changePassword(currentPassword: $v, newPassword: "new-password-1") }', { v: big }, 'currentPassword is longer than 256 characters'],
    ];
    for (const [query, variables, message, auth] of cases) {
      const result = await server.gql(query, variables, auth ?? token);
      expect([query, result.errors?.[0]?.message, result.errors?.[0]?.extensions?.code]).toEqual([query, message, 'BAD_USER_INPUT']);
    }
  });
});
