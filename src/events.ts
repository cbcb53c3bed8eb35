import { createPubSub } from 'graphql-yoga';
import type { Job } from './db/schema';

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
  /** Every change of one job (status, progress), keyed by its id. */
  jobUpdated: [jobId: number, job: Job];
  /** Every job that reached a final state. */
  jobCompleted: [Job];
};

export const createEventBus = () => createPubSub<Topics>();
export type EventBus = ReturnType<typeof createEventBus>;
