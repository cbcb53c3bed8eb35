import { Database } from 'bun:sqlite';
import { startQuoteServer, type QuoteServer } from '../../quote-server/server';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { AnalyticsService } from '../../src/analytics/service';
import { BUNDLED_ANALYTICS_CSV, loadConfig } from '../../src/config';
import { MIGRATIONS_FOLDER, openSqlite } from '../../src/db/client';
import { hashFiles } from './file-hash';
import type { EventBus, Topics } from '../../src/events';
import { createLogger } from '../../src/logger';
import { type RunningServer, type ServerOptions, startServer } from '../../src/server';

export const ADMIN_PASSWORD = 'admin-password-for-tests';
/**
 * The default bound of the waits below (subscriptions listening, events, SSE, log lines, `until`): a wait for
 * something that must happen, so the bound only shows on a failure. 15 s: on a 2-core machine running two suites,
 * a 5 s bound failed (a CLI uploading 300,003 lines subscribed after 6 s).
 */
export const LIVENESS_MS = 15_000;
export const ANALYTICS_FIXTURE = new URL('../fixtures/analytics.csv', import.meta.url).pathname;

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
  headers: Headers;
}

/**
 * A PostgreSQL server to run the test servers on (`bun run test` sets it when PostgreSQL is installed): each test
 * server then gets a fresh database of its own, dropped when it stops. Unset: each gets a temporary SQLite file.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
/** Tests that look inside the SQLite file (or its lock) run only where the test servers use one. */
export const onSqlite = !TEST_DATABASE_URL;

