import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCalcCli } from '../src/calculator/cli';
import { chunkLines, mergeOutputs } from '../src/calculator/calc';
import { evaluateExpression, evaluateToText, parse, splitLines, tokenize } from '../src/compute/calculator';
import { startTestServer, subscribe, type TestServer } from './helpers/server';

const value = (source: string) => {
  const result = evaluateExpression(source);
  if (result.error !== null) throw new Error(result.error);
  return result.value;
};
const error = (source: string) => evaluateExpression(source).error;

const operationsText = () => new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(require('node:fs').readFileSync(new URL('../data/operations.txt.gz', import.meta.url)))));

describe('the interpreter', () => {
  test('the reference values of the source file’s first lines', () => {
    expect(value('38 - 83 - 52 + 30 - 24 - 89 / 66 + 18 / 7 * 77')).toBe(105.65151515151518);
    const [, line2, line3] = splitLines(operationsText());
    expect(value(line2!)).toBe(-31234);
    expect(value(line3!)).toBe(3819);
  });

  test('precedence and associativity', () => {
    const table: [string, number][] = [
      ['1 + 2 * 3', 7],
      ['(1 + 2) * 3', 9],
      ['10 - 4 - 3', 3], // left: (10 - 4) - 3
      ['100 / 10 / 5', 2], // left
      ['2 * 3 / 4', 1.5],
      ['7 - 2 * 3 + 1', 2],
      ['2 ^ 3 ^ 2', 512], // right: 2 ^ 9
      ['(2 ^ 3) ^ 2', 64],
      ['-2 ^ 2', -4], // unary minus binds looser than ^
      ['(-2) ^ 2', 4],
      ['2 ^ -1', 0.5],
      ['2 * -3', -6],
      ['--3', 3],
      ['- (1 + 2) * 4', -12],
      ['7 % 4 * 2', 6], // % with * and /, left
      ['-7 % 3', -1], // sign of the dividend
      ['1.5e3 + .5', 1500.5],
      ['2E-2', 0.02],
      ['1 - -1', 2],
      ['0.1 + 0.2', 0.30000000000000004],
    ];
    for (const [source, expected] of table) expect([source, value(source)]).toEqual([source, expected]);
  });

  test('the tree has the shape of the grammar', () => {
    expect(parse('1 - 2 - 3')).toEqual({
      kind: '-',
      left: { kind: '-', left: { kind: 'number', value: 1 }, right: { kind: 'number', value: 2 } },
      right: { kind: 'number', value: 3 },
    });
    expect(parse('2 ^ 3 ^ 2')).toMatchObject({ kind: '^', left: { value: 2 }, right: { kind: '^' } });
    expect(tokenize('12.5*(x')).toEqual([
      { type: 'number', text: '12.5', column: 1 },
      { type: 'operator', text: '*', column: 5 },
      { type: '(', text: '(', column: 6 },
      { type: 'word', text: 'x', column: 7 },
      { type: 'end', text: '', column: 8 },
    ]);
  });

  test('every error names its position; nothing throws', () => {
    const table: [string, string][] = [
      ['import sys;sys.exit()', "unexpected token 'import' at column 1"],
      ['import time;time.sleep(3600)', "unexpected token 'import' at column 1"],
      ['1 / 0', 'division by zero at column 3'],
      ['5 % (2 - 2)', 'modulo by zero at column 3'],
      ['0 ^ -1', 'division by zero (0 to a negative power) at column 3'],
      ['(-8) ^ 0.5', 'result is not a real number at column 6'],
      ['1e308 * 10', 'overflow: result is too large at column 7'],
      ['1e999', "number too large '1e999' at column 1"],
      ['1 +', 'unexpected end of expression at column 4'],
      ['1 2', "unexpected token '2' at column 3"],
      ['(1 + 2', "unclosed '(' at column 1"],
      ['1 + 2)', "unmatched ')' at column 6"],
      ['()', "unexpected token ')' at column 2"],
      ['3 $ 4', "unexpected character '$' at column 3"],
      ['2 ** 3', "unexpected token '*' at column 4"],
      ['1.2.3', "malformed number '1.2.3' at column 1"],
      ['12abc', "malformed number '12abc' at column 1"],
      ['2e', "malformed number '2e' at column 1"],
      ['', 'empty expression'],
      ['   ', 'empty expression'],
      ['('.repeat(10_000) + '1' + ')'.repeat(10_000), 'expression is nested too deeply at column 257'],
      ['-'.repeat(10_000) + '1', 'expression is nested too deeply at column 257'],
    ];
    for (const [source, message] of table) expect([source.slice(0, 30), error(source)]).toEqual([source.slice(0, 30), message]);
  });

  test('property: agrees with an independent evaluator on 3,000 random expressions', () => {
    // A tiny reference: random trees printed fully parenthesised, so their value needs no grammar at all.
    let state = 12345;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    type Tree = number | [string, Tree, Tree] | ['neg', Tree];
    const grow = (depth: number): Tree => {
      if (depth === 0 || random() < 0.25) return Math.floor(random() * 100) + (random() < 0.2 ? 0.5 : 0);
      if (random() < 0.1) return ['neg', grow(depth - 1)];
      return ['+-*/'[Math.floor(random() * 4)]!, grow(depth - 1), grow(depth - 1)];
    };
    const compute = (tree: Tree): number => {
      if (typeof tree === 'number') return tree;
      if (tree[0] === 'neg') return -compute(tree[1]);
      const [op, l, r] = tree as [string, Tree, Tree];
      const a = compute(l), b = compute(r);
      if (op === '/' && b === 0) return NaN; // an error, wherever it happens
      const result = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
      return Number.isFinite(a) && Number.isFinite(b) ? result : NaN;
    };
    const print = (tree: Tree): string =>
      typeof tree === 'number' ? String(tree) : tree[0] === 'neg' ? `-(${print(tree[1])})` : `(${print(tree[1] as Tree)} ${tree[0]} ${print(tree[2] as Tree)})`;
    // The minimal form relies on precedence: drop parentheses the grammar makes redundant.
    const printMinimal = (tree: Tree, parent = 0, right = false): string => {
      if (typeof tree === 'number') return String(tree);
      if (tree[0] === 'neg') return `-${printMinimal(tree[1], 3)}`;
      const [op, l, r] = tree as [string, Tree, Tree];
      const level = op === '+' || op === '-' ? 1 : 2;
      const text = `${printMinimal(l, level)} ${op} ${printMinimal(r, level, true)}`;
      return level < parent || (level === parent && right) ? `(${text})` : text;
    };
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      const tree = grow(6);
      const expected = compute(tree);
      for (const source of [print(tree), printMinimal(tree)]) {
        const result = evaluateExpression(source);
        if (!Number.isFinite(expected)) expect(result.error).toMatch(/division by zero|not a real number|overflow/);
        else {
          expect([source, result.value]).toEqual([source, expected]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  test('a left-associative chain of 100,000 terms: evaluated without deep recursion, errors where they happen', () => {
    const ones = Array(100_000).fill('1');
    expect(value(ones.join(' + '))).toBe(100_000);
    expect(value(['100000', ...ones.slice(1)].join(' - '))).toBe(1); // ((100000 - 1) - 1) - …
    expect(value('1' + ' * 2 / 2'.repeat(50_000))).toBe(1);
    // An error deep in the chain names its own column; the first one from the left wins, as before.
    const broken = ones.map((one, i) => (i === 50_000 ? '1 / 0' : i === 70_000 ? '0 % 0' : one)).join(' + ');
    expect(error(broken)).toBe(`division by zero at column ${50_000 * 4 + 3}`);
    // The tree as objects is 99,999 levels deep down its left side.
    let depth = 0;
    for (let node = parse(ones.join('+')); node.kind === '+'; node = node.left) depth++;
    expect(depth).toBe(99_999);
  });

  test('one over-long or hopeless line is one cheap error', () => {
    const longest = '1+'.repeat(499_999) + '11'; // 1,000,000 characters: still evaluated
    expect(longest.length).toBe(1_000_000);
    expect(value(longest)).toBe(500_010);
    expect(error(longest + '1')).toBe('expression is longer than 1,000,000 characters');
    // Tokenizing stops at the first bad character (the parser never reads past it): one token, not a million.
    expect(tokenize('#'.repeat(999_999)).map((token) => token.type)).toEqual(['invalid', 'end']);
    expect(error('1 + # + ' + '#'.repeat(999_000))).toBe("unexpected character '#' at column 5");
  });

  test('the real file: 300,003 lines, the three trap lines are errors, the batch goes on', () => {
    const lines = splitLines(operationsText());
    expect(lines.length).toBe(300_003);
    // Chunked as a job is, then merged: same answer as one batch.
    const chunks = chunkLines(lines.join('\n') + '\n', 7);
    expect(chunks.length).toBe(7);
    const merged = mergeOutputs(chunks.map((chunk) => evaluateToText(splitLines(chunk))), lines.length);
    expect(merged).toEqual({ ...evaluateToText(lines), count: 300_003 });
    expect(merged.errors).toBe(3);
    const output = merged.output.split('\n');
    expect(output.length).toBe(300_004);
    expect(output[0]).toBe('105.65151515151518');
    expect(output.findIndex((line) => line.startsWith('error:'))).toBe(8999);
    expect(output[10000]).toBe("error: unexpected token 'import' at column 1");
    expect(output[298290]).toBe("error: unexpected token 'import' at column 1");
    expect(Number(output[9000])).toBe(value(lines[9000]!));
    // ~2 s of CPU evaluating 600,006 lines: beside a second suite at load 25 it took 20.7 s (a liveness bound, not speed).
  }, 120_000);
});

describe('the calculator through the API', () => {
  let server: TestServer;
  let token: string;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = (await server.userWithRole('USER')).token;
    dir = mkdtempSync(join(tmpdir(), 'jobgraph-calc-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('evaluate: values and per-expression errors, in order', async () => {
    const result = await server.gql(
      'query($e: [String!]!) { evaluate(expressions: $e) { line expression value error } }',
      { e: ['1 + 2 * 3', '1 / 0', 'import os', '2 ^ 10'] },
      token,
    );
    expect(result.data!.evaluate).toEqual([
      { line: 1, expression: '1 + 2 * 3', value: 7, error: null },
      { line: 2, expression: '1 / 0', value: null, error: 'division by zero at column 3' },
      { line: 3, expression: 'import os', value: null, error: "unexpected token 'import' at column 1" },
      { line: 4, expression: '2 ^ 10', value: 1024, error: null },
    ]);
    const tooMany = await server.gql('query($e: [String!]!) { evaluate(expressions: $e) { value } }', { e: Array(10_001).fill('1') }, token);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('submitCalcJob with a list: chunked over the pool, results in order, progress reported', async () => {
    const expressions = Array.from({ length: 20_000 }, (_, i) => (i === 777 ? '1 / (3 - 3)' : `${i} * 2 + 1`));
    const submitted = await server.gql('mutation($e: [String!]!) { submitCalcJob(input: { expressions: $e }) { id } }', { e: expressions }, token);
    expect(submitted.errors).toBeUndefined();
    const id = submitted.data!.submitCalcJob.id;
    const updates = subscribe(server.wsClient(token), 'subscription($id: ID!) { jobUpdated(id: $id) { status progress result { ... on CalcBatchResult { count errors results(offset: 776, limit: 3) { line expression value error } } } } }', { id });
    // Ends with the final state; a timeout fails the test.
    await updates.waitFor(100, 10_000);
    expect(updates.completed).toBe(true);
    const last = updates.events.at(-1)!.data!.jobUpdated;
    expect(last.status).toBe('SUCCEEDED');
    expect(last.result).toEqual({
      count: 20_000,
      errors: 1,
      results: [
        { line: 777, expression: '776 * 2 + 1', value: 1553, error: null },
        { line: 778, expression: '1 / (3 - 3)', value: null, error: 'division by zero at column 3' },
        { line: 779, expression: '778 * 2 + 1', value: 1557, error: null },
      ],
    });
  });

  test('a 100,000-term chain among other lines: evaluate answers all of them, a calc job succeeds with all of them', async () => {
    const chain = Array(100_000).fill('1').join(' + ');
    const evaluated = await server.gql('query($e: [String!]!) { evaluate(expressions: $e) { line value error } }', { e: ['1 + 2', chain, '6 * 7', '1 / 0'] }, token);
    expect(evaluated.errors).toBeUndefined();
    expect(evaluated.data!.evaluate).toEqual([
      { line: 1, value: 3, error: null },
      { line: 2, value: 100_000, error: null },
      { line: 3, value: 42, error: null },
      { line: 4, value: null, error: 'division by zero at column 3' },
    ]);

    const text = ['1 + 2', chain, '6 * 7', '1 / 0', '2 ^ 10'].join('\n');
    const submitted = await server.gql('mutation($text: String!) { submitCalcJob(input: { text: $text }) { id } }', { text }, token);
    expect(submitted.errors).toBeUndefined();
    const query = 'query($id: ID!) { job(id: $id) { status attempts error result { ... on CalcBatchResult { count errors output } } } }';
    let job: any;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await Bun.sleep(50)) {
      job = (await server.gql(query, { id: submitted.data!.submitCalcJob.id }, token)).data!.job;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) break;
    }
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 1, error: null });
    expect(job.result).toEqual({ count: 5, errors: 1, output: '3\n100000\n42\nerror: division by zero at column 3\n1024\n' });
  });

  test('bad batches are refused before they are stored', async () => {
    for (const [input, message] of [
      ['{ expressions: [] }', 'invalid field expressions: no expressions to evaluate'],
      ['{ expressions: ["1", "2\\n3"] }', 'invalid field expressions: item 2 contains a line break'],
      ['{ }', 'give exactly one of expressions, text or file'],
      ['{ expressions: ["1"], text: "2" }', 'give exactly one of expressions, text or file'],
    ] as const) {
      const result = await server.gql(`mutation { submitCalcJob(input: ${input}) { id } }`, {}, token);
      expect(result.errors?.[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
    }
  });

  test('`bun run calc`: the real 300,003-line file as a multipart upload, with a progress bar, to an output file', async () => {
    const input = join(dir, 'operations.txt');
    const out = join(dir, 'results.txt');
    const text = operationsText();
    await Bun.write(input, text);
    const bar: string[] = [];
    const fractions: number[] = [];
    // The job waits in a paused queue until the CLI listens, so the bar is watched from its start.
    const admin = await server.adminToken();
    expect((await server.gql('mutation { pauseQueue(name: "default") { paused } }', {}, admin)).errors).toBeUndefined();
    const listening = server.nextSubscriptions('jobUpdated');
    const running = runCalcCli({ file: input, out, url: server.url, token, progress: (line, _final, fraction) => (bar.push(line), fractions.push(fraction)) });
    await listening;
    expect((await server.gql('mutation { resumeQueue(name: "default") { paused } }', {}, admin)).errors).toBeUndefined();
    const summary = await running;
    expect(summary).toMatchObject({ count: 300_003, errors: 3 });
    expect(bar.at(-1)).toContain('100%');
    expect(bar.at(-1)).toContain('succeeded');
    // The bar moved: chunks finished and were published while the job ran, never backwards.
    expect(fractions.some((f) => f > 0 && f < 1)).toBe(true);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    const lines = (await Bun.file(out).text()).split('\n');
    expect(lines.length).toBe(300_004); // and a final newline
    expect(lines.slice(0, 3)).toEqual(['105.65151515151518', '-31234', '3819']);
    expect(lines[8999]).toBe("error: unexpected token 'import' at column 1");
    expect(lines[10000]).toBe("error: unexpected token 'import' at column 1");
    expect(lines[298290]).toBe("error: unexpected token 'import' at column 1");
    expect(lines.filter((line) => line.startsWith('error:')).length).toBe(3);

    // The same program as a child process, as a person runs it.
    const child = Bun.spawn(['bun', 'run', 'calc', input, '--out', join(dir, 'cli.txt'), '--url', server.url, '--token', token], { stderr: 'pipe', stdout: 'pipe' });
    expect(await child.exited).toBe(0);
    expect(await new Response(child.stderr).text()).toContain('300003 expressions, 3 errors');
    expect(await Bun.file(join(dir, 'cli.txt')).text()).toBe(await Bun.file(out).text());
  }, 60_000);

  test('the CLI says clearly what is wrong', async () => {
    const usage = async (...args: string[]) => {
      const child = Bun.spawn(['bun', 'src/calculator/cli.ts', ...args], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, JOBGRAPH_TOKEN: '' } });
      return { code: await child.exited, stderr: await new Response(child.stderr).text() };
    };
    await Bun.write(join(dir, 'one.txt'), '1+1\n');
    // Usage errors: exit code 2 and one line that says what is wrong, with the usage.
    for (const [args, message] of [
      [[], 'calc: no operations file given (usage: bun run calc <operations-file>'],
      [['a.txt', 'b.txt'], 'calc: one operations file, not 2 ('],
      [[join(dir, 'one.txt'), '--bogus', '--token', 't'], "calc: Unknown option '--bogus'"],
      [[join(dir, 'one.txt'), '--url', 'ftp://example.com', '--token', 't'], 'calc: --url must be an http(s) URL, got "ftp://example.com" ('],
      [[join(dir, 'one.txt')], 'calc: no token: pass --token, set JOBGRAPH_TOKEN, or give --username and --password ('],
    ] as const) {
      const { code, stderr } = await usage(...args);
      expect([args, code]).toEqual([args, 2]);
      expect(stderr.startsWith(message)).toBe(true);
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    }

    await expect(runCalcCli({ file: join(dir, 'missing.txt'), url: server.url, token })).rejects.toThrow('no such file');
    await expect(runCalcCli({ file: join(dir, 'one.txt'), url: server.url, token: 'not-a-token' })).rejects.toThrow('user info error');
  }, 60_000);
});

describe('`bun run calc` on a server with small chunks', () => {
  let server: TestServer;
  let token: string;
  let dir: string;
  beforeAll(async () => {
    // 64-character chunks and every progress update published: a small file makes many chunks, each one a step.
    server = await startTestServer({ CALC_CHUNK_CHARS: '64', JOB_PROGRESS_INTERVAL_MS: '0' });
    token = (await server.userWithRole('USER')).token;
    dir = mkdtempSync(join(tmpdir(), 'jobgraph-calc-chunks-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const expressions = Array.from({ length: 300 }, (_, i) => (i === 150 ? 'import os' : `${i} * 3 - 1`));
  const expected = expressions.map((e, i) => (i === 150 ? "error: unexpected token 'import' at column 1" : String(i * 3 - 1))).join('\n') + '\n';

  test('a calc job publishes its progress as each chunk finishes', async () => {
    const updates = server.running.app.events.subscribe('jobUpdated', 1)[Symbol.asyncIterator]();
    // A subscription listens from its first pull: pulled before the job exists, so none of its updates falls before
    // it (pulled after the submission's answer, a busy machine had run most chunks by then).
    const first = updates.next();
    const submitted = await server.gql('mutation($e: [String!]!) { submitCalcJob(input: { expressions: $e }) { id } }', { e: expressions }, token);
    expect(submitted.data!.submitCalcJob.id).toBe('1');
    const progress: number[] = [];
    for (let next = await first; ; next = await updates.next()) {
      progress.push(next.value.progress);
      if (next.value.status === 'SUCCEEDED') break;
    }
    await updates.return?.();
    // Dozens of 64-character chunks: a step each, in order, the outcome full (the last chunk's end is the outcome's
    // own update: no separate 100% update before it).
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress.filter((p) => p > 0 && p < 1)).size).toBeGreaterThanOrEqual(20);
    expect(progress.at(-1)).toBe(1);
  });

  test('the base URL and the /graphql URL both work', async () => {
    const input = join(dir, 'small.txt');
    await Bun.write(input, expressions.join('\n') + '\n');
    const base = server.url.replace(/\/graphql$/, '');
    for (const url of [base, `${base}/`, server.url]) {
      const out = join(dir, 'small-results.txt');
      const fractions: number[] = [];
      const summary = await runCalcCli({ file: input, out, url, token, progress: (_line, _final, fraction) => fractions.push(fraction) });
      expect(summary).toMatchObject({ count: 300, errors: 1 });
      expect(await Bun.file(out).text()).toBe(expected);
      expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
      expect(fractions.at(-1)).toBe(1);
    }
  });
});
