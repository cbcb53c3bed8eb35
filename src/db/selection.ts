/**
 * What a reader adds to a Drizzle relational query that a service built: the columns and relations it will read,
 * and its paging. The GraphQL planner's `query(…)` (Pothos' Drizzle plugin) is one; so a list of jobs with their
 * owners is one SQL statement. The service decides which rows (`where`, who may see them); the caller what of them.
 * Its types are the planner's own, so it is opaque here: it gives back the query it was given, widened.
 */
export type Selection = (query: never) => unknown;

/** The service's query with the caller's selection applied (none: the query as it is, every column, no relation). */
export const withSelection = <Query extends object>(query: Query, select: Selection | undefined): Query =>
  select ? (select as unknown as (query: Query) => Query)(query) : query;
