import { createPubSub, Repeater } from 'graphql-yoga';
import { unavailable } from './errors';
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

/**
 * Events a subscriber may leave unread before its stream is ended. A stream is pull-based (an SSE client that stops
 * reading stops pulling); without a bound its pending pushes pile up, and the Repeater underneath throws inside the
 * event listener at 1,024 — which would end the process. Past this bound that one stream ends with an error instead.
 */
export const MAX_UNREAD_EVENTS = 512;

type Args<T extends keyof Topics> = Topics[T] extends [infer P] ? [] : Topics[T] extends [infer Id, infer _P] ? [id: Id] : never;
type Payload<T extends keyof Topics> = Topics[T] extends [infer P] ? P : Topics[T] extends [infer _Id, infer P] ? P : never;

/** The in-process pub/sub (Yoga's, on an EventTarget), with subscriptions that a slow reader cannot overflow. */
export function createEventBus() {
  const target = new EventTarget();
  const pubsub = createPubSub<Topics>({ eventTarget: target });
  return {
    publish: pubsub.publish,
    /** A synchronous listener that sees every event of a topic (no stream, so no unread bound); returns its removal. */
    listen<T extends keyof Topics>(topic: T, listener: (payload: Payload<T>) => void): () => void {
      const handler = (event: Event) => listener((event as CustomEvent<Payload<T>>).detail);
      target.addEventListener(topic, handler);
      return () => target.removeEventListener(topic, handler);
    },
    subscribe<T extends keyof Topics>(topic: T, ...[id]: Args<T>): Repeater<Payload<T>> {
      const name = id === undefined ? topic : `${topic}:${id}`;
      return new Repeater<Payload<T>>(async (push, stop) => {
        let unread = 0;
        const listener = (event: Event) => {
          if (unread >= MAX_UNREAD_EVENTS) {
            stop(unavailable(`this stream fell more than ${MAX_UNREAD_EVENTS} events behind its reader and was ended; subscribe again`));
            return;
          }
          unread++;
          // A push settles once the reader has taken the value (or the stream has ended).
          push((event as CustomEvent<Payload<T>>).detail).then(
            () => unread--,
            () => {},
          );
        };
        target.addEventListener(name, listener);
        await stop;
        target.removeEventListener(name, listener);
      });
    },
  };
}
export type EventBus = ReturnType<typeof createEventBus>;
