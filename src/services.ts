// The services the interfaces (GraphQL, the REST compatibility routes, the CLI) call, as one type in its own small
// module: an interface receives these, never the app (src/app.ts) that wires them.
import type { AnalyticsService } from './analytics/service';
import type { CalculatorService } from './calculator/service';
import type { JobsService } from './jobs/service';
import type { QueuesService } from './queues/service';
import type { QuotesService } from './quotes/service';
import type { RelayService } from './relay/service';
import type { SchedulesService } from './schedules/service';
import type { UsersService } from './users/service';

// Who is asking, for the GraphQL core (src/graphql/), which imports no domain: the one door (src/users/auth.ts).
export { type Authentication, authenticateRequest, settledAuthentication } from './users/auth';
export type { AuthUser, UsersService } from './users/service';

/**
 * What the interfaces (GraphQL resolvers, the REST routes) call: the domains' services. Not the database, the pool
 * or the configuration: what an interface needs of those is a service's method.
 */
export interface Services {
  users: UsersService;
  queues: QueuesService;
  jobs: JobsService;
  schedules: SchedulesService;
  analytics: AnalyticsService;
  calculator: CalculatorService;
  quotes: QuotesService;
  relay: RelayService;
  /** Asks whoever runs this app (the server) to drain and stop: the admin `shutdown` mutation, the REST route, signals. */
  readonly requestShutdown: () => void;
}
