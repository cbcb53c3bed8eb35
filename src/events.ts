import type { Logger } from 'pino';
import { unavailable } from './errors';
import { EventStream } from './event-stream';
import type { Job } from './db/schema';
import { type DropReason, encodeBatch, readMessage, sign, SIGNATURE_LINE_LENGTH, type WireBatch, type WireTopic } from './event-wire';
import type { RedisLink } from './redis';

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
  /**
   * Sessions may have ended (logout, a disabled account, a role or password change): cached ones must be dropped.
   * `change` names the change, so an instance that hears it twice (Redis and PostgreSQL's NOTIFY) acts once.
   */
  sessionsChanged: [{ reason: string; change?: string }];
  /** An admin ended a username's login lockout: every instance forgets its failures. */
  loginUnlocked: [{ username: string }];
};

/** Every topic has a wire schema (a topic without one would never reach another instance), and nothing more. */
export type TopicsOnTheWire = [keyof Topics] extends [WireTopic] ? ([WireTopic] extends [keyof Topics] ? true : never) : never;
const everyTopicOnTheWire: TopicsOnTheWire = true;
void everyTopicOnTheWire;

/**
 * Events a subscriber may leave unread before its stream is ended. A stream is pull-based (an SSE client that stops
 * reading stops pulling); without a bound its unread events pile up (the Repeater that carried them once threw inside
 * the event listener at 1,024, which ended the process). Past this bound that one stream ends with an error instead.
 */
export const MAX_UNREAD_EVENTS = 512;

type Args<T extends keyof Topics> = Topics[T] extends [infer P] ? [] : Topics[T] extends [infer Id, infer _P] ? [id: Id] : never;
type UnkeyedTopic = { [T in keyof Topics]: Topics[T] extends [unknown] ? T : never }[keyof Topics];
type Payload<T extends keyof Topics> = Topics[T] extends [infer P] ? P : Topics[T] extends [infer _Id, infer P] ? P : never;

/** How long a delivered event's key is remembered (deliverOnce): far longer than Redis or the event log lag. */
const DELIVERED_ONCE_MS = 60_000;
/** How many delivered events' keys are remembered at most (the oldest are forgotten first). */
const DELIVERED_ONCE_KEYS = 100_000;

/** The Redis channel every instance publishes its events on (under REDIS_PREFIX). */
const EVENTS_CHANNEL = 'events';

/** `publish`'s signature: a topic and its arguments (an id first for a keyed topic). */
type Publish = <T extends keyof Topics>(topic: T, ...args: Topics[T]) => void;

/**
 * The pub/sub (events named as Yoga's: `topic`, or `topic:id` for a keyed topic), with subscriptions that a slow
 * reader cannot overflow. With a Redis link (REDIS_URL) every event also goes to the other instances, and theirs
 * arrive here: an event is delivered locally at once, and its Redis echo, tagged with this instance's id, is dropped,
 * so each subscriber gets it once. Events of one tick travel as one message, in order.
 */
