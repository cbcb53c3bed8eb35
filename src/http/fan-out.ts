// Subscriptions executed once per event for many WebSocket subscribers (issue 13). Subscribers asking the same
// document with the same variables who see the same things (one role, one audience of the field's FanOutHint, see
// src/graphql/fan-out.ts) form a group. The group listens to one source stream, executes each event once, serializes
// the payload once, and sends each member a graphql-transport-ws `next` frame with the member's id spliced in.
// graphql-ws still owns every operation (its id, `complete`, the caps, the socket's close): what it iterates is the
// member, which yields nothing itself and ends when the group ends or the member leaves.
import {
  type DocumentNode,
  type ExecutionResult,
  executeSubscriptionEvent,
  type GraphQLError,
  type GraphQLFormattedError,
  getOperationAST,
  Kind,
  OperationTypeNode,
  print,
  type ValidatedSubscriptionArgs,
} from 'graphql';
import { unavailable } from '../errors';
import { MAX_UNREAD_EVENTS } from '../events';
import { fanOutHintOf } from '../graphql/fan-out';
import type { AuthUser } from '../users/service';

/** What a group needs of a socket (Bun's ServerWebSocket). */
export interface FanOutSocket {
  sendText(text: string): number;
  getBufferedAmount(): number;
}

/** Which group a subscription joins, decided when it is subscribed. */
export interface FanOutPlan {
  key: string;
  /** The root field (`quoteStream`, `jobUpdated`…). */
  field: string;
  replaysLatest: boolean;
}

/**
 * A member is behind, and ended, once its socket holds more unsent bytes than MAX_UNREAD_EVENTS frames of the
 * current size (the bound a pulled stream has, see events.ts), and before Bun's own backpressure limit (16 MiB by
 * default), past which Bun drops frames; a frame Bun dropped ends the member too, so none goes missing unsaid.
 */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A frame's envelope around its payload, with a long id. */
const FRAME_OVERHEAD_BYTES = 64;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** How a member's operation failed, already masked and formatted: websocket.ts sends these as its `error` frame. */
export class FanOutError extends Error {
  constructor(readonly errors: GraphQLFormattedError[]) {
    super(errors[0]?.message ?? 'subscription failed');
  }
}

const printedDocuments = new WeakMap<DocumentNode, string>();
/** Yoga's parse cache hands out one DocumentNode per query text, so this prints each document once. */
function printed(document: DocumentNode): string {
  let text = printedDocuments.get(document);
  if (text === undefined) printedDocuments.set(document, (text = print(document)));
  return text;
}

/**
 * The group of a subscription whose only root field has a FanOutHint (and no directive); nothing for any other
 * operation, which graphql-ws then runs per subscriber as before.
 */
export function planFanOut(
  args: { schema: ValidatedSubscriptionArgs['schema']; document: DocumentNode; operationName?: string | null; variables?: unknown },
  user: AuthUser | null,
): FanOutPlan | undefined {
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return undefined;
  const [selection, ...others] = operation.selectionSet.selections;
  if (!selection || others.length > 0 || selection.kind !== Kind.FIELD || selection.directives?.length) return undefined;
  const field = selection.name.value;
  const hint = fanOutHintOf(args.schema, field);
  if (!hint) return undefined;
  const audience = [user?.role ?? 'ANONYMOUS', hint.audience(user)];
  const key = JSON.stringify([printed(args.document), args.operationName ?? null, args.variables ?? null, ...audience]);
  return { key, field, replaysLatest: hint.replaysLatest === true };
}

export class FanOut {
  private readonly groups = new Map<string, Group>();
  private readonly joinListeners = new Set<(field: string) => void>();

  /** `maskError`: what a client may see of an error (the same masking Yoga applies). */
  constructor(private readonly maskError: (error: unknown) => GraphQLError) {}

  /**
   * The operation graphql-ws iterates for subscription `id` on `socket`. `source` is this subscriber's own stream,
   * already through the field's checks for them (authorization, arguments): it becomes the group's stream when the
   * group is new, and is dropped unread when the group already listens.
   */
  join(plan: FanOutPlan, args: ValidatedSubscriptionArgs, source: AsyncIterable<unknown>, socket: FanOutSocket, id: string): AsyncIterableIterator<never> & { readonly delivered: number } {
    const existing = this.groups.get(plan.key);
    const group = existing ?? new Group(plan, args, this.maskError, (ended) => this.groups.get(plan.key) === ended && this.groups.delete(plan.key));
    const member = new Member(group, socket, id);
    if (existing) {
      void source[Symbol.asyncIterator]().return?.()?.catch?.(() => {});
      if (group.latest !== undefined) member.send(group.latest);
      group.members.add(member);
      for (const listener of this.joinListeners) listener(plan.field);
    } else {
      this.groups.set(plan.key, group);
      group.members.add(member);
      group.listen(source);
    }
    return member;
  }

