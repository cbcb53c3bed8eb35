// Statements of the domains outside the job store (users, schedules, tracing…), written as the job store writes its
// own (src/jobs/store/sql/*.ts): each one's SQL for both databases side by side, with named parameters (`$id`) on
// both, run by a small runner per dialect. Code that runs on both databases holds a `Statements`, never one
// dialect's Drizzle: a statement that has no PostgreSQL side is not a `Statement`, so it does not type-check.
import type { Database as SqliteConnection, Statement as SqliteStatement } from 'bun:sqlite';
import type { SQL } from 'bun';

/** One statement on both databases, side by side. Times are parameters in milliseconds (`$now`), as the columns hold them. */
export interface Statement {
  sqlite: string;
  postgres: string;
}

export type Params = Record<string, unknown>;

/** Runs statements, each on its own dialect's side: the database, or a transaction on it (Database.transaction). */
export interface Statements {
  /** Every row the statement returns, as the driver gives it (see the row helpers below). */
  all<Row>(statement: Statement, params?: Params): Promise<Row[]>;
  /** The first row, or undefined when there is none. */
  first<Row>(statement: Statement, params?: Params): Promise<Row | undefined>;
  /** The statement, for its effect alone. */
  exec(statement: Statement, params?: Params): Promise<void>;
}

/** bun:sqlite's side: each statement prepared once per connection (keyed by its text); it binds `$name` by name. */
export function sqliteStatements(connection: SqliteConnection): Statements {
  const prepared = new Map<string, SqliteStatement<any, any>>();
  const statement = (text: string) => {
    let found = prepared.get(text);
    if (!found) prepared.set(text, (found = connection.prepare(text)));
    return found;
  };
  return {
    all: async <Row>({ sqlite }: Statement, params: Params = {}) => statement(sqlite).all(params as never) as Row[],
    first: async <Row>({ sqlite }: Statement, params: Params = {}) => (statement(sqlite).get(params as never) as Row | null) ?? undefined,
    exec: async ({ sqlite }: Statement, params: Params = {}) => {
      statement(sqlite).run(params as never);
    },
  };
}

/** Bun's PostgreSQL client's side: on the pool, or on one transaction (`sql.begin`'s). */
export function pgStatements(client: Pick<SQL, 'unsafe'>): Statements {
  const all = <Row>({ postgres }: Statement, params: Params = {}) => executePg<Row>(client, postgres, params);
  return {
    all,
    first: async <Row>(statement: Statement, params?: Params) => (await all<Row>(statement, params))[0],
    exec: async (statement: Statement, params?: Params) => {
      await all(statement, params);
    },
  };
}

/** Each statement's PostgreSQL form, made once (keyed by its text). */
const compiled = new Map<string, { text: string; names: string[] }>();

/** Runs one statement written with named parameters on PostgreSQL (the job store's statements too). */
export function executePg<Row>(client: Pick<SQL, 'unsafe'>, text: string, params: Params = {}): Promise<Row[]> {
  let form = compiled.get(text);
  if (!form) compiled.set(text, (form = positional(text)));
  const values = form.names.map((name) => {
    // As bun:sqlite does: a parameter left out is a mistake, not a NULL.
    if (!(name in params)) throw new Error(`missing parameter $${name}`);
    return params[name];
  });
  return client.unsafe(form.text, values as never[]) as unknown as Promise<Row[]>;
}

/**
 * A statement with named parameters (`$name`, as both sides are written) in PostgreSQL's form (`$1`…), with the
 * names in order. A name used twice is one parameter.
 */
export function positional(text: string): { text: string; names: string[] } {
  const names: string[] = [];
  const converted = text.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_match, name: string) => {
    const at = names.indexOf(name);
    if (at >= 0) return `$${at + 1}`;
    names.push(name);
    return `$${names.length}`;
  });
  return { text: converted, names };
}

// Row helpers: the drivers differ in how a row comes back (SQLite: integers for booleans and times; Bun's
// PostgreSQL client: booleans, and bigint times as strings). These read either.

/** A time column (milliseconds in an integer or a bigint) as a Date. */
export const dateOf = (value: number | string | bigint): Date => new Date(Number(value));
/** A nullable time column as a Date or null. */
export const dateOrNull = (value: number | string | bigint | null): Date | null => (value === null ? null : dateOf(value));
/** A boolean column (SQLite's 0/1, PostgreSQL's boolean). */
export const booleanOf = (value: number | boolean): boolean => value === true || value === 1;
/** A count or other bigint (PostgreSQL's `count(*)` comes as a string) as a number. */
export const numberOf = (value: number | string | bigint): number => Number(value);
