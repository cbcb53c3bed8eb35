import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './helpers/server';

/*
 * The calculator seed's client (shared/specs/calculator.md): a file of expressions in, one result line per expression
 * out, in order. test/calculator.test.ts runs the real 300,003-line file through `bun run calc --token … --out …`;
 * this runs it as someone with only a username and password would, the results on stdout.
 */
let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'jobgraph-seed-calc-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

// The source file's first three lines and its trap lines, then what the spec welcomes beyond the source grammar.
const LINES = [
  '38 - 83 - 52 + 30 - 24 - 89 / 66 + 18 / 7 * 77',
  'import sys;sys.exit()',
  'import time;time.sleep(3600)',
  '(1 + 2) * -3',
  '2 ^ 3 ^ 2',
  '7 % 4 + 1.5e1',
  '1 / (3 - 3)',
  '2 *',
];
const EXPECTED = [
  '105.65151515151518',
  "error: unexpected token 'import' at column 1",
  "error: unexpected token 'import' at column 1",
  '-9',
  '512',
  '18',
  'error: division by zero at column 3',
];

async function calc(...args: string[]) {
  const child = Bun.spawn(['bun', 'run', '--silent', 'calc', ...args], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, JOBGRAPH_TOKEN: '' } });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

describe('seed calculator: `bun run calc` as its client', () => {
  test('logs in with a username and password and prints one line per expression, in order, each error naming its column', async () => {
    const user = await server.userWithRole('USER');
    const file = join(dir, 'operations.txt');
    await Bun.write(file, `${LINES.join('\n')}\n`);
    const { code, stdout, stderr } = await calc(file, '--url', server.url, '--username', user.username, '--password', `${user.username}-password`);
    expect(code).toBe(0);
    // On a pipe, the bar's final line, then the summary.
    expect(stderr).toMatch(/^job \d+ \[#+\] 100% succeeded\n8 expressions, 4 errors, job \d+/);
    const lines = stdout.split('\n');
    expect(lines.slice(0, 7)).toEqual(EXPECTED);
    expect(lines[7]).toMatch(/^error: .*column \d+/);
    expect(lines).toHaveLength(9);
  });

  test('--format python writes numbers as the source did (3819.0, 1e+16, 1.5e-05); errors as they are', async () => {
    const user = await server.userWithRole('USER');
    const file = join(dir, 'python.txt');
    await Bun.write(file, '3819\n38 - 83 - 52 + 30 - 24 - 89 / 66 + 18 / 7 * 77\n10 ^ 16\n3 / 200000\n-2 * 3\n1 / 0\n');
    const { code, stdout } = await calc(file, '--format', 'python', '--url', server.url, '--token', user.token);
    expect(code).toBe(0);
    expect(stdout).toBe('3819.0\n105.65151515151518\n1e+16\n1.5e-05\n-6.0\nerror: division by zero at column 3\n');
    const refused = await calc(file, '--format', 'perl', '--url', server.url, '--token', user.token);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--format is js or python');
  });

  test('a read-only SECRETARY may not submit: the client exits 1 naming the roles that may', async () => {
    const secretary = await server.userWithRole('SECRETARY');
    const file = join(dir, 'one.txt');
    await Bun.write(file, '1 + 1\n');
    const { code, stderr } = await calc(file, '--url', server.url, '--token', secretary.token);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('calc: requires role USER, MANAGER or ADMIN');
  });
});
