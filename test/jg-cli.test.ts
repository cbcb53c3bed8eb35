// `bun run jg` (src/cli/jg.ts) as a person or script runs it: a real process against a real server, its own config
// folder (XDG_CONFIG_HOME). On PostgreSQL too (TEST_DATABASE_URL): `admin reset-password` then works beside the server.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_PASSWORD, onSqlite, startTestServer, type TestServer } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const ROOT = new URL('..', import.meta.url).pathname;

describe('jg, the command-line client', () => {
  let server: TestServer;
  let home: string;
  beforeAll(async () => {
    home = tempDir('jg-home-');
    server = await startTestServer(onSqlite ? { DATABASE_PATH: join(home, 'jobgraph.db') } : {});
  });
  afterAll(() => server?.stop());

  /** Runs jg to its end: stdout, stderr, exit code. */
  async function jg(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
    const env: Record<string, string | undefined> = { ...process.env, XDG_CONFIG_HOME: home, JOBGRAPH_URL: server.url, ...options.env };
    for (const name of ['JOBGRAPH_TOKEN', 'JOBGRAPH_PASSWORD', 'ADMIN_PASSWORD']) if (!options.env?.[name]) delete env[name];
    const proc = Bun.spawn(['bun', 'src/cli/jg.ts', ...args], { cwd: ROOT, env, stdin: options.stdin === undefined ? 'ignore' : new Blob([options.stdin]), stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, code };
  }

  test('--help on every command (0); a usage mistake is 2; a refusal is 1 with one line', async () => {
    const commands = ['', 'login', 'logout', 'submit', 'watch', 'jobs', 'queues', 'users', 'pull', 'complete', 'cancel', 'retry', 'delete', 'schedules', 'schedules list', 'schedules create', 'schedules pause', 'schedules resume', 'schedules delete', 'admin', 'admin reset-password'];
    const helps = await Promise.all(commands.map((command) => jg([...command.split(' ').filter(Boolean), '--help'])));
    for (const [i, help] of helps.entries()) expect({ command: commands[i], code: help.code, usage: help.stdout.startsWith('Usage: jg') }).toEqual({ command: commands[i], code: 0, usage: true });
    expect((await jg(['frobnicate'])).code).toBe(2);
    expect((await jg(['submit'])).code).toBe(2);
    expect((await jg(['submit', 'pi', '--input', '{nope'])).code).toBe(2);
    expect((await jg(['submit', 'pi', '--delay', 'soon'])).code).toBe(2);
    expect((await jg(['submit', 'pi', '--delay', '5s', '--run-at', '2030-01-01T00:00:00Z'])).code).toBe(2);
    // Neither ids nor a filter: nothing is acted on by accident.
    expect((await jg(['cancel'])).code).toBe(2);
    const refused = await jg(['users'], { env: { JOBGRAPH_TOKEN: 'not-a-token' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  test('login saves the token 0600 and never prints it; submit --wait draws progress; jobs, queues, users, cancel, retry', async () => {
    const login = await jg(['login', '--username', 'admin', '--password-stdin'], { stdin: `${ADMIN_PASSWORD}\n` });
    expect(login.code).toBe(0);
    const path = join(home, 'jobgraph', 'config.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const { token } = JSON.parse(await Bun.file(path).text());
    expect(token).toBeString();
    expect(login.stdout + login.stderr).not.toContain(token);

    const submitted = await jg(['submit', 'pi', '--input', '{"simulations": 2000000}', '--wait', '--json']);
    expect(submitted.code).toBe(0);
    const [job] = JSON.parse(submitted.stdout);
    expect(job.status).toBe('SUCCEEDED');
    expect(submitted.stderr).toContain('100% · 1/1 finished');

    const inputFile = join(home, 'calc.json');
    writeFileSync(inputFile, JSON.stringify({ expressions: ['1 + 1'] }));
    await server.gql('mutation { createQueue(input: { name: "cli-held" }) { name } pauseQueue(name: "cli-held") { name } }', {}, await server.adminToken());
    const held = await jg(['submit', 'calc', '--file', inputFile, '--queue', 'cli-held', '--count', '2', '--json']);
    expect(held.code).toBe(0);
    const heldIds = JSON.parse(held.stdout).map((j: any) => j.id);

    const listed = await jg(['jobs', '--queue', 'cli-held', '--json']);
    expect(JSON.parse(listed.stdout).map((j: any) => j.id).sort()).toEqual([...heldIds].sort());
    const table = await jg(['jobs', '--search', 'cli-held']);
    expect(table.stdout).toContain('QUEUED');
    expect(table.stdout).toMatch(/^ID\s+KIND\s+STATUS/);
    expect((await jg(['cancel', ...heldIds])).code).toBe(0);
    expect(JSON.parse((await jg(['jobs', '--queue', 'cli-held', '--status', 'cancelled', '--json'])).stdout)).toHaveLength(2);
    expect((await jg(['retry', heldIds[0]])).code).toBe(0);
    expect((await jg(['retry', heldIds[0]])).code).toBe(1);
    expect((await jg(['queues'])).stdout).toContain('cli-held');
    const users = await jg(['users', '--json']);
    expect(JSON.parse(users.stdout).map((u: any) => u.username)).toContain('admin');
    // A failed job under --wait exits 1.
    const failing = await jg(['submit', 'diagnostic', '--input', '{"behavior": "THROW"}', '--wait']);
    expect(failing.code).toBe(1);
    // --token overrides the saved login.
    expect((await jg(['users'], { env: { JOBGRAPH_TOKEN: 'wrong' } })).code).toBe(1);
    expect((await jg(['logout'])).code).toBe(0);
    expect((await jg(['users'])).code).toBe(1);
  }, 60_000);

  test('submit --delay/--run-at/--idempotency-key; cancel, retry and delete by filter; schedules create, list, pause, resume, delete', async () => {
    const env = { JOBGRAPH_TOKEN: await server.adminToken() };
    // Paused: a retried job (due at once) stays QUEUED.
    await server.gql('mutation { createQueue(input: { name: "cli-bulk" }) { name } pauseQueue(name: "cli-bulk") { name } }', {}, env.JOBGRAPH_TOKEN);
    // A delayed job waits with its runAt ahead; the same idempotency key gives the same job back.
    const delayed = await jg(['submit', 'pi', '--input', '{"simulations": 1000}', '--queue', 'cli-bulk', '--delay', '1h', '--idempotency-key', 'cli-once', '--json'], { env });
    expect(delayed).toMatchObject({ code: 0, stderr: '' });
    const [job] = JSON.parse(delayed.stdout);
    const again = JSON.parse((await jg(['submit', 'pi', '--input', '{"simulations": 1000}', '--queue', 'cli-bulk', '--delay', '1h', '--idempotency-key', 'cli-once', '--json'], { env })).stdout);
    expect(again[0].id).toBe(job.id);
    const { data: read } = await server.gql<{ job: { runAt: string; idempotencyKey: string; status: string } }>('query($id: ID!) { job(id: $id) { runAt idempotencyKey status } }', { id: job.id }, env.JOBGRAPH_TOKEN);
    expect(read!.job).toMatchObject({ idempotencyKey: 'cli-once', status: 'QUEUED' });
    expect(Date.parse(read!.job.runAt) - Date.now()).toBeGreaterThan(50 * 60_000);
    const runAt = await jg(['submit', 'pi', '--input', '{"simulations": 1000}', '--queue', 'cli-bulk', '--run-at', new Date(Date.now() + 30 * 86_400_000).toISOString(), '--count', '3', '--idempotency-key', 'cli-many', '--json'], { env });
    expect(runAt).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(runAt.stdout).map((j: any) => j.id)).toHaveLength(3);

    // By filter: one request; the count says how many it changed.
    const cancelled = await jg(['cancel', '--queue', 'cli-bulk', '--json'], { env });
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toEqual({ count: 4 });
    expect((await jg(['retry', '--queue', 'cli-bulk', '--kind', 'pi', '--status', 'failed'], { env })).stdout.trim()).toBe('0 jobs queued again');
    expect((await jg(['retry', '--queue', 'cli-bulk'], { env })).stdout.trim()).toBe('4 jobs queued again');
    expect((await jg(['cancel', '--queue', 'cli-bulk', job.id], { env })).stdout.trim()).toBe('1 job cancelled');
    expect((await jg(['delete', '--queue', 'cli-bulk', '--status', 'cancelled'], { env })).stdout.trim()).toBe('1 job deleted');
    expect((await jg(['cancel', '--status', 'nonsense', '--queue', 'cli-bulk'], { env })).code).toBe(1);
    const { data: left } = await server.gql<{ jobs: { totalCount: number } }>('{ jobs(queue: "cli-bulk") { totalCount } }', {}, env.JOBGRAPH_TOKEN);
    expect(left!.jobs.totalCount).toBe(3);

    // Schedules.
    const created = await jg(['schedules', 'create', 'cli-nightly', 'pi', '--cron', '0 2 * * *', '--tz', 'Europe/Paris', '--input', '{"simulations": 1000}', '--queue', 'cli-bulk', '--skip-overlap', '--json'], { env });
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'cli-nightly', timezone: 'Europe/Paris', queue: 'cli-bulk', overlap: 'SKIP', paused: false });
    const badCron = await jg(['schedules', 'create', 'cli-bad', 'pi', '--cron', 'every day', '--input', '{"simulations": 1000}'], { env });
    expect(badCron.code).toBe(1);
    expect(badCron.stderr).toContain('cron');
    expect((await jg(['schedules', 'pause', 'cli-nightly'], { env })).code).toBe(0);
    const table = await jg(['schedules'], { env });
    expect(table.stdout).toMatch(/^NAME\s+CRON\s+TIMEZONE/);
    expect(table.stdout).toMatch(/cli-nightly\s+0 2 \* \* \*\s+Europe\/Paris\s+cli-bulk\s+paused/);
    expect((await jg(['schedules', 'resume', 'cli-nightly'], { env })).code).toBe(0);
    const listed = JSON.parse((await jg(['schedules', '--json'], { env })).stdout);
    expect(listed.find((s: any) => s.name === 'cli-nightly')).toMatchObject({ paused: false, runs: { totalCount: 0 } });
    expect(listed.find((s: any) => s.name === 'cli-nightly').nextRunAt).toBeString();
    expect((await jg(['schedules', 'delete', 'cli-nightly'], { env })).code).toBe(0);
    expect((await jg(['schedules', 'delete', 'cli-nightly'], { env })).code).toBe(1);
  }, 60_000);

  test('admin reset-password works on the database when nobody can log in', async () => {
    const env: Record<string, string> = onSqlite ? { DATABASE_PATH: server.databasePath } : { DATABASE_URL: server.databaseUrl! };
    // SQLite: the file belongs to one process, so the server stops first (as the docs say).
    if (onSqlite) await server.stop();
    const reset = await jg(['admin', 'reset-password', 'admin', '--password-stdin'], { env, stdin: 'a-brand-new-password\n' });
    expect(reset).toMatchObject({ code: 0 });
    expect((await jg(['admin', 'reset-password', 'nobody-here'], { env })).code).toBe(1);
    if (onSqlite) server = await startTestServer({ DATABASE_PATH: server.databasePath });
    expect(await server.login('admin', 'a-brand-new-password')).toBeString();
    const generated = await jg(['admin', 'reset-password', 'admin'], { env: onSqlite ? { DATABASE_PATH: join(home, 'absent.db') } : env });
    if (!onSqlite) {
      const password = generated.stdout.match(/\(shown once\): (\S+)/)![1]!;
      expect(await server.login('admin', password)).toBeString();
    } else expect(generated.code).toBe(1);
  }, 60_000);
});
