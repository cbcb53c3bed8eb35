// Every service checks its input with one zod schema (shared by GraphQL and REST): these are the refusals the
// older tests did not pin down, each with its message, its code and the field it names.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, subscribe, type TestServer } from './helpers/server';

const LOW = 'Percent of adults aged 18 years and older who have obesity';

let server: TestServer;
let admin: string;
let user: { token: string; username: string };
beforeAll(async () => {
  // Nothing listens on the upstream: every relay path below is refused before a request would be made.
  server = await startTestServer({ RELAY_UPSTREAM: 'http://127.0.0.1:9/api/' });
  admin = await server.adminToken();
  user = await server.userWithRole('USER');
});
afterAll(() => server.stop());

/** The first error of an operation that must fail; `token` null sends none. */
async function refusal(query: string, variables: Record<string, unknown> = {}, token: string | null = admin) {
  const result = await server.gql(query, variables, token ?? undefined);
  expect(result.data?.[Object.keys(result.data ?? {})[0] ?? ''] ?? null).toBeNull();
  return result.errors?.[0];
}

const badInput = (message: string, field: string, more: Record<string, unknown> = {}) => ({
  message,
  extensions: { code: 'BAD_USER_INPUT', field, ...more },
});

describe('queues', () => {
  test('a new queue: its name, concurrency and maxLength, each named', async () => {
    const nameRule = "queue name must be 1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";
    expect(await refusal('mutation { createQueue(input: { name: "Not Valid" }) { name } }')).toMatchObject(badInput(nameRule, 'name'));
    expect(await refusal('mutation { createQueue(input: { name: "ok", concurrency: 0 }) { name } }')).toMatchObject(
      badInput('concurrency must be an integer from 1 to 1024', 'concurrency'),
    );
    expect(await refusal('mutation { createQueue(input: { name: "ok", maxLength: 10000001 }) { name } }')).toMatchObject(
      badInput('maxLength must be an integer from 1 to 10,000,000', 'maxLength'),
    );
    // A name is trimmed before it is checked and kept.
    const created = await server.gql('mutation { createQueue(input: { name: "  trimmed  ", concurrency: 3 }) { name concurrency maxLength } }', {}, admin);
    expect(created.data?.createQueue).toEqual({ name: 'trimmed', concurrency: 3, maxLength: 1_000_000 });
  });

  test('an update checks the queue exists before its limits, and keeps what it does not change', async () => {
    expect(await refusal('mutation { updateQueue(name: "missing", input: { concurrency: 0 }) { name } }')).toMatchObject({
      message: 'no queue named "missing"',
      extensions: { code: 'NOT_FOUND' },
    });
    expect(await refusal('mutation { updateQueue(name: "default", input: { maxLength: 0 }) { name } }')).toMatchObject(
      badInput('maxLength must be an integer from 1 to 10,000,000', 'maxLength'),
    );
    await server.gql('mutation { createQueue(input: { name: "kept", concurrency: 5, maxLength: 50 }) { name } }', {}, admin);
    const updated = await server.gql('mutation { updateQueue(name: "kept", input: { maxLength: 60 }) { concurrency maxLength paused } }', {}, admin);
    expect(updated.data?.updateQueue).toEqual({ concurrency: 5, maxLength: 60, paused: false });
    const paused = await server.gql('mutation { pauseQueue(name: "kept") { concurrency maxLength paused } }', {}, admin);
    expect(paused.data?.pauseQueue).toEqual({ concurrency: 5, maxLength: 60, paused: true });
  });
});

describe('users', () => {
  test('createUser and updateUser: username and password rules, named', async () => {
    expect(await refusal('mutation { createUser(input: { username: "x", password: "long-enough", role: USER }) { id } }')).toMatchObject(
      badInput("username must be 3 to 64 characters: letters, digits, '.', '_', '-' or '@'", 'username'),
    );
    expect(await refusal('mutation { createUser(input: { username: "shorty", password: "short", role: USER }) { id } }')).toMatchObject(
      badInput('password must be 8 to 256 characters long', 'password'),
    );
    const { id } = await server.userWithRole('USER');
    expect(await refusal('mutation($id: ID!) { updateUser(id: $id, input: { password: "short" }) { id } }', { id })).toMatchObject(
      badInput('password must be 8 to 256 characters long', 'password'),
    );
  });

  test('a username is kept trimmed and in lowercase', async () => {
    const created = await server.gql('mutation { createUser(input: { username: "  Mixed.Case  ", password: "mixed-password", role: USER }) { username } }', {}, admin);
    expect(created.data?.createUser).toEqual({ username: 'mixed.case' });
    expect(await server.login(' MIXED.case ', 'mixed-password')).toBeString();
  });

  test('a login password longer than any account can have names the limit', async () => {
    expect(await refusal('mutation($p: String!) { login(username: "admin", password: $p) { token } }', { p: 'x'.repeat(257) }, null)).toMatchObject(
      badInput('password is longer than 256 characters', 'password', { maxLength: 256 }),
    );
  });

  test('changePassword refuses a new password that breaks the rule before it checks the current one', async () => {
    const wrongAndShort = 'mutation { changePassword(currentPassword: "not-the-password", newPassword: "short") }';
    expect(await refusal(wrongAndShort, {}, user.token)).toMatchObject(badInput('newPassword must be 8 to 256 characters long', 'newPassword'));
  });
});

