import type { App } from '../app';
import type { AuthUser } from '../users/service';
import type { ResponseFreshness } from './response-cache';

/** What every resolver sees: the services, and who is asking. */
export interface GraphQLContext {
  app: App;
  user: AuthUser | null;
  clientAddress: string | null;
  requestId: string;
  /** Resolvers whose data has its own freshness (the relay's) limit how long the response may be cached. */
  freshness: ResponseFreshness;
}

/** The context of a field whose rule (`loggedIn`, `manager`, `admin`) passed: someone is signed in. */
export type SignedInContext = GraphQLContext & { user: AuthUser };
