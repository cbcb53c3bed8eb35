// The domains' statements (every `src/<domain>/sql.ts`, the job store's own are test/store-conformance.test.ts's):
// each side compiles against its database's real schema, both on SQLite and — with TEST_DATABASE_URL — on
// PostgreSQL. A statement whose PostgreSQL side names a column SQLite's has (or the other way) fails here, not in
// production on the one database the author did not try. What they return is tested through the API (users,
// schedules, relay, … on both databases); this is the cheap net under every statement at once.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Glob } from 'bun';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { type Database, openPostgres, openSqlite } from '../src/db/client';
import { sessions, users } from '../src/db/schema';
import { positional, type Statement } from '../src/db/statements';
import { plannerClient } from '../src/graphql/planner';
import { insertUser } from '../src/users/queries';
import { createTestDatabase, TEST_DATABASE_URL } from './helpers/server';

const SRC = join(import.meta.dir, '..', 'src');
const MODULES = [...new Glob('**/sql.ts').scanSync(SRC)].sort();

/** The statement builders' sample calls: every combination a caller can make, or enough to cover each piece. */
const queueColumns = ['name', 'concurrency', 'maxLength', 'paused', 'order', 'ownerConcurrency', 'rateLimitJobs', 'rateLimitPerSeconds', 'retentionSucceededSeconds', 'retentionFailedSeconds', 'retentionCancelledSeconds'] as const;
const conditions = (on: boolean) => ({ username: on, success: on, address: on, since: on, until: on, after: on, before: on, inverted: on });
const BUILDERS: Record<string, unknown[][]> = {
  'users/sql.ts:loginEventsPage': [[conditions(false)], [conditions(true)]],
  'queues/sql.ts:insertQueue': [[['name', 'concurrency', 'maxLength']], [queueColumns]],
  'queues/sql.ts:updateQueue': [[['paused']], [queueColumns]],
};
/** Exported functions that make no statement (row mappers). */
const NOT_BUILDERS = new Set(['queues/sql.ts:toQueue', 'relay/sql.ts:toRelayRow', 'schedules/sql.ts:toSchedule']);

const isStatement = (value: unknown): value is Statement =>
  typeof value === 'object' && value !== null && typeof (value as Statement).sqlite === 'string' && typeof (value as Statement).postgres === 'string';

/** Every statement of every domain module, named `file:export` (a builder's as `file:export#call`). */
async function allStatements(): Promise<[string, Statement][]> {
  const found: [string, Statement][] = [];
  for (const file of MODULES) {
    const module = (await import(join(SRC, file))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      const key = `${file}:${name}`;
      if (isStatement(value)) found.push([key, value]);
      else if (typeof value === 'function' && !NOT_BUILDERS.has(key)) {
        const calls = BUILDERS[key];
        if (!calls) throw new Error(`${key}: a function that is neither a listed builder nor a listed mapper (add its sample calls to BUILDERS)`);
        calls.forEach((args, i) => found.push([`${key}#${i}`, (value as (...args: unknown[]) => Statement)(...args)]));
      }
    }
  }
  return found;
}

describe('the domains’ statements', () => {
  test('are found: one module per domain that has statements, the job store’s aside', async () => {
    expect(MODULES).toEqual(['analytics/sql.ts', 'observability/sql.ts', 'queues/sql.ts', 'relay/sql.ts', 'schedules/sql.ts', 'users/sql.ts']);
    const statements = await allStatements();
    expect(statements.length).toBeGreaterThan(30);
    for (const [name, statement] of statements) expect({ name, ok: isStatement(statement) }).toEqual({ name, ok: true });
  });

  test('compile on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobgraph-statements-'));
    const database = openSqlite(join(dir, 'statements.sqlite'));
    try {
      for (const [name, statement] of await allStatements()) {
        let problem: string | null = null;
        try {
          database.sqlite.prepare(statement.sqlite).finalize();
        } catch (error) {
          problem = String(error);
        }
        expect({ name, problem }).toEqual({ name, problem: null });
      }
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(!TEST_DATABASE_URL)('on PostgreSQL', () => {
    let target: Awaited<ReturnType<typeof createTestDatabase>>;
    let database: Database & { dialect: 'postgres' };
    beforeAll(async () => {
      target = await createTestDatabase();
      database = await openPostgres(target.url);
    });
    afterAll(async () => {
      await database?.close();
      await target?.drop();
    });

    test('compile (PREPARE: names, and a type for every parameter)', async () => {
      const statements = await allStatements();
      for (const [i, [name, statement]] of statements.entries()) {
        let problem: string | null = null;
        try {
          await database.sql.unsafe(`PREPARE domain_statement_${i} AS ${positional(statement.postgres).text}`);
          await database.sql.unsafe(`DEALLOCATE domain_statement_${i}`);
        } catch (error) {
          problem = String(error);
        }
        expect({ name, problem }).toEqual({ name, problem: null });
      }
    });

    test('the GraphQL planner’s client takes the planner’s (SQLite’s) tables here too: relation counts run', async () => {
      await countsWithPlannerTables(database);
    });
  });

  test('on SQLite, the planner’s client is SQLite’s Drizzle: relation counts run', async () => {
    const database = openSqlite(':memory:');
    try {
      await countsWithPlannerTables(database);
    } finally {
      await database.close();
    }
  });
});

/** What the Drizzle plugin builds for a relation count (`$count`, `select…from…innerJoin…where`), on `database`. */
async function countsWithPlannerTables(database: Database) {
  const admin = { username: `planner-${crypto.randomUUID()}`, passwordHash: 'x', role: 'ADMIN' as const };
  const user = await insertUser(database, admin);
  const client = plannerClient(database);
  expect(await client.$count(users, eq(users.id, user.id))).toBe(1);
  const joined = await (client.select({ n: sql`count(*)` }).from(users).innerJoin(sessions, eq(sessions.userId, users.id)).where(eq(users.id, user.id)) as unknown as Promise<{ n: number | string }[]>);
  expect(joined.map(({ n }) => Number(n))).toEqual([0]);
}

// What exists on one dialect only does not type-check where code runs on both (`bunx tsc --noEmit` checks these
// lines: each must stay an error). Never called: the types are the test.
export function oneDialectOnly(database: Database) {
  // @ts-expect-error a statement with no PostgreSQL side is not a Statement
  void database.all({ sqlite: 'SELECT 1' });
  // @ts-expect-error SQLite's Drizzle is reached only once the dialect is known
  void database.sqliteDb;
  // @ts-expect-error PostgreSQL's Drizzle likewise
  void database.pg;
  // @ts-expect-error no Drizzle, typed as one dialect's, on the shared part
  void database.db;
  void database.transaction(async (tx) => {
    // @ts-expect-error a transaction runs statements with both sides only
    await tx.exec({ postgres: 'SELECT 1' });
  });
  if (database.dialect === 'sqlite') void database.sqliteDb.query.users;
  else void database.pg.query.users;
}