/** A fresh, empty PostgreSQL database on TEST_DATABASE_URL's server; `drop` removes it (and ends its connections). */
export async function createTestDatabase(serverUrl = TEST_DATABASE_URL!): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `jobgraph_test_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new Bun.SQL(serverUrl, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const again = new Bun.SQL(serverUrl, { max: 1 });
      try {
        await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await again.close();
      }
    },
  };
}

/**
 * A database file kept in the temporary folder as `name` (its key in the name), made if missing: built beside, then
 * renamed into place, since test processes beside this one may build it at the same time. `from` is copied first;
 * `build` fills the file, whose only connection is closed (and awaited) before the rename: the close checkpoints the
 * WAL into the file, so every copy of it is whole.
 */
async function sharedDatabase(name: string, build: (database: ReturnType<typeof openSqlite>) => Promise<unknown>, from?: string): Promise<string> {
  const path = join(tmpdir(), name);
  if (existsSync(path)) return path;
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-test-building-'));
  try {
    const file = join(dir, 'jobgraph.db');
    if (from) copyFileSync(from, file);
    // Opening it migrates it.
    const database = openSqlite(file);
    try {
      await build(database);
    } finally {
      await database.close();
    }
    renameSync(file, path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return path;
}

let migratedSqliteFile: Promise<string> | undefined;

/**
 * An empty SQLite database as jobgraph's start leaves it (migrated, WAL mode): each test server starts from a copy
 * instead of running every migration again (~15 ms of CPU a server). Keyed by a hash of the migrations, so a changed
 * migration makes a new one. The migrations still run on every file a test names, and on every spawned server's.
 */
function migratedSqlite(): Promise<string> {
  migratedSqliteFile ??= sharedDatabase(`jobgraph-test-migrated-${hashFiles(MIGRATIONS_FOLDER, ['.'])}.db`, async () => {});
  return migratedSqliteFile;
}

let ingestedSqliteFile: Promise<string> | undefined;

/**
 * The same with the bundled CDC file ingested (its rows, the dataset's row and the index snapshot), for the test
 * servers that serve the real file: each then loads it as a restart does (~30 ms) instead of parsing and inserting
 * 79,851 rows (~0.8 s of CPU). Keyed by the migrations, the file and the code that ingests it. The ingest itself is
 * tested in test/analytics.test.ts on a fresh database, and with the small fixture by every other test server.
 */
function ingestedSqlite(): Promise<string> {
  ingestedSqliteFile ??= (async () => {
    const root = join(import.meta.dir, '..', '..');
    const key = hashFiles(root, ['drizzle/sqlite', 'src/analytics', 'src/compute/analytics.ts', relative(root, BUNDLED_ANALYTICS_CSV)]);
    const load = (database: ReturnType<typeof openSqlite>) => new AnalyticsService(database, createLogger({ level: 'silent' }), BUNDLED_ANALYTICS_CSV).load();
    return sharedDatabase(`jobgraph-test-ingested-${key}.db`, load, await migratedSqlite());
  })();
  return ingestedSqliteFile;
}

/**
 * Databases stopped test servers of this process gave back, emptied (every table emptied, identities restarted:
 * what jobgraph finds in a database it has just migrated), for the next test server. A fresh database cost
 * PostgreSQL ~0.4 s of CPU (CREATE DATABASE, a first connection, the migrations), an emptied one ~0.15 s; a run of
 * the PostgreSQL pass starts a few hundred test servers. The migrations write no rows, so empty is as new.
 */
const emptiedDatabases: { url: string; drop(): Promise<void> }[] = [];
/** The schema of a database jobgraph has just migrated, as SCHEMA_OF reads it (once per process, from its first). */
let migratedSchema: string | undefined;
/** Everything a test could change in a database's schema (a table renamed, an index or trigger dropped), as one hash. */
const SCHEMA_OF = `SELECT md5(string_agg(x, ',' ORDER BY x)) AS schema FROM (
  SELECT 'c:' || n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  UNION ALL SELECT 'a:' || a.attrelid::regclass::text || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace) AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'k:' || conrelid::regclass::text || '.' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'i:' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
  UNION ALL SELECT 't:' || tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'f:' || oid::regprocedure::text || ':' || md5(prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
) s(x)`;

/**
 * Empties every table and restarts every sequence. A small table is emptied with DELETE: TRUNCATE makes new files
 * for a table and each of its indexes, ~55 ms of PostgreSQL's CPU over jobgraph's tables against ~2 ms. A large one
 * (a test's thousands of jobs) is truncated, so no test meets another's dead rows. Foreign keys and triggers are off
 * meanwhile (`session_replication_role`): every table is emptied anyway.
 */
const EMPTY_DATABASE = `DO $$ DECLARE t record; large text; BEGIN
  SET LOCAL session_replication_role = replica;
  FOR t IN SELECT oid::regclass AS name, pg_relation_size(oid) > 262144 AS large FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' LOOP
    IF t.large THEN large := concat_ws(', ', large, t.name::text); ELSE EXECUTE format('DELETE FROM %s', t.name); END IF;
  END LOOP;
  IF large IS NOT NULL THEN EXECUTE 'TRUNCATE ' || large; END IF;
  PERFORM setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = 'public'::regnamespace;
