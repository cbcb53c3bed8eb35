import { Repeater } from 'graphql-yoga';
import type { Logger } from 'pino';
import { badInput } from '../../errors';
import { type EventFilter, type EventPosition, isAfter, type JobStore, type StoredEvent } from '../store';

/**
 * Event cursors (docs/events.md): every job_events row is a position in one log per database; a cursor names a
 * position and the database it belongs to. Readers page through the log (`page`), or replay it from a cursor and
 * then follow it live (`follow`). Live events come from the database too, never from a message alone: every
 * instance reads the log past its last position when told that events were committed (PostgreSQL's NOTIFY, sent
 * by the committing transaction; on SQLite, this process's own commits) and on a slow timer besides. So an event
 * whose writer died right after its commit still reaches every subscriber of every other instance.
 */

const CURSOR_PREFIX = 'jgev1';
/** Events read per page of a replay, and per read of the live feed. */
export const EVENT_PAGE = 500;
/**
 * Events a live subscriber may leave unread: past it, its queue is dropped and it reads on from the database
 * where it stopped (the log is the buffer), instead of piling up events in memory or being cut off.
 */
const MAX_QUEUED = 2_000;

/** A cursor (opaque to clients): base64url of `jgev1:<database id>:<tx>:<id>`. */
export function encodeCursor(databaseId: string, position: EventPosition): string {
  return Buffer.from(`${CURSOR_PREFIX}:${databaseId}:${position.tx}:${position.id}`).toString('base64url');
}

/** The position a cursor names, or null when the text is not a cursor at all. */
export function decodeCursor(cursor: string): { databaseId: string; position: EventPosition } | null {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const match = /^jgev1:([0-9a-f-]{36}):(\d{1,20}):(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) return null;
  return { databaseId: match[1]!, position: { tx: match[2]!, id: Number(match[3]) } };
}

/** An event as the API gives it: the row with its cursor. */
export type CursoredEvent = StoredEvent & { cursor: string };

