import { ErrorCode } from '../errors';
import type { Authentication } from '../users/auth';
import type { AuthUser } from '../users/service';

/** How often open streams are checked for an expired token (the bound is 1 s). */
const EXPIRY_SWEEP_MS = 250;

interface TrackedStream {
  token: string;
  user: AuthUser;
  end: (reason: string) => void;
}

/**
 * Long-lived streams (WebSocket connections, SSE responses) opened with a token. A stream lives only while its
 * token still authenticates to the same user with the same role: logout, expiry, a disabled or deleted account, a
 * password change that revoked the session, or a role change ends it. Checked again after every change to users
 * or sessions, and for expiry a few times a second while any stream is open.
 */
export class SessionStreams {
  private readonly streams = new Set<TrackedStream>();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private recheckScheduled = false;

  constructor(
    private readonly authenticate: (token: string) => Promise<AuthUser | null>,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  /** Follows one stream; the returned function stops following it (call it when the stream ends by itself). */
  track(token: string, user: AuthUser, end: (reason: string) => void): () => void {
    const stream: TrackedStream = { token, user, end };
    this.streams.add(stream);
    this.sweepTimer ??= setInterval(() => this.sweepExpired(), EXPIRY_SWEEP_MS);
    return () => this.forget(stream);
  }

  /**
   * Re-checks every stream's token once the current synchronous work is done, so a change is judged after its
   * transaction committed, and a burst of changes costs one pass.
   */
  scheduleRecheck(): void {
    if (this.recheckScheduled || this.streams.size === 0) return;
    this.recheckScheduled = true;
    queueMicrotask(async () => {
      this.recheckScheduled = false;
      // One lookup per token (the session cache was just cleared), all at once.
      await Promise.all(
        [...this.streams].map(async (stream) => {
          const current = await this.authenticate(stream.token);
          if (!this.streams.has(stream)) return;
          if (!current) this.endStream(stream, 'session ended: logged out, expired or revoked');
          else if (current.id !== stream.user.id || current.role !== stream.user.role) this.endStream(stream, 'session ended: role changed');
        }),
      );
    });
  }

  /** Ends every stream (server shutdown). */
  endAll(reason: string): void {
    for (const stream of this.streams) this.endStream(stream, reason);
  }

  private sweepExpired(): void {
    const now = this.now();
    for (const stream of this.streams) {
      if (stream.user.expiresAt <= now) this.endStream(stream, 'session ended: token expired');
    }
  }

  private endStream(stream: TrackedStream, reason: string): void {
    this.forget(stream);
    stream.end(reason);
  }

  private forget(stream: TrackedStream): void {
    this.streams.delete(stream);
    if (this.streams.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }
}

const encoder = new TextEncoder();

/** How a stream ended and how many events it delivered (the access log's subscription line). */
export type StreamEnd = (reason: string, events: number) => void;

/**
 * The chunk Yoga writes before each event: SSE's `event: next` line, multipart's part header. Yoga enqueues each
 * piece separately and a reader gets chunks as enqueued, so counting events compares one short chunk per event.
 */
const EVENT_MARKERS = {
  sse: encoder.encode('event: next\n'),
  multipart: encoder.encode('Content-Type: application/json; charset=utf-8'),
};

const isMarker = (chunk: Uint8Array, marker: Uint8Array | undefined) =>
  marker !== undefined && chunk.length === marker.length && chunk[0] === marker[0] && chunk.every((byte, i) => byte === marker[i]);

/**
 * Wraps a streaming response body (SSE or multipart) so the server can end it: `end` sends `finalChunk` (for SSE,
 * an error event and `complete`), closes the stream and cancels the source, which stops the subscription behind it.
 * `onClose` hears once why it ended and how many chunks equal to `eventMarker` (events) went out.
 */
export function endableStream(source: ReadableStream<Uint8Array>, onClose: StreamEnd, eventMarker?: Uint8Array) {
  const reader = source.getReader();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  let events = 0;
  const finish = (reason: string) => {
    if (ended) return false;
    ended = true;
    onClose(reason, events);
    return true;
  };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    async pull(c) {
      try {
        const { value, done } = await reader.read();
        if (ended) return;
        if (done) {
          finish('completed');
          c.close();
        } else {
          if (isMarker(value, eventMarker)) events++;
          c.enqueue(value);
        }
      } catch (error) {
        if (finish(`error: ${(error as Error)?.message ?? error}`)) c.error(error);
      }
    },
    cancel(reason) {
      finish('client went away');
      return reader.cancel(reason);
    },
  });
  const end = (reason: string, finalChunk?: string) => {
    if (!finish(reason)) return;
    try {
      if (finalChunk) controller.enqueue(encoder.encode(finalChunk));
      controller.close();
    } catch {
      // The client went away first.
    }
    reader.cancel('session ended').catch(() => {});
  };
  return { stream, end };
}

/** Whether an HTTP answer is a stream (a subscription over SSE or multipart) that outlives the request. */
export function isStreamingResponse(response: Response): boolean {
  const type = response.headers.get('content-type') ?? '';
  return response.body !== null && (type.startsWith('text/event-stream') || type.startsWith('multipart/mixed'));
}

/**
 * A streaming answer opened with a token ends when that token stops working; SSE clients get the reason first.
 * `onEnd` runs once when the stream ends, however it ends (done, the client gone, the session ended), with why and
 * the events it delivered.
 */
export function endingWithSession(streams: SessionStreams, response: Response, { user, token }: Authentication, onEnd: StreamEnd = () => {}): Response {
  if (!response.body) {
    onEnd('completed', 0);
    return response;
  }
  const sse = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  let untrack = () => {};
  const { stream, end } = endableStream(
    response.body,
    (reason, events) => {
      untrack();
      onEnd(reason, events);
    },
    sse ? EVENT_MARKERS.sse : EVENT_MARKERS.multipart,
  );
  if (user) untrack = streams.track(token, user, (reason) => {
    const error = { message: reason, extensions: { code: ErrorCode.UNAUTHENTICATED } };
    end(reason, sse ? `event: next\ndata: ${JSON.stringify({ errors: [error] })}\n\nevent: complete\ndata:\n\n` : undefined);
  });
  return new Response(stream, { status: response.status, headers: response.headers });
}
