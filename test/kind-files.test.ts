// Kind files (JOB_KINDS_DIR, docs/kinds.md): a directory outside the project, its kinds loaded by real server
// processes (one process serves one set of kind files), used over HTTP, WebSocket and SSE, on the test database.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { type ServerProcess, spawnProcess, spawnServer } from './helpers/process';
import { createTestDatabase, readSseEvents, subscribe, TEST_DATABASE_URL, until } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const PASSWORD = 'kind-files-admin-password';

const EXAMPLES = join(import.meta.dir, '..', 'examples', 'kinds');

const KINDS: Record<string, string> = {
  // The example CPU kind, from a directory outside the project.
  'countPrimes.ts': readFileSync(join(EXAMPLES, 'countPrimes.ts'), 'utf8'),
  'wordCount.ts': `import { defineJobKind } from "jobgraph";
import { z } from "zod";
export default defineJobKind({
  name: "wordCount",
  description: "Counts the words of a text.",
  input: z.object({ text: z.string().max(1_000_000).describe("The text.") }),
  result: z.object({ words: z.number().int() }),
  run: async (input, ctx) => ({ words: input.text.split(/\\s+/).filter(Boolean).length }),
});`,
  // Every way a run can go wrong, and what its context holds.
  'probe.ts': `import { defineJobKind } from "jobgraph";
import { existsSync, writeFileSync } from "node:fs";
import { z } from "zod";
export default defineJobKind({
  name: "probe",
  description: "Does what it is told, to test the engine.",
  input: z.object({
    mode: z.enum(["OK", "THROW", "HANG", "EXIT", "BAD_RESULT", "WAIT_FOR_ABORT", "WAIT_FOR_FILE"]),
    n: z.number().int().min(1).max(100).default(1).describe("Any number 1..100."),
    file: z.string().optional(),
  }),
  result: z.object({ jobId: z.string(), attempt: z.number().int().max(100), parents: z.number().int().max(100), aborted: z.boolean().optional() }),
  run: async ({ mode, file }, ctx) => {
    const facts = { jobId: ctx.jobId, attempt: ctx.attempt, parents: Object.keys(ctx.parents).length };
    ctx.progress(0.5);
    switch (mode) {
      case "THROW": throw new Error("probe threw on purpose");
      case "HANG": for (;;) {}
      case "EXIT": process.exit(1);
      case "BAD_RESULT": return { ...facts, attempt: "first" } as never;
      case "WAIT_FOR_ABORT":
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        // Proof, for the test, that the signal fired in the worker.
        if (file) writeFileSync(file, String(ctx.signal.reason?.message ?? "aborted"));
        return { ...facts, aborted: true };
      case "WAIT_FOR_FILE":
        while (!existsSync(file!)) await Bun.sleep(10);
        return facts;
      default: return facts;
    }
  },
});`,
};

const JOB = 'id kind status error attempts result { __typename ... on WordCountResult { words } ... on ProbeResult { jobId attempt parents } }';

function kindsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-kinds-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function gql(url: string, query: string, variables?: Record<string, unknown>, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: any[] };
}

async function login(url: string): Promise<string> {
  const result = await gql(url, 'mutation { login(username: "admin", password: "' + PASSWORD + '") { token } }');
  return result.data.login.token;
}

/** Polls a job until it is final (the subscriptions are tested on their own). */
async function finished(url: string, token: string, id: string): Promise<any> {
  for (;;) {
    const { data } = await gql(url, `query($id: ID!) { job(id: $id) { ${JOB} } }`, { id }, token);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(data.job.status)) return data.job;
    await Bun.sleep(20);
  }
}

const submit = async (url: string, token: string, jobs: unknown[], options?: unknown) => {
  const result = await gql(url, `mutation($jobs: [JobSubmission!]!, $options: SubmitJobsOptions) { submitJobs(jobs: $jobs, options: $options) { ${JOB} } }`, { jobs, options }, token);
  return result;
};