export function createEventBus(link?: RedisLink, remote: RemoteOptions = {}) {
  const remoteListeners = new Map<keyof Topics, Set<(...args: unknown[]) => void>>();
  let outgoing: WireBatch['events'] = [];
  // Indexes in `outgoing` of final jobUpdated events whose jobCompleted (announce: the same job) rides on them.
  let completes: number[] = [];
  let seq = 0;
  const flush = () => {
    const events = outgoing;
    const implied = completes;
    outgoing = [];
    completes = [];
    const header = { from: link!.instanceId, sentAt: Date.now(), seq: seq++ };
    let body: string;
    try {
      body = encodeBatch(implied.length ? { ...header, events, completes: implied } : { ...header, events });
    } catch {
      // An event that cannot be serialised (its subscribers here got it, and masked what broke) stays here; the
      // rest of its tick still crosses.
      body = encodeBatch({ ...header, events: spelledOut(events, implied).filter((event) => isEncodable(event)) });
    }
    link!.publish(EVENTS_CHANNEL, sign(body, remote.secret));
  };
  const dropped: Record<DropReason, number> = { unsigned: 0, malformed: 0, stale: 0, invalid_event: 0 };
  let lastDropLogAt = 0;
  const drop = (reason: DropReason, detail: string, topic?: string) => {
    dropped[reason] += 1;
    // At most one line every 10 s: whoever floods the channel must not flood the log too.
    const now = Date.now();
    if (now - lastDropLogAt < 10_000) return;
    lastDropLogAt = now;
    remote.log?.warn({ reason, topic, detail, droppedSoFar: { ...dropped } }, 'a Redis event message was dropped (see jobgraph_redis_events_dropped_total)');
  };
  const ownEcho = `{"from":${JSON.stringify(link?.instanceId ?? '')},`;
  const lastSeq = new Map<string, { seq: number; at: number }>();
  void link?.subscribe(EVENTS_CHANNEL, (message) => {
    // Our own echo (its body starts with our id, after a signature line when signed): skipped before any parsing.
    if (message.startsWith(ownEcho) || message.startsWith(ownEcho, SIGNATURE_LINE_LENGTH)) return;
    const read = readMessage(message, { secret: remote.secret, now: Date.now(), lastSeq });
    if ('dropped' in read) return drop(read.dropped, read.detail);
    if (read.batch.from === link.instanceId) return;
    for (const invalid of read.invalid) drop('invalid_event', invalid.detail, invalid.topic);
    for (const { topic, args } of read.events) {
      if (!firstTime(topic, args[0], args[1])) continue;
      // Subscribers hear it; `on` listeners (this instance's own counts, e.g. metrics) do not.
      deliver(topic, args[0], args[1]);
      for (const listener of remoteListeners.get(topic) ?? []) listener(...args);
    }
  });
  // Events that may reach this instance twice (from Redis and from the job event log): delivered here once per key.
  const keys = new Map<keyof Topics, (...args: any[]) => string | null>();
  const delivered = new Map<string, number>();
  /** The same, for `on` listeners: they count this instance's own events, whichever copy its subscribers got first. */
  const recentOwn = new Map<string, number>();
  const firstTime = (topic: keyof Topics, first: unknown, second: unknown, recent = delivered): boolean => {
    const keyOf = keys.get(topic);
    const key = keyOf?.(first, second);
    if (!key) return true;
    const now = Date.now();
    // Full: the oldest go first (a Map iterates in insertion order), a tenth at a time, then any expired ones before
    // the first unexpired. It walked every key to find the expired ones: once the map held 100,000 unexpired keys
    // (50,000 jobs a minute: two keys a job) every publish walked them all: 1.1 ms a publish, against ~2 µs now.
    if (recent.size >= DELIVERED_ONCE_KEYS)
      for (const [seen, until] of recent) {
        if (until > now && recent.size < DELIVERED_ONCE_KEYS * 0.9) break;
        recent.delete(seen);
      }
    const name = `${topic}|${key}`;
    if ((recent.get(name) ?? 0) > now) return false;
    recent.set(name, now + DELIVERED_ONCE_MS);
    return true;
  };
  // Subscribers by event name (`topic`, or `topic:id` for a keyed topic), called directly: Yoga's pubsub made a
  // CustomEvent and dispatched it on an EventTarget for each event. Each name's list is replaced, never changed in
  // place, so a delivery goes to the listeners there when it began, less those removed meanwhile (as a dispatch does).
  type Listening = { listener: (payload: unknown) => void; removed: boolean };
  const listeners = new Map<string, Listening[]>();
  // Keyed topics with any subscriber here: a job change nobody follows (most) is not even named (`jobUpdated:<id>`).
  const keyedListeners = new Map<string, number>();
  const listen = (topic: string, id: unknown, listener: (payload: unknown) => void): (() => void) => {
    const name = id === undefined ? topic : `${topic}:${id}`;
    const entry: Listening = { listener, removed: false };
    listeners.set(name, [...(listeners.get(name) ?? []), entry]);
    if (id !== undefined) keyedListeners.set(topic, (keyedListeners.get(topic) ?? 0) + 1);
    return () => {
      // Once: a second call must not take another listener away.
      if (entry.removed) return;
      entry.removed = true;
      const left = listeners.get(name)!.filter((other) => other !== entry);
      if (left.length) listeners.set(name, left);
      else listeners.delete(name);
      if (id === undefined) return;
      const keyed = keyedListeners.get(topic)! - 1;
      if (keyed) keyedListeners.set(topic, keyed);
      else keyedListeners.delete(topic);
    };
  };
  /** To this instance's subscribers (an event nobody here listens to costs one lookup); one that throws is reported, the others still hear it. */
  const deliver = (topic: string, first: unknown, second: unknown): void => {
    if (second !== undefined && !keyedListeners.has(topic)) return;
    const entries = listeners.get(second === undefined ? topic : `${topic}:${first}`);
    if (!entries) return;
    const payload = second ?? first ?? null;
    for (const { listener, removed } of entries) {
      if (removed) continue;
      try {
        listener(payload);
      } catch (error) {
        reportError(error);
      }
    }
  };
  const ownListeners = new Map<string, Set<(payload: unknown) => void>>();
  // Fixed arguments, not `...args`: every job change passes here (4 times a job), and a rest array and spread calls
  // cost at each call and made this one of the JIT's largest compiles.
  const publish = ((topic: keyof Topics, first: unknown, second?: unknown): void => {
    if (firstTime(topic, first, second)) deliver(topic, first, second);
    // Apart from the subscribers: the job event log may have brought them this very event first (PostgreSQL, a
    // loaded machine), and this instance's counts must still hear its own outcome once.
    const own = ownListeners.get(topic);
    if (own && firstTime(topic, first, second, recentOwn)) {
      for (const listener of own) {
        // As for subscribers: a listener's error is reported, never thrown at the publisher.
        try {
          listener(first);
        } catch (error) {
          reportError(error);
        }
      }
    }
    if (!link) return;
    if (outgoing.length === 0) queueMicrotask(flush);
    // A final job's jobCompleted right after its jobUpdated: the job crosses once (a fifth of an instance's main
    // thread went to encoding its events for Redis; this is a quarter of a job's events).
    const last = outgoing.at(-1);
    if (topic === 'jobCompleted' && last?.topic === 'jobUpdated' && last.args[1] === first) {
      completes.push(outgoing.length - 1);
      return;
    }
    outgoing.push({ topic, args: second === undefined ? [first] : [first, second] } as WireBatch['events'][number]);
  }) as Publish;
  return {
    publish,
    /**
     * Delivers an event another instance committed, read from the database (the job event log), to this instance's
     * subscribers only, unless it was delivered here already (see deliverOnce); `on` listeners do not hear it.
     */
    publishRemote<T extends keyof Topics>(topic: T, ...args: Topics[T]): void {
      if (!firstTime(topic, args[0], args[1])) return;
      deliver(topic, args[0], args[1]);
    },
    /**
     * From now on an event of `topic` whose key (non-null) was delivered here in the last minute is not delivered
     * again, whichever way it came (this instance, Redis, publishRemote).
     */
    deliverOnce<T extends keyof Topics>(topic: T, key: (...args: Topics[T]) => string | null): void {
      keys.set(topic, key as (...args: any[]) => string | null);
    },
    /** Whether an event of `topic` with this deliverOnce key was delivered here in the last minute. */
    delivered(topic: keyof Topics, key: string): boolean {
      return (delivered.get(`${topic}|${key}`) ?? 0) > Date.now();
    },
    /** Messages (or events) from the Redis channel dropped since start, by reason; /metrics reads it. */
    droppedRemote: dropped as Readonly<Record<DropReason, number>>,
    /** Whether events from other instances can be missed right now (Redis unreachable): caches built on them can't be trusted. */
    get missingRemoteEvents(): boolean {
      return link !== undefined && !link.up;
    },
    /** Runs for `topic`'s events that another instance published (never for this one's). */
    onRemote<T extends keyof Topics>(topic: T, listener: (...args: Topics[T]) => void): void {
      let listeners = remoteListeners.get(topic);
      if (!listeners) remoteListeners.set(topic, (listeners = new Set()));
      listeners.add(listener as unknown as (...args: unknown[]) => void);
    },
    /** Runs when the link to the other instances came back after an outage: their events in between were missed. */
    onRemoteGap(listener: () => void): void {
      link?.onReconnect(listener);
    },
    /** A synchronous listener on a topic without ids (counting, never blocking the publisher), for this instance's own events only; returns its removal. */
    on<T extends UnkeyedTopic>(topic: T, listener: (payload: Payload<T>) => void): () => void {
      let listeners = ownListeners.get(topic);
      if (!listeners) ownListeners.set(topic, (listeners = new Set()));
      const own = listeners;
      const handler = (payload: unknown) => listener(payload as Payload<T>);
      own.add(handler);
      return () => own.delete(handler);
    },
    /** The events of `topic` (of one id, for a keyed topic) from the first pull on; see EventStream. */
    subscribe<T extends keyof Topics>(topic: T, ...[id]: Args<T>): EventStream<Payload<T>> {
      return new EventStream<Payload<T>>(
        (push) => listen(topic, id, push as (payload: unknown) => void),
        MAX_UNREAD_EVENTS,
        () => unavailable(`this stream fell more than ${MAX_UNREAD_EVENTS} events behind its reader and was ended; subscribe again`),
      );
    },
  };
}
export type EventBus = ReturnType<typeof createEventBus>;

export interface RemoteOptions {
  /** REDIS_EVENTS_SECRET: messages are signed with it, and any without a valid signature is dropped. */
  secret?: string;
  /** Where dropped messages are reported (at most one line every 10 s). */
  log?: Logger;
}

/** The batch's events with each jobCompleted that `completes` implies written out after its jobUpdated. */
function spelledOut(events: WireBatch['events'], completes: number[]): WireBatch['events'] {
  if (!completes.length) return events;
  const implied = new Set(completes);
  return events.flatMap((event, index) => (implied.has(index) ? [event, { topic: 'jobCompleted', args: [event.args[1]] }] : [event]));
}

function isEncodable(event: WireBatch['events'][number]): boolean {
  try {
    encodeBatch({ from: '', events: [event] });
    return true;
  } catch {
    return false;
  }
}
