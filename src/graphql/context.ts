import type { App } from '../app';
import type { AuthUser } from '../users/service';

/** What every resolver sees: the services, and who is asking. */
export interface GraphQLContext {
  app: App;
  user: AuthUser | null;
  clientAddress: string | null;
  requestId: string;
}