describe('a kind file in JOB_KINDS_DIR', () => {
  let dir: string;
  let server: ServerProcess;
  let token: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;

  beforeAll(async () => {
    dir = kindsDir(KINDS);
    database = TEST_DATABASE_URL ? await createTestDatabase() : null;
    server = await spawnServer({
      JOB_KINDS_DIR: dir,
      ADMIN_PASSWORD: PASSWORD,
      WORKERS: '2',
      ...(database ? { DATABASE_URL: database.url } : { DATABASE_PATH: join(dir, 'jobgraph.db') }),
    });
    token = await login(server.url);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is a first-class kind: submitJobs (in bulk, beside a built-in), its typed result, jobs(kind:), jobKinds', async () => {
    const texts = ['one two three', '  four  ', '', 'a b c d e'];
    const { data, errors } = await submit(server.url, token, [...texts.map((text) => ({ wordCount: { text } })), { pi: { simulations: 1000 } }], { maxAttempts: 1 });
    expect(errors).toBeUndefined();
    expect(data.submitJobs.map((job: any) => job.kind)).toEqual(['WORD_COUNT', 'WORD_COUNT', 'WORD_COUNT', 'WORD_COUNT', 'PI']);
    const done = await Promise.all(data.submitJobs.map((job: any) => finished(server.url, token, job.id)));
    expect(done.slice(0, 4).map((job) => job.result)).toEqual([3, 1, 0, 5].map((words) => ({ __typename: 'WordCountResult', words })));
    expect(done[4].status).toBe('SUCCEEDED');

    const listed = await gql(server.url, '{ jobs(kind: WORD_COUNT) { totalCount } all: jobs { totalCount } }', {}, token);
    expect(listed.data.jobs.totalCount).toBe(4);
    expect(listed.data.all.totalCount).toBeGreaterThan(4);

    const kinds = await gql(server.url, '{ jobKinds { kind name description inputSchema } }', {}, token);
    const wordCount = kinds.data.jobKinds.find((kind: any) => kind.name === 'wordCount');
    expect(kinds.data.jobKinds.map((kind: any) => kind.kind)).toEqual(['COUNT_PRIMES', 'PROBE', 'WORD_COUNT']);
    expect(wordCount).toMatchObject({ kind: 'WORD_COUNT', description: 'Counts the words of a text.' });
    expect(wordCount.inputSchema.properties.text).toEqual({ type: 'string', maxLength: 1_000_000, description: 'The text.' });
  });

  test('its input schema checks a submission: BAD_USER_INPUT naming the field and the job', async () => {
    const { errors } = await submit(server.url, token, [{ probe: { mode: 'OK' } }, { probe: { mode: 'OK', n: 0 } }]);
    expect(errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(errors![0].message).toContain('jobs[1]');
    expect(errors![0].extensions.field).toBe('n');
  });

  test('run gets its context: jobId, attempt, parents (none outside a flow); progress reaches the job', async () => {
    const { data } = await submit(server.url, token, [{ probe: { mode: 'OK' } }]);
    const job = await finished(server.url, token, data.submitJobs[0].id);
    expect(job.result).toEqual({ __typename: 'ProbeResult', jobId: job.id, attempt: 1, parents: 0 });
  });

  test('a run that throws, hangs past its timeout, exits its worker or returns a bad result fails only its own attempt', async () => {
    const { data, errors } = await submit(
      server.url,
      token,
      [{ probe: { mode: 'THROW' } }, { probe: { mode: 'HANG', timeoutSeconds: 1 } }, { probe: { mode: 'EXIT' } }, { probe: { mode: 'BAD_RESULT' } }, { wordCount: { text: 'still fine' } }],
      { maxAttempts: 1 },
    );
    expect(errors).toBeUndefined();
    const [thrown, hung, exited, bad, fine] = await Promise.all(data.submitJobs.map((job: any) => finished(server.url, token, job.id)));
    expect(thrown).toMatchObject({ status: 'FAILED', error: 'probe threw on purpose' });
    expect(hung.status).toBe('FAILED');
    expect(hung.error).toContain('timed out');
    expect(exited.status).toBe('FAILED');
    expect(exited.error).toContain('crashed');
    expect(bad.status).toBe('FAILED');
    expect(bad.error).toContain('the result of probe does not match its result schema: attempt:');
    expect(fine).toMatchObject({ status: 'SUCCEEDED', result: { words: 2 } });
    // The process went on, and its pool still runs work.
    const again = await submit(server.url, token, [{ wordCount: { text: 'after all that' } }]);
    expect((await finished(server.url, token, again.data.submitJobs[0].id)).result).toEqual({ __typename: 'WordCountResult', words: 3 });
  }, 60_000);

  test('an attempt that times out aborts ctx.signal too', async () => {
    const proof = join(dir, `timed-out-${crypto.randomUUID()}`);
    const { data } = await submit(server.url, token, [{ probe: { mode: 'WAIT_FOR_ABORT', file: proof, timeoutSeconds: 1, maxAttempts: 1 } }]);
    const job = await finished(server.url, token, data.submitJobs[0].id);
    expect(job.status).toBe('FAILED');
    expect(job.error).toContain('timed out');
    while (!existsSync(proof)) await Bun.sleep(10);
  }, 60_000);

  test('a throw is retried as usual', async () => {
    const { data } = await submit(server.url, token, [{ probe: { mode: 'THROW', maxAttempts: 2 } }]);
    const job = await finished(server.url, token, data.submitJobs[0].id);
    expect(job).toMatchObject({ status: 'FAILED', attempts: 2 });
  }, 60_000);

  test('cancelJob aborts ctx.signal: the run stops and the job is CANCELLED', async () => {
    const proof = join(dir, `aborted-${crypto.randomUUID()}`);
    const { data } = await submit(server.url, token, [{ probe: { mode: 'WAIT_FOR_ABORT', file: proof } }]);
    const id = data.submitJobs[0].id;
    // Started in its worker (its progress comes from the run), not only claimed: a job cancelled between its claim
    // and its run never reaches a worker — correctly, but then no signal fires (beside a second suite, that window
    // was hit while this waited for RUNNING).
    for (;;) {
      const { data: now } = await gql(server.url, 'query($id: ID!) { job(id: $id) { progress } }', { id }, token);
      if (now.job.progress > 0) break;
      await Bun.sleep(10);
    }
    const cancelled = await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', { id }, token);
    expect(cancelled.data.cancelJob.status).toBe('CANCELLED');
    await until(() => existsSync(proof), 'the run never saw ctx.signal abort');
    const after = await submit(server.url, token, [{ wordCount: { text: 'x' } }]);
    expect((await finished(server.url, token, after.data.submitJobs[0].id)).status).toBe('SUCCEEDED');
  }, 60_000);

  test('the example CPU kind: its answer, its progress, and a cancel that its signal check honours', async () => {
    const small = await submit(server.url, token, [{ countPrimes: { n: 100_000 } }]);
    const counted = await gql(server.url, 'query($id: ID!) { job(id: $id) { status } }', { id: (await finished(server.url, token, small.data.submitJobs[0].id)).id }, token);
    expect(counted.data.job.status).toBe('SUCCEEDED');
    const answer = await gql(server.url, 'query($id: ID!) { job(id: $id) { result { ... on CountPrimesResult { n primes } } } }', { id: small.data.submitJobs[0].id }, token);
    expect(answer.data.job.result).toEqual({ n: 100_000, primes: 9592 });

    const big = await submit(server.url, token, [{ countPrimes: { n: 1_000_000_000 } }]);
    const id = big.data.submitJobs[0].id;
    for (;;) {
      const { data: now } = await gql(server.url, 'query($id: ID!) { job(id: $id) { progress } }', { id }, token);
      if (now.job.progress > 0) break;
      await Bun.sleep(20);
    }
    const cancelled = await gql(server.url, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', { id }, token);
    expect(cancelled.data.cancelJob.status).toBe('CANCELLED');
  }, 60_000);

  test('jobCompleted(kind:) over WebSocket and SSE delivers its jobs, typed, and only its kind', async () => {
    const gate = join(dir, `gate-${crypto.randomUUID()}`);
    const { data } = await submit(server.url, token, [{ probe: { mode: 'WAIT_FOR_FILE', file: gate } }, { wordCount: { text: 'not this kind' } }]);
    const probeId = data.submitJobs[0].id;
    const client = createClient({ url: server.url.replace(/^http/, 'ws'), retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    const controller = new AbortController();
    try {
      const ws = subscribe(client, `subscription { jobCompleted(kind: PROBE) { ${JOB} } }`);
      // Operations on one socket are served in order: once the later one answers, the first one listens.
      const marker = subscribe(client, 'subscription($id: ID!) { jobUpdated(id: $id) { id } }', { id: probeId });
      await marker.waitFor(1);
      const sse = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: `subscription { jobCompleted(kind: PROBE) { ${JOB} } }` }),
        signal: controller.signal,
      });
      expect(sse.headers.get('content-type')).toContain('text/event-stream');
      const reading = readSseEvents(sse, 1, 15_000);
      writeFileSync(gate, '');
      const [event] = await reading;
      expect(event.data.jobCompleted).toMatchObject({ id: probeId, kind: 'PROBE', status: 'SUCCEEDED', result: { __typename: 'ProbeResult', jobId: probeId } });
      const [received] = await ws.waitFor(1, 15_000);
      expect(received!.data.jobCompleted).toMatchObject({ id: probeId, kind: 'PROBE', result: { __typename: 'ProbeResult' } });
    } finally {
      controller.abort();
      await client.dispose();
    }
  }, 60_000);

  test('metrics label its jobs by kind', async () => {
    const text = await (await fetch(new URL('/metrics', server.url))).text();
    expect(text).toMatch(/jobs?_\w*\{[^}]*kind="WORD_COUNT"/);
  });
});