/** The live feed: one reader of the log per instance, shared by every subscriber here; runs while any listens. */
class LiveFeed {
  /** Each listener, with the event types it wants (null: every event). */
  private readonly listeners = new Map<(events: StoredEvent[]) => void, readonly string[] | null>();
  /** Where the feed has read up to; null while nobody listens. */
  private position: EventPosition | null = null;
  private starting: Promise<void> | null = null;
  private reading = false;
  private again = false;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly pollMs: number,
    private readonly log: Logger,
  ) {
    store.onEvents(() => this.poke());
  }

  /**
   * Adds a listener; resolves once the feed's start is fixed: everything the listener will hear comes after a
   * position that any read of the log begun from now on already covers. With `types`, it may hear only events of
   * those types (others too, while a listener without types is here).
   */
  async attach(listener: (events: StoredEvent[]) => void, types: readonly string[] | null = null): Promise<() => void> {
    this.listeners.set(listener, types);
    if (!this.position) {
      this.starting ??= this.start();
      await this.starting;
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /**
   * The types every listener here wants (null: all), decided as each read begins. A read of some types skips the
   * other events before its last one for good: a listener that wants them and came during that read lost nothing,
   * since `follow` replays the log from the database, after attaching, to past anything a read begun before covers.
   */
  private wantedTypes(): string[] | null {
    const wanted = new Set<string>();
    for (const types of this.listeners.values()) {
      if (!types) return null;
      for (const type of types) wanted.add(type);
    }
    return [...wanted];
  }

  private async start(): Promise<void> {
    try {
      const bounds = await this.store.eventBounds();
      this.position = bounds?.last ?? { tx: '0', id: 0 };
      // The safety net: a NOTIFY missed (a dropped LISTEN connection) or an event that waited on an older transaction.
      this.timer = setInterval(() => this.poke(), this.pollMs);
      this.timer.unref?.();
    } finally {
      this.starting = null;
    }
  }

  private stop(): void {
    this.position = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads the log past the feed's position (one read at a time; a poke during a read makes one more). */
  poke(): void {
    if (!this.position) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.read().finally(() => {
      this.reading = false;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }

  private async read(): Promise<void> {
    try {
      for (;;) {
        const from = this.position;
        if (!from) return;
        const events = await this.store.eventsAfter(from, { types: this.wantedTypes() }, EVENT_PAGE);
        if (this.position !== from) return; // stopped (and maybe restarted) meanwhile
        if (!events.length) return;
        this.position = events[events.length - 1]!;
        for (const listener of this.listeners.keys()) listener(events);
        if (events.length < EVENT_PAGE) return;
      }
    } catch (error) {
      // The next poke (or the timer) reads again from the same position: nothing is skipped.
      this.log.warn({ err: error }, 'reading the job event log failed');
    }
  }
}

export interface EventLogOptions {
  /** The safety-net poll of the live feed (EVENTS_POLL_MS, default 1,000). */
  pollMs?: number;
  log: Logger;
}

/** The job event log of one database, as cursors, pages and live streams. */
export class EventLog {
  private readonly feed: LiveFeed;
  private id: Promise<string> | null = null;

  constructor(
    private readonly store: JobStore,
    options: EventLogOptions,
  ) {
    this.feed = new LiveFeed(store, options.pollMs ?? 1_000, options.log);
  }

  /**
   * Calls `listener` with each batch of events committed from now on (by any instance), in log order; returns its
   * removal. With `types`, the batches may hold only events of those types (the log is then read for them alone).
   */
  listen(listener: (events: StoredEvent[]) => void, types: readonly string[] | null = null): Promise<() => void> {
    return this.feed.attach(listener, types);
  }

  /** This database's id (read once). */
  databaseId(): Promise<string> {
    this.id ??= this.store.databaseId().catch((error) => {
      this.id = null;
      throw error;
    });
    return this.id;
  }

  /** The cursor of an event read by its id alone (a job's `events`): its position is looked up. */
  async cursorsOf(ids: number[]): Promise<Map<number, string>> {
    const [databaseId, positions] = await Promise.all([this.databaseId(), this.store.eventPositions(ids)]);
    return new Map([...positions].map(([id, position]) => [id, encodeCursor(databaseId, position)]));
  }

  /**
   * The position a client's `after` names; BAD_USER_INPUT when it is not a cursor, is another database's, or is
   * older than every event kept (the events after it may have been deleted: retention, or their jobs deleted).
   */
  async positionOf(after: string | null | undefined): Promise<EventPosition | null> {
    if (after === null || after === undefined) return null;
    const decoded = decodeCursor(after);
    if (!decoded) throw badInput('after: not an event cursor (pass the `cursor` of a JobEvent, as it was given)', { field: 'after' });
    if (decoded.databaseId !== (await this.databaseId())) {
      throw badInput('after: this cursor is from another database; start without `after` (or from a cursor this server gave)', { field: 'after' });
    }
    const bounds = await this.store.eventBounds();
    if (bounds && isAfter(bounds.first, decoded.position)) {
      throw badInput(
        'after: this cursor is older than the events still kept (older ones were deleted, e.g. by retention); events since then may be lost: read the jobs again and start without `after`',
        { field: 'after' },
      );
    }
    return decoded.position;
  }

  /** Up to `first` events after `after` that match `filter`, and whether more follow. */
  async page(after: EventPosition | null, filter: EventFilter, first: number): Promise<{ events: CursoredEvent[]; hasNextPage: boolean }> {
    const [databaseId, rows] = await Promise.all([this.databaseId(), this.store.eventsAfter(after, filter, first + 1)]);
    return { events: rows.slice(0, first).map((row) => ({ ...row, cursor: encodeCursor(databaseId, row) })), hasNextPage: rows.length > first };
  }

  /**
   * Every event after `after` that matches `filter`, in log order, then every new one as it is committed: the live
   * feed is attached first (its events queue up), the log is replayed from the database until a read comes back
   * short, and the queue follows, skipping what the replay already gave (the position only moves forward).
   */
  follow(after: EventPosition | null, filter: EventFilter): Repeater<CursoredEvent> {
    const matches = (event: StoredEvent) =>
      (filter.ownerId == null || event.ownerId === filter.ownerId) &&
      (filter.queue == null || event.queue === filter.queue) &&
      (filter.kind == null || event.kind === filter.kind) &&
      (filter.jobId == null || event.jobId === filter.jobId);
    return new Repeater<CursoredEvent>(async (push, stop) => {
      const databaseId = await this.databaseId();
      let queued: StoredEvent[] = [];
      let overflowed = false;
      let wake: (() => void) | null = null;
      const detach = await this.feed.attach((events) => {
        for (const event of events) {
          if (!matches(event)) continue;
          if (queued.length >= MAX_QUEUED) {
            overflowed = true;
            queued = [];
          }
          if (!overflowed) queued.push(event);
        }
        wake?.();
      });
      let stopped = false;
      void stop.then(() => {
        stopped = true;
        wake?.();
      });
      let position = after;
      let replaying = true;
      const give = async (event: StoredEvent) => {
        position = event;
        await push({ ...event, cursor: encodeCursor(databaseId, event) });
      };
      try {
        while (!stopped) {
          if (replaying) {
            const events = await this.store.eventsAfter(position, filter, EVENT_PAGE);
            for (const event of events) if (!stopped) await give(event);
            if (events.length < EVENT_PAGE) replaying = false;
            continue;
          }
          if (overflowed) {
            // This reader fell behind: what was queued is read again from the log.
            overflowed = false;
            queued = [];
            replaying = true;
            continue;
          }
          const event = queued.shift();
          if (!event) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = null;
            continue;
          }
          if (isAfter(event, position)) await give(event);
        }
      } catch (error) {
        stop(error);
      } finally {
        detach();
      }
    });
  }
}