END $$`;

async function schemaOf(sql: InstanceType<typeof Bun.SQL>): Promise<string> {
  const [{ schema }] = (await sql.unsafe(SCHEMA_OF)) as [{ schema: string }];
  return schema;
}

/** Notes the schema of a database migrated just now, the first time in this process. */
async function noteMigratedSchema(url: string): Promise<void> {
  if (migratedSchema !== undefined) return;
  const sql = new Bun.SQL(url, { max: 1 });
  try {
    migratedSchema ??= await schemaOf(sql);
  } finally {
    await sql.close();
  }
}

/** Empties a stopped test server's database for the next one; drops it if its schema is not the migrated one any more. */
async function giveBack(database: { url: string; drop(): Promise<void> }): Promise<void> {
  const sql = new Bun.SQL(database.url, { max: 1 });
  let emptied = false;
  try {
    if (migratedSchema === undefined || (await schemaOf(sql)) !== migratedSchema) return;
    // A lock still held (a server that did not stop cleanly) is not waited for: that database is dropped instead.
    await sql.unsafe(`SET lock_timeout = '2s'`);
    await sql.unsafe(EMPTY_DATABASE);
    emptied = true;
  } catch {
    // Dropped below.
  } finally {
    await sql.close();
    if (emptied) emptiedDatabases.push(database);
    else await database.drop();
  }
}

export interface TestServer {
  /** The in-process quote server, unless the test passed QUOTE_SERVER. */
  quoteServer: QuoteServer | null;
  running: RunningServer;
  url: string;
  wsUrl: string;
  databasePath: string;
  /** Set when this server runs on PostgreSQL (TEST_DATABASE_URL): its own database's URL. */
  databaseUrl: string | undefined;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
  /**
   * Runs SQL on this server's database, whichever it is (SQL both dialects read alike; parameters `$1`, `$2`…;
   * cast counts: `CAST(count(*) AS INTEGER)`), and returns its rows.
   */
  sql<T = Record<string, unknown>>(text: string, ...params: unknown[]): Promise<T[]>;
  login(username: string, password: string): Promise<string>;
  /** Creates a user (as admin) and returns a token for them. */
  userWithRole(role: 'ADMIN' | 'MANAGER' | 'USER' | 'SECRETARY', username?: string): Promise<{ id: string; token: string; username: string }>;
  adminToken(): Promise<string>;
  wsClient(token?: string, extra?: Partial<Parameters<typeof createClient>[0]>): Client;
  /**
   * Call before subscribing: resolves once the next `count` subscriptions to an event bus topic (`loginEvents`,
   * `jobCompleted`, `jobUpdated`) listen, so what is published after that reaches them. Rejects after `timeoutMs`
   * (default LIVENESS_MS).
   */
  nextSubscriptions(topic: keyof Topics, count?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;

/** argon2id's minimum (8 KiB, one pass): a throwaway user costs well under a millisecond instead of ~200 ms twice. */
export const TEST_PASSWORD_HASH_COST = { memoryCost: 8, timeCost: 1 };

/**
 * A real jobgraph on a free port of 127.0.0.1 with its own temporary SQLite file (or, with TEST_DATABASE_URL, its
 * own PostgreSQL database); `options` can bring a clock.
 * Passwords are hashed at TEST_PASSWORD_HASH_COST (users.test.ts checks that production keeps the strong default), and
 * the known operations are not warmed up unless `options.warmUp` (test/warm-up.test.ts; spawned servers warm up).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: Pick<ServerOptions, 'clock' | 'passwordHashCost' | 'probes' | 'loginLogFlushMs' | 'warmUp'> = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'jobgraph-test-'));
  const databasePath = join(dir, 'jobgraph.db');
  // Unless the test names a database, the file starts as an empty one that jobgraph migrated (see migratedSqlite), with
  // the bundled CDC file ingested where the test serves it (ingestedSqlite).
  if (!TEST_DATABASE_URL && !env.DATABASE_PATH && !env.DATABASE_URL) {
    copyFileSync(await (env.ANALYTICS_CSV === BUNDLED_ANALYTICS_CSV ? ingestedSqlite() : migratedSqlite()), databasePath);
  }
  // Unless a test brings its own, a quote server in this process (the embedded child is tested with real processes).
  const quoteServer = env.QUOTE_SERVER ? null : await startQuoteServer({ port: 0, delayMs: Number(env.QUOTE_DELAY_MS ?? 50) });
  // A test that names its SQLite file (or a database) keeps it.
  const pg = TEST_DATABASE_URL && !env.DATABASE_PATH && !env.DATABASE_URL ? (emptiedDatabases.pop() ?? (await createTestDatabase())) : null;
  const config = loadConfig({
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...(quoteServer ? { QUOTE_SERVER: `127.0.0.1:${quoteServer.port}` } : {}),
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: databasePath,
    ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_SECOND: '0',
    WORKERS: '2',
    SHUTDOWN_TIMEOUT_SECONDS: '0',
    // The small hand-made CSV keeps start-up fast; the analytics tests ask for the real file where they need it.
    ANALYTICS_CSV: ANALYTICS_FIXTURE,
    // Against a shared Redis (scripts/test.ts), each server its own key space unless a test shares one on purpose.
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL, REDIS_PREFIX: `test:${crypto.randomUUID()}:` } : {}),
    ...env,
  });
  let running: RunningServer;
  try {
    running = await startServer(config, {
      passwordHashCost: TEST_PASSWORD_HASH_COST,
      // The known operations' warm-up (~40 ms of CPU a server, most of its start) runs where a test asks for it.
      warmUp: false,
      ...options,
      log: createLogger({ level: config.logLevel, file: config.logFile, stdout: !config.logFile }),
    });
    if (pg) await noteMigratedSchema(pg.url);
  } catch (error) {
    quoteServer?.stop();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = running.url;
  const wsUrl = url.replace(/^http/, 'ws');
  const nextSubscriptions = watchSubscriptions(running.app.events, running.fanOut);

  const gql: TestServer['gql'] = async (query, variables, token) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: any };
    return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
  };

  const login = async (username: string, password: string) => {
    const result = await gql<{ login: { token: string } }>(
      'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }',
      { u: username, p: password },
    );
    if (!result.data?.login) throw new Error(`login failed: ${JSON.stringify(result.errors)}`);
    return result.data.login.token;
  };

  let adminTokenPromise: Promise<string> | undefined;
  const adminToken = () => (adminTokenPromise ??= login('admin', ADMIN_PASSWORD));

  const userWithRole: TestServer['userWithRole'] = async (role, username = `${role.toLowerCase()}${++counter}`) => {
    const created = await gql<{ createUser: { id: string } }>(
      'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { username, password: `${username}-password`, role } },
      await adminToken(),
    );
    if (!created.data?.createUser) throw new Error(`createUser failed: ${JSON.stringify(created.errors)}`);
    return { id: created.data.createUser.id, token: await login(username, `${username}-password`), username };
  };

  const clients: Client[] = [];
  const wsClient: TestServer['wsClient'] = (token, extra = {}) => {
    const client = createClient({
      url: wsUrl,
      retryAttempts: 0,
      lazy: true,
      connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
      ...extra,
    });
    clients.push(client);
    return client;
  };

  return {
    running,
    quoteServer,
    url,
    wsUrl,
    databasePath: config.databasePath,
    databaseUrl: config.databaseUrl,
    gql,
    sql: (text, ...params) => runSql(config.databaseUrl ?? config.databasePath, text, params),
    login,
    userWithRole,
    adminToken,
    wsClient,
    nextSubscriptions: (topic, count = 1, timeoutMs = LIVENESS_MS) => nextSubscriptions(topic, count, timeoutMs),
    async stop() {
      await Promise.all(clients.map((client) => client.dispose()));
      await running.stop();
      quoteServer?.stop();
      if (pg) await giveBack(pg);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SQL on a SQLite file or a PostgreSQL URL, with `$n` parameters either way. */
async function runSql<T>(database: string, text: string, params: unknown[]): Promise<T[]> {
  if (/^postgres(ql)?:/.test(database)) {
    const sql = new Bun.SQL(database, { max: 1 });
    try {
      return [...((await sql.unsafe(text, params as never[])) as T[])];
    } finally {
      await sql.close();
    }
  }
  const sqlite = new Database(database);
  try {
    return sqlite.query(text.replace(/\$(\d+)/g, '?$1')).all(...(params as never[])) as T[];
  } finally {
    sqlite.close();
  }
}

/**
 * Counts, per topic of the app's event bus, the subscriptions that started listening. Yoga's pub/sub adds a
 * subscription's listener when its iterator is first read, synchronously in that `next()`. A WebSocket subscriber
 * that joins a group already listening (src/http/fan-out.ts; the fields are named as their topics) counts on joining.
 */
function watchSubscriptions(events: EventBus, fanOut: RunningServer['fanOut']) {
  const started = new Map<string, number>();
  const waiters = new Set<() => void>();
  fanOut.onJoin((field) => {
    started.set(field, (started.get(field) ?? 0) + 1);
    for (const waiter of waiters) waiter();
  });
  const subscribe = events.subscribe.bind(events) as (...args: unknown[]) => ReturnType<EventBus['subscribe']>;
  events.subscribe = ((topic: keyof Topics, ...id: unknown[]) => {
    const iterator = subscribe(topic, ...id);
    const next = iterator.next;
    let counted = false;
    iterator.next = (...args: Parameters<typeof next>) => {
      const result = next.apply(iterator, args);
      if (!counted) {
        counted = true;
        started.set(topic, (started.get(topic) ?? 0) + 1);
        for (const waiter of waiters) waiter();
      }
      return result;
    };
    return iterator;
  }) as EventBus['subscribe'];

  return (topic: keyof Topics, count: number, timeoutMs: number) => {
    const target = (started.get(topic) ?? 0) + count;
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if ((started.get(topic) ?? 0) < target) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${count} new subscriptions to ${topic}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
    });
  };
}

/** Collects the next `count` events of a graphql-ws subscription (or its error). */
export function subscribe<T = any>(client: Client, query: string, variables?: Record<string, unknown>) {
  const events: { data?: T; errors?: any[] }[] = [];
  const waiters: (() => void)[] = [];
  let error: unknown;
  let completed = false;
  const notify = () => waiters.splice(0).forEach((w) => w());
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        events.push(value as { data?: T; errors?: any[] });
        notify();
      },
      error: (e) => {
        error = e;
        notify();
      },
      complete: () => {
        completed = true;
        notify();
      },
    },
  );
  return {
    events,
    unsubscribe,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    /** Resolves once `count` events have arrived, or the subscription ended; rejects after `timeoutMs`. */
    async waitFor(count: number, timeoutMs = LIVENESS_MS) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count && error === undefined && !completed) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${count} events (got ${events.length})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return events;
    },
  };
}

/** Reads Server-Sent Events from a fetch Response until `count` data events arrived. */
export async function readSseEvents(response: Response, count: number, timeoutMs = LIVENESS_MS): Promise<any[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: any[] = [];
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (events.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} SSE events (got ${events.length})`);
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('SSE read timed out')), left)),
      ]);
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('\n');
        if (data) events.push(JSON.parse(data));
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

