import { createPubSub } from 'graphql-yoga';

/** A login attempt as it is streamed to admins and written to the login log. */
export interface LoginEvent {
  username: string;
  success: boolean;
  reason: string | null;
  clientAddress: string | null;
  at: Date;
}

/** The topics of jobgraph's in-process pub/sub; each domain publishes, subscriptions listen. */
export type Topics = {
  loginEvents: [LoginEvent];
};

export const createEventBus = () => createPubSub<Topics>();
export type EventBus = ReturnType<typeof createEventBus>;