describe('analytics years', () => {
  const globalMean = 'query($q: String!, $from: Int, $to: Int) { analytics { globalMean(question: $q, yearFrom: $from, yearTo: $to) } }';

  test('each bound is a year from 1900 to 2100, and the range runs forward', async () => {
    expect(await refusal(globalMean, { q: LOW, from: 1800 }, user.token)).toMatchObject(badInput('invalid field yearFrom: a year from 1900 to 2100', 'yearFrom'));
    expect(await refusal(globalMean, { q: LOW, to: 2101 }, user.token)).toMatchObject(badInput('invalid field yearTo: a year from 1900 to 2100', 'yearTo'));
    expect(await refusal(globalMean, { q: LOW, from: 2022, to: 2020 }, user.token)).toMatchObject(badInput('invalid year range: 2022 is after 2020', 'yearFrom'));
  });

  test('an analytics job takes the same rule', async () => {
    const submit = 'mutation($q: String!) { submitAnalyticsJob(input: { query: GLOBAL_MEAN, question: $q, yearTo: 1899 }) { id } }';
    expect(await refusal(submit, { q: LOW }, user.token)).toMatchObject(badInput('invalid field yearTo: a year from 1900 to 2100', 'yearTo'));
  });
});

describe('quotes', () => {
  test('concurrency and intervalMs, named', async () => {
    expect(await refusal('{ quotes(protocol: TCP, concurrency: 9) { concurrency } }', {}, user.token)).toMatchObject(badInput('invalid field concurrency', 'concurrency'));
    const stream = subscribe(server.wsClient(user.token), 'subscription { quoteStream(intervalMs: 60001) { raw } }');
    await stream.waitFor(1, 5000);
    expect(stream.events[0]?.errors?.[0]).toMatchObject(badInput('invalid field intervalMs: an integer from 100 to 60000', 'intervalMs'));
  });
});

describe('relay', () => {
  test('a path that would leave the upstream is refused before any request, naming the path', async () => {
    const relay = 'query($p: String!) { relay(path: $p) { status } }';
    expect(await refusal(relay, { p: 'http://elsewhere.example/' }, user.token)).toMatchObject(
      badInput('invalid path "http://elsewhere.example/": a scheme or host is not allowed; give a path under the upstream', 'path'),
    );
    expect(await refusal(relay, { p: 'a/%2e%2e/b' }, user.token)).toMatchObject(badInput('invalid path "a/%2e%2e/b": `.` and `..` segments are not allowed', 'path'));
    expect(await refusal(relay, { p: 'x'.repeat(2049) }, user.token)).toMatchObject(badInput('path is longer than 2,048 characters', 'path', { maxLength: 2048 }));
  });

  test('a restaurant id is neither empty nor long', async () => {
    const restaurant = 'query($id: ID!) { restaurant(id: $id) { name } }';
    expect(await refusal(restaurant, { id: '' }, user.token)).toMatchObject(badInput('invalid restaurant id', 'id'));
    expect(await refusal(restaurant, { id: '7'.repeat(201) }, user.token)).toMatchObject(badInput('id is longer than 200 characters', 'id', { maxLength: 200 }));
  });
});

describe('calculator', () => {
  test('evaluate takes at most 10,000 expressions', async () => {
    const expressions = Array.from({ length: 10_001 }, () => '1');
    expect(await refusal('query($e: [String!]!) { evaluate(expressions: $e) { value } }', { e: expressions }, user.token)).toMatchObject(
      badInput('evaluate takes at most 10000 expressions; submit a calc job for more', 'expressions'),
    );
  });

  test("a calc job's result pages from an offset of 0 or more, by a limit of 0 or more", async () => {
    const submitted = await server.gql('mutation { submitCalcJob(input: { text: "1 + 1\\n2 * 3\\n1 / 0" }) { id } }', {}, user.token);
    const id = submitted.data?.submitCalcJob.id as string;
    const results = (page: string) => `query($id: ID!) { job(id: $id) { status result { ... on CalcBatchResult { results${page} { line expression value error } } } } }`;
    const deadline = Date.now() + 10_000;
    let job = (await server.gql(results(''), { id }, user.token)).data?.job;
    while (job?.status !== 'SUCCEEDED' && Date.now() < deadline) {
      await Bun.sleep(25);
      job = (await server.gql(results(''), { id }, user.token)).data?.job;
    }
    expect(job?.status).toBe('SUCCEEDED');
    const page = await server.gql(results('(offset: 1, limit: 1)'), { id }, user.token);
    expect(page.data?.job.result.results).toEqual([{ line: 2, expression: '2 * 3', value: 6, error: null }]);
    const negativeOffset = await server.gql(results('(offset: -1)'), { id }, user.token);
    expect(negativeOffset.errors?.[0]).toMatchObject(badInput('offset must be 0 or more', 'offset'));
    const negativeLimit = await server.gql(results('(limit: -1)'), { id }, user.token);
    expect(negativeLimit.errors?.[0]).toMatchObject(badInput('limit must be 0 or more', 'limit'));
  });

  test('a calc job takes exactly one of expressions, text or file, named', async () => {
    expect(await refusal('mutation { submitCalcJob(input: { text: "1", expressions: ["2"] }) { id } }', {}, user.token)).toMatchObject(
      badInput('give exactly one of expressions, text or file', 'expressions'),
    );
  });
});

describe('diagnostic jobs', () => {
  test('count is checked after the caller is: anonymous is UNAUTHENTICATED, an admin hears the rule', async () => {
    const submit = 'mutation { submitDiagnosticJobs(input: { behavior: SUCCEED }, count: 0) { id } }';
    expect(await refusal(submit, {}, null)).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(await refusal(submit, {}, user.token)).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await refusal(submit)).toMatchObject(badInput('count must be an integer from 1 to 10000', 'count'));
    const three = await server.gql('mutation { submitDiagnosticJobs(input: { behavior: SUCCEED }, count: 3) { id } }', {}, admin);
    expect(three.data?.submitDiagnosticJobs).toHaveLength(3);
  });
});
