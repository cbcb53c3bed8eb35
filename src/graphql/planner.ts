// The Drizzle the GraphQL planner (Pothos' Drizzle plugin) reads with. The builder is typed over one set of
// relations, SQLite's (src/db/relations.ts): on SQLite its client is SQLite's Drizzle as it is. On PostgreSQL the
// plugin still hands SQLite's table objects to the client, for the relation counts it builds; they go to
// PostgreSQL's Drizzle as what they are there, a table name (`sql` renders either table as "name"), so each Drizzle
// keeps its own type and nothing is cast.
import { type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import type { Database } from '../db/client';

/** A table of the planner's (SQLite's) relations, as PostgreSQL's Drizzle takes it: the SQL that names it. */
const named = (table: SQLWrapper | SQL | object): SQL => sql`${table}`;

export function plannerClient(database: Database) {
  if (database.dialect === 'sqlite') return database.sqliteDb;
  const { pg } = database;
  return {
    _: pg._,
    query: pg.query,
    $count: (source: SQLWrapper | SQL | object, filter?: SQL) => pg.$count(named(source), filter),
    select: (fields: Record<string, SQL>) => ({
      from(table: object) {
        const from = pg.select(fields).from(named(table));
        return { innerJoin: (joined: object, on: SQL) => from.innerJoin(named(joined), on), where: (filter?: SQL) => from.where(filter) };
      },
    }),
  };
}

/** What the GraphQL context carries for the plugin (see context.ts). */
export type PlannerDb = ReturnType<typeof plannerClient>;
