import type { AnonymousDomain } from '../config';
import type { AuthUser, Services } from '../services';
import type { ResponseFreshness } from './freshness';
import type { PlannerDb } from './planner';

/**
 * What every resolver sees: the services (never the database, the pool or the configuration: what a resolver
 * needs of them is a service's method) and who is asking.
 */
export interface GraphQLContext extends Services {
  user: AuthUser | null;
  clientAddress: string | null;
  requestId: string;
  /** The domains whose reads callers without a token may make (ANONYMOUS_ACCESS). */
  anonymousAccess: ReadonlySet<AnonymousDomain>;
  /** Resolvers whose data has its own freshness (the relay's) limit how long the response may be cached. */
  freshness: ResponseFreshness;
}

/** The context of a field whose rule (`loggedIn`, `manager`, `admin`) passed: someone is signed in. */
export type SignedInContext = GraphQLContext & { user: AuthUser };

/**
 * The database rides along under a symbol, for the Drizzle plugin alone: it loads a relation that the query
 * planner could not select up front (a job a mutation returns, then its `owner`). Resolvers read through services.
 */
const PLANNER_DATABASE = Symbol('the database, for the Drizzle plugin only');

export function createGraphQLContext(services: Services, db: PlannerDb, request: Omit<GraphQLContext, keyof Services>): GraphQLContext {
  const { users, queues, jobs, schedules, analytics, calculator, quotes, relay, requestShutdown } = services;
  // Enumerable, so Yoga's Object.assign of the context keeps it; a symbol, so no resolver stumbles on it.
  return { users, queues, jobs, schedules, analytics, calculator, quotes, relay, requestShutdown, ...request, [PLANNER_DATABASE]: db } as GraphQLContext;
}

/** For src/graphql/builder.ts's Drizzle plugin `client` only. */
export const plannerDatabase = (context: GraphQLContext): PlannerDb => (context as GraphQLContext & { [PLANNER_DATABASE]: PlannerDb })[PLANNER_DATABASE];