describe('a kind file that cannot be used stops the start: one line naming it, exit 2', () => {
  const cases: [string, string, RegExp][] = [
    ['bad name', `export default defineJobKind({ name: "Word-Count", description: "d", input: z.object({}), result: z.object({ a: z.string() }), run: () => ({ a: "" }) });`, /name "Word-Count" is not camelCase/],
    ['a clash with a built-in', `export default defineJobKind({ name: "pi", description: "d", input: z.object({}), result: z.object({ a: z.string() }), run: () => ({ a: "" }) });`, /kind "pi" \(PI\) clashes with a built-in kind/],
    ['a schema GraphQL cannot express', `export default defineJobKind({ name: "odd", description: "d", input: z.object({ v: z.union([z.string(), z.number()]) }), result: z.object({ a: z.string() }), run: () => ({ a: "" }) });`, /input\.v: a zod union has no GraphQL form/],
    ['a field named like a job option', `export default defineJobKind({ name: "odd", description: "d", input: z.object({ queue: z.string() }), result: z.object({ a: z.string() }), run: () => ({ a: "" }) });`, /field "queue" is one of the job options/],
    ['not a kind', `export default { name: "odd" };`, /its default export is not a defineJobKind/],
    ['a syntax error', `export default defineJobKind({`, /cannot be loaded/],
  ];
  for (const [what, body, message] of cases) {
    test(what, async () => {
      const dir = kindsDir({ 'good.ts': KINDS['wordCount.ts']!, 'the-file.ts': `import { defineJobKind } from "jobgraph";\nimport { z } from "zod";\n${body}` });
      try {
        const proc = spawnProcess({ JOB_KINDS_DIR: dir, ADMIN_PASSWORD: PASSWORD, DATABASE_PATH: join(dir, 'jobgraph.db'), WORKERS: '1' });
        expect(await proc.proc.exited).toBe(2);
        const lines = proc.stderr().trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain('the-file.ts');
        expect(lines[0]).toMatch(message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 20_000);
  }

  test('a JOB_KINDS_DIR that does not exist', async () => {
    const proc = spawnProcess({ JOB_KINDS_DIR: '/nonexistent/kinds', ADMIN_PASSWORD: PASSWORD, DATABASE_PATH: join(tempDir('jobgraph-'), 'j.db') });
    expect(await proc.proc.exited).toBe(2);
    expect(proc.stderr()).toContain('JOB_KINDS_DIR /nonexistent/kinds does not exist');
  }, 20_000);
});

describe.skipIf(!TEST_DATABASE_URL)('two instances on one PostgreSQL database load the same kind files', () => {
  test('a job submitted on one is run by either and read, typed, on the other', async () => {
    const dir = kindsDir(KINDS);
    const database = await createTestDatabase();
    const env = { JOB_KINDS_DIR: dir, ADMIN_PASSWORD: PASSWORD, WORKERS: '1', DATABASE_URL: database.url };
    // Started together (migrations and the first admin are taken in turn).
    const [a, b] = await Promise.all([spawnServer(env, 60_000), spawnServer(env, 60_000)]);
    try {
      const tokenA = await login(a.url);
      const tokenB = await login(b.url);
      const { data } = await submit(a.url, tokenA, Array.from({ length: 20 }, (_, i) => ({ wordCount: { text: 'w '.repeat(i + 1) } })));
      const done = await Promise.all(data.submitJobs.map((job: any) => finished(b.url, tokenB, job.id)));
      expect(done.map((job) => job.result.words)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await a.stop();
      await b.stop();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the built-in kinds and the examples', () => {
  test('every built-in kind is declared with defineJobKind, its name giving its JobKind value', async () => {
    const { isDefinedJobKind, kindConstantOf } = await import('../src/kinds/define');
    const { JOB_KINDS } = await import('../src/db/schema');
    const { piKind } = await import('../src/simulations/pi');
    const { forecastKind } = await import('../src/simulations/forecast');
    const { calcKind } = await import('../src/calculator/calc');
    const { diagnosticKind } = await import('../src/diagnostics/diagnostic');
    const { analyticsKindFor } = await import('../src/analytics/analytics');
    const kinds = [piKind, forecastKind, calcKind, analyticsKindFor({} as never), diagnosticKind];
    expect(kinds.every(isDefinedJobKind)).toBe(true);
    expect(kinds.map((kind) => kindConstantOf(kind.name))).toEqual([...JOB_KINDS]);
    expect(kinds.every((kind) => kind.description.length > 10)).toBe(true);
  });

  test('`print-schema --kinds examples/kinds` prints the schema with the examples; the checked-in file has none', async () => {
    const proc = Bun.spawn(['bun', 'scripts/print-schema.ts', '--kinds', 'examples/kinds'], { cwd: join(import.meta.dir, '..'), stdout: 'pipe', stderr: 'pipe' });
    const printed = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    for (const name of ['WordCountJobInput', 'WordCountResult', 'CountPrimesJobInput', 'SumParentsResult', 'COUNT_PRIMES', 'sumParents: SumParentsJobInput']) expect(printed).toContain(name);
    const file = await Bun.file(join(import.meta.dir, '..', 'schema', 'schema.graphql')).text();
    expect(file).not.toContain('WordCount');
  }, 20_000);
});