  /** Calls `listener` with the field's name each time a subscriber joins a group that already listens (tests). */
  onJoin(listener: (field: string) => void): () => void {
    this.joinListeners.add(listener);
    return () => this.joinListeners.delete(listener);
  }

  /** Groups and their members now (tests check that none leak). */
  stats(): { groups: number; members: number } {
    let members = 0;
    for (const group of this.groups.values()) members += group.members.size;
    return { groups: this.groups.size, members };
  }
}

class Group {
  readonly members = new Set<Member>();
  /** The last payload sent, kept for late joiners when the stream begins with the current state. */
  latest: string | undefined;
  private upstream: AsyncIterator<unknown> | undefined;
  private closed = false;

  constructor(
    private readonly plan: FanOutPlan,
    private readonly args: ValidatedSubscriptionArgs,
    private readonly maskError: (error: unknown) => GraphQLError,
    private readonly onClosed: (group: Group) => void,
  ) {}

  /** Starts reading the stream at once: what is published from now on reaches the group. */
  listen(source: AsyncIterable<unknown>): void {
    this.upstream = source[Symbol.asyncIterator]();
    void this.pump(this.upstream);
  }

  private async pump(upstream: AsyncIterator<unknown>): Promise<void> {
    let failure: GraphQLFormattedError[] | undefined;
    try {
      for (;;) {
        const step = await upstream.next();
        if (step.done || this.closed) break;
        // A fresh copy of the first subscriber's context per event, so per-context caches (loaders) start empty.
        const result = await executeSubscriptionEvent({ ...this.args, rootValue: step.value, contextValue: { ...(this.args.contextValue as object) } });
        if (this.closed) break;
        this.deliver(this.serialize(result));
      }
    } catch (error) {
      failure = [this.maskError(error).toJSON()];
    }
    this.close();
    for (const member of this.members) member.finish(failure);
    this.members.clear();
  }

  private serialize({ errors, ...rest }: ExecutionResult): string {
    return JSON.stringify(errors?.length ? { ...rest, errors: errors.map((error) => this.maskError(error)) } : rest);
  }

  private deliver(payload: string): void {
    if (this.plan.replaysLatest) this.latest = payload;
    const behind = Math.min(MAX_UNREAD_EVENTS * (payload.length + FRAME_OVERHEAD_BYTES), MAX_BUFFERED_BYTES);
    for (const member of this.members) {
      // Bun says -1 when the frame waits in the socket's buffer, 0 when it dropped it (over its limit, or closed).
      const sent = member.send(payload);
      if (sent > 0 || (sent === -1 && member.socket.getBufferedAmount() <= behind)) continue;
      this.leave(member);
      const error = unavailable(`this stream fell more than ${MAX_UNREAD_EVENTS} events behind its reader and was ended; subscribe again`);
      member.finish([this.maskError(error).toJSON()]);
    }
  }

  leave(member: Member): void {
    this.members.delete(member);
    if (this.members.size > 0 || this.closed) return;
    this.close();
    // Stops the source (the pending read resolves as done, and the pump ends).
    void this.upstream?.return?.()?.catch(() => {});
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this);
  }
}

/** One subscriber's operation, as graphql-ws iterates it: it never yields; its one read settles when it ends. */
class Member implements AsyncIterableIterator<never> {
  private readonly framePrefix: string;
  private ended = false;
  private failure: GraphQLFormattedError[] | undefined;
  private settle: { resolve: (result: IteratorResult<never>) => void; reject: (error: unknown) => void } | undefined;

  constructor(
    private readonly group: Group,
    readonly socket: FanOutSocket,
    id: string,
  ) {
    this.framePrefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  /** Frames sent or buffered (the access log's count of events delivered). */
  delivered = 0;

  send(payload: string): number {
    const sent = this.socket.sendText(`${this.framePrefix}${payload}}`);
    if (sent !== 0) this.delivered++;
    return sent;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<never>> {
    if (this.ended) return this.failure ? Promise.reject(new FanOutError(this.failure)) : Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  /** graphql-ws calls this on the client's `complete` and when the socket closes. */
  return(): Promise<IteratorResult<never>> {
    this.group.leave(this);
    this.finish();
    return Promise.resolve(DONE);
  }

  throw(): Promise<IteratorResult<never>> {
    return this.return();
  }

  /** Ends the operation: graphql-ws then sends `complete`, or `error` with `failure`. */
  finish(failure?: GraphQLFormattedError[]): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    const settle = this.settle;
    this.settle = undefined;
    if (!settle) return;
    if (failure) settle.reject(new FanOutError(failure));
    else settle.resolve(DONE);
  }
}
