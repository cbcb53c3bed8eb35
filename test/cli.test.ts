// Every command-line entry point — the server (src/main.ts), calc, dishes and the quote server — has --help, exits 2
// with one line for a usage error or a bad setting, and never shows a stack trace for a failure it expects.
import { describe, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { ADMIN_PASSWORD, ANALYTICS_FIXTURE } from './helpers/server';
import { SERVER_COMMAND } from './helpers/server-bundle';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const ROOT = new URL('..', import.meta.url).pathname;

/** Runs a command to its end; stdout, stderr and the exit code. */
async function run(args: string[], env: Record<string, string> = {}) {
  const baseEnv = { ...process.env };
  for (const name of ['ADMIN_PASSWORD', 'ADMIN_USERNAME', 'PORT', 'HOST', 'DATABASE_PATH', 'LOG_FILE', 'LOG_LEVEL', 'JOBGRAPH_TOKEN', 'JOBGRAPH_URL']) delete baseEnv[name];
  const proc = Bun.spawn(['bun', ...args], { cwd: ROOT, env: { ...baseEnv, ...env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** One line on stderr, starting with the tool's name, and nothing like a stack trace. */
function expectOneLine(stderr: string, tool: string) {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).toStartWith(`${tool}: `);
  expect(stderr).not.toMatch(/^\s+at |\n\s*\^|error: /m);
}

const TOOLS = [
  { tool: 'jobgraph', script: 'src/main.ts', usage: 'usage: bun run start' },
  { tool: 'calc', script: 'src/calculator/cli.ts', usage: 'usage: bun run calc <operations-file>' },
  { tool: 'dishes', script: 'src/relay/dishes-cli.ts', usage: 'usage: bun run dishes' },
  { tool: 'quote-server', script: 'quote-server/index.ts', usage: 'usage: bun quote-server/index.ts [host] [port]' },
];

describe('every command-line tool', () => {
  test.concurrent('--help prints the usage and exits 0; an unknown option is one line and exit 2', async () => {
    await Promise.all(
      TOOLS.map(async ({ tool, script, usage }) => {
        const help = await run([script, '--help']);
        expect({ tool, code: help.code }).toEqual({ tool, code: 0 });
        expect(help.stdout).toStartWith(usage);
        const wrong = await run([script, '--no-such-option'], { JOBGRAPH_TOKEN: 't' });
        expect({ tool, code: wrong.code }).toEqual({ tool, code: 2 });
        expectOneLine(wrong.stderr, tool);
        expect(wrong.stderr).toContain('--no-such-option');
        expect(wrong.stderr).toContain(usage);
      }),
    );
  }, 30_000);

  test.concurrent('too many or wrong arguments are usage errors (2)', async () => {
    const cases = [
      { tool: 'jobgraph', args: ['src/main.ts', 'serve'], says: 'unexpected argument "serve"' },
      { tool: 'calc', args: ['src/calculator/cli.ts', 'a.txt', 'b.txt', '--token', 't'], says: 'one operations file, not 2' },
      { tool: 'calc', args: ['src/calculator/cli.ts', 'a.txt'], says: 'no token' },
      { tool: 'dishes', args: ['src/relay/dishes-cli.ts', 'extra', '--token', 't'], says: "Unexpected argument 'extra'" },
      { tool: 'dishes', args: ['src/relay/dishes-cli.ts', '--url', 'ftp://x', '--token', 't'], says: '--url must be an http(s) URL' },
      { tool: 'quote-server', args: ['quote-server/index.ts', '127.0.0.1', 'http'], says: 'invalid port "http"' },
      { tool: 'quote-server', args: ['quote-server/index.ts', 'a', '1', 'b'], says: 'at most a host and a port' },
    ];
    await Promise.all(
      cases.map(async ({ tool, args, says }) => {
        const result = await run(args);
        expect({ args, code: result.code }).toEqual({ args, code: 2 });
        expectOneLine(result.stderr, tool);
        expect(result.stderr).toContain(says);
      }),
    );
  }, 30_000);

  test.concurrent('an unreachable server is one line and exit 1 (calc, dishes)', async () => {
    const file = join(tempDir('jobgraph-cli-'), 'ops.txt');
    writeFileSync(file, '1 + 1\n');
    for (const [tool, args] of [
      ['calc', ['src/calculator/cli.ts', file, '--token', 't', '--url', 'http://127.0.0.1:1']],
      ['dishes', ['src/relay/dishes-cli.ts', '--token', 't', '--url', 'http://127.0.0.1:1']],
    ] as const) {
      const result = await run([...args]);
      expect({ tool, code: result.code }).toEqual({ tool, code: 1 });
      expectOneLine(result.stderr, tool);
      expect(result.stderr).toContain('cannot reach http://127.0.0.1:1/graphql');
    }
  }, 30_000);

  test.concurrent('the quote server on a busy port or a foreign address: one line, exit 2', async () => {
    const holder = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    try {
      const busy = await run(['quote-server/index.ts', '127.0.0.1', String(holder.port)]);
      expect(busy.code).toBe(2);
      expectOneLine(busy.stderr, 'quote-server');
      expect(busy.stderr).toContain(`port ${holder.port} on 127.0.0.1 is already in use`);
    } finally {
      holder.stop(true);
    }
    const foreign = await run(['quote-server/index.ts', 'not..a..host', '0']);
    expect(foreign.code).toBe(2);
    expectOneLine(foreign.stderr, 'quote-server');
  }, 30_000);
});

/** Every variable src/config.ts reads, found in its source: a new one must be added to a table below. */
const CONFIG_SOURCE = await Bun.file(new URL('../src/config.ts', import.meta.url)).text();
const CONFIG_VARIABLES = [...new Set([...CONFIG_SOURCE.matchAll(/env(?:\.([A-Z][A-Z_]+)|, '([A-Z][A-Z_]+)')/g)].map((m) => m[1] ?? m[2]!))];

/** Values loadConfig itself refuses, with the start of its one-line message. */
const REFUSED_BY_LOAD_CONFIG: Record<string, [value: string, message: string]> = {
  LOG_LEVEL: ['loud', 'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"'],
  QUOTE_SERVER: ['no-port', 'QUOTE_SERVER must be host:port'],
  RELAY_UPSTREAM: ['not a url', 'RELAY_UPSTREAM must be an http(s) URL'],
  METRICS_TOKEN: ['short', 'METRICS_TOKEN must be at least 16 characters'],
  LOGIN_MAX_FAILURES_PER_ADDRESS: ['1', 'LOGIN_MAX_FAILURES_PER_ADDRESS must be 0 or more than LOGIN_MAX_FAILURES'],
  DATABASE_URL: ['mysql://user:secret@db/jobs', 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
  REDIS_URL: ['http://127.0.0.1:6379', 'REDIS_URL must be a redis:// or rediss:// URL'],
  REDIS_PREFIX: ['has space', 'REDIS_PREFIX must be 1 to 64 printable characters without spaces'],
  ANONYMOUS_ACCESS: ['analytics,jobs', 'ANONYMOUS_ACCESS must list some of analytics, relay, simulations, quotes'],
  LOG_FORMAT: ['xml', 'LOG_FORMAT must be one of json, pretty, got "xml"'],
  OTEL_EXPORTER_OTLP_ENDPOINT: ['localhost:4318', 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL'],
  PERSISTED_ONLY: ['yes', 'PERSISTED_ONLY must be one of 0, 1, got "yes"'],
  REDIS_EVENTS_SECRET: ['too-short', 'REDIS_EVENTS_SECRET must be at least 32 characters, got 9'],
  OTEL_SERVICE_NAME: ['job graph', 'OTEL_SERVICE_NAME must be 1 to 100 letters, digits or _ . - / : @, got "job graph"'],
};
const isIntegerVariable = (name: string) => CONFIG_SOURCE.includes(`integer(env, '${name}'`);

/** Values only the start can judge (a host, a file): the process exits 2 with this in its one line. */
const REFUSED_AT_START: Record<string, (dir: string) => [value: string, message: string]> = {
  HOST: () => ['not..a..host', 'HOST not..a..host does not resolve to an address'],
  // A folder inside the test's own: the lock file a start leaves beside the path (src/db/lock.ts) goes with it.
  DATABASE_PATH: (dir) => {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    return [folder, `DATABASE_PATH ${folder} cannot be opened`];
  },
  LOG_FILE: (dir) => [dir, `LOG_FILE ${dir} cannot be written: EISDIR`],
  ANALYTICS_CSV: (dir) => [join(dir, 'missing.csv'), `the analytics CSV ${join(dir, 'missing.csv')} does not exist (ANALYTICS_CSV)`],
  ADMIN_USERNAME: () => ['a b!', 'username must be 3 to 64 characters'],
  ADMIN_PASSWORD: () => ['short', 'ADMIN_PASSWORD must be 8 to 256 characters long'],
  JOB_KINDS_DIR: (dir) => [join(dir, 'no-such-kinds'), `JOB_KINDS_DIR ${join(dir, 'no-such-kinds')} does not exist`],
};

describe('invalid configuration', () => {
  test('every variable in src/config.ts has a refused value here', () => {
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(30);
    const uncovered = CONFIG_VARIABLES.filter((name) => !isIntegerVariable(name) && !(name in REFUSED_BY_LOAD_CONFIG) && !(name in REFUSED_AT_START));
    expect(uncovered).toEqual([]);
  });

  test('loadConfig refuses each with one line naming the variable', () => {
    for (const name of CONFIG_VARIABLES.filter(isIntegerVariable)) {
      for (const value of ['ten', '1.5', '-99999999999']) {
        expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
        expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name} must be an integer from -?\\d+ to \\d+, got "${value.replace('.', '\\.')}"$`));
      }
    }
    for (const [name, [value, message]] of Object.entries(REFUSED_BY_LOAD_CONFIG)) {
      let thrown: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as Error).message).toStartWith(message);
      expect((thrown as Error).message).not.toContain('\n');
    }
  });

  test('a refused URL is echoed without the password it carries', () => {
    expect(() => loadConfig({ RELAY_UPSTREAM: 'http://relay:s3cret-pw@upstream.example/api/' })).toThrow(
      'RELAY_UPSTREAM must be an http(s) URL without credentials, query or fragment, got "http://relay:***@upstream.example/api/"',
    );
  });

  test.concurrent('the server exits 2 with one line for each', async () => {
    // What loadConfig refuses is checked above, in-process; one of each kind shows the server's exit.
    const cases = [
      { name: 'LOG_LEVEL', value: 'loud', message: REFUSED_BY_LOAD_CONFIG.LOG_LEVEL![1] },
      { name: 'PORT', value: '70000', message: 'PORT must be an integer from 0 to 65535, got "70000"' },
      ...Object.entries(REFUSED_AT_START).map(([name, make]) => {
        const [value, message] = make(tempDir('jobgraph-config-'));
        return { name, value, message };
      }),
    ];
    await Promise.all(
      cases.map(async ({ name, value, message }) => {
        const dir = tempDir('jobgraph-config-');
        const env = { PORT: '0', HOST: '127.0.0.1', WORKERS: '1', ADMIN_PASSWORD, ANALYTICS_CSV: ANALYTICS_FIXTURE, DATABASE_PATH: join(dir, 'db.sqlite'), LOG_LEVEL: 'warn' };
        // The server as the process tests spawn it (bundled, one start cheaper); its arguments are checked from source above.
        const result = await run(SERVER_COMMAND.slice(1), { ...env, [name]: value });
        expect({ name, code: result.code }).toEqual({ name, code: 2 });
        expectOneLine(result.stderr, 'jobgraph');
        expect(result.stderr).toContain(message);
      }),
    );
  }, 60_000);
});