/**
 * A JSON-lines log file once `ready` holds for its complete lines (the logger writes asynchronously): the lines
 * and the whole text. Rejects after `timeoutMs` (15 s, as `until`: a wait for lines that must come, whose bound
 * only shows on a failure).
 */
export async function logWhen(file: string, ready: (lines: any[]) => boolean, timeoutMs = LIVENESS_MS): Promise<{ lines: any[]; text: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const lines = text.split('\n').slice(0, -1).map((line) => JSON.parse(line));
    if (ready(lines)) return { lines, text };
    if (Date.now() > deadline) throw new Error(`timed out waiting for the log ${file}; it has ${lines.length} lines`);
    await Bun.sleep(10);
  }
}

/**
 * Polls `condition` until it holds: a wait on what a test needs, never on a guessed time. Every 10 ms at first, then
 * less often (to 100 ms): most conditions are a GraphQL query, and a 10 ms poll through a wait of seconds cost the
 * suite more CPU than the work it waited on.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = LIVENESS_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 10; !(await condition()); pause = Math.min(pause * 1.5, 100)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(pause);
  }
}

/** The data of a query that must succeed; its errors, as the failure, otherwise. */
export async function gqlData(server: TestServer, query: string, variables: Record<string, unknown>, token: string) {
  const result = await server.gql(query, variables, token);
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data;
}
