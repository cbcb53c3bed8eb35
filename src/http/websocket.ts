// GraphQL over WebSocket (graphql-transport-ws, graphql-ws): the same Yoga pipeline as HTTP, with the transport's
// own guards — a rate rule per message (per connection and per address), caps on live operations (per connection,
// user and address), the shared parameter checks before any parsing, sockets ended when their session ends (4403),
// and no message able to take the process down. Subscriptions many clients share run once per event (fan-out.ts).
import { createSourceEventStream, type DocumentNode, type ExecutionArgs, getOperationAST, GraphQLError, validateSubscriptionArgs } from 'graphql';
import { CloseCode, MessageType } from 'graphql-ws';
import { makeHandler } from 'graphql-ws/use/bun';
import type { ServerWebSocket } from 'bun';
import type { YogaServerInstance } from 'graphql-yoga';
import type { App } from '../app';
import { ErrorCode } from '../errors';
import { trustedDocumentRefusal } from '../graphql/trusted-documents';
import { createErrorMasker } from '../graphql/errors';
import { jsonTextNestingExceeds, MAX_VALUE_NESTING, operationParamsProblem } from '../graphql/limits';
import { logSubscriptionStarted, type OperationMetrics } from '../graphql/logging';
import { type Authentication, authenticate } from '../users/auth';
import { headerValue } from '../users/tokens';
import { FanOut, FanOutError, type FanOutPlan, planFanOut } from './fan-out';
import type { TransportContext } from './graphql-handler';
import { capRefusal, type LiveOperationCaps, type LiveOperationRefusal } from './live-operations';
import { logSubscriptionEnd } from './access-log';
import type { AddressRateLimiter, RateLimiter } from './rate-limit';
import type { SessionStreams } from './session-streams';

/** Data Bun keeps on an upgraded WebSocket. */
export interface SocketData {
  clientAddress: string | null;
  /** The upgrade request's Authorization header, used when connectionParams carry none. */
  authorization: string | null;
  /** The tokens this socket used, each followed in SessionStreams (the value stops following it). */
  sessions: Map<string, () => void>;
  connectionId: string;
  /** This socket's live operations by id, each with what uncounts it from the per-user and per-address caps. */
  operations: Map<string, () => void>;
  /** Whether graphql-ws still runs the operation with this id (set once the socket is acknowledged). */
  isRunning?: (id: string) => boolean;
  /** Its subscriptions by operation id, for the line each writes when it ends (see access-log.ts). */
  subscriptions?: Map<string, LiveSubscription>;
  /** Set as the socket closes: why its subscriptions end. */
  closedBecause?: string;
}

interface LiveSubscription {
  operation: string | null;
  started: number;
  events: number;
  requestId: string;
  userId: number | null;
  failed?: string;
  /** Set when it joined a shared group (fan-out.ts), which counts what it delivered. */
  member?: { readonly delivered: number };
}

type Socket = ServerWebSocket<SocketData>;

/** graphql-ws has no code for "session ended"; 4403 (Forbidden) is what its clients treat as final. */
export const SESSION_ENDED_CLOSE_CODE = CloseCode.Forbidden;
const TOO_MANY_MESSAGES_CLOSE_CODE = 4429;

const socketOf = (extra: unknown) => (extra as { socket: Socket }).socket;

export interface WebSocketGuards {
  rateLimiter: AddressRateLimiter;
  connectionLimiter: RateLimiter;
  sessionStreams: SessionStreams;
  liveOperationCaps: LiveOperationCaps;
  /** Live operations one socket may hold at once; 0: no cap. */
  maxOperationsPerConnection: number;
  /** Bun closes a socket (1009) whose message is larger. */
  maxPayloadLength: number;
  /** Subscriptions that join a shared group skip Yoga's hooks: they are counted here. */
  operationMetrics?: OperationMetrics;
}

export function createWebSocketHandler(
  app: App,
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>,
  guards: WebSocketGuards,
) {
  // Open sockets, so a shutdown can close each one cleanly (1001 Going Away) instead of dropping it.
  const sockets = new Set<Socket>();

  /** Follows the socket's session: when the token stops working, the socket closes with 4403. */
  const followSession = (socket: Socket, { user, token }: Authentication) => {
    if (!user || socket.data.sessions.has(token)) return;
    socket.data.sessions.set(token, guards.sessionStreams.track(token, user, (reason) => socket.close(SESSION_ENDED_CLOSE_CODE, reason)));
  };

  const fanOut = new FanOut(createErrorMasker(app.log));

  /**
   * A subscription that may share its events: this subscriber's own stream is opened (the field's checks run for
   * them), then it joins its group. A refusal takes the usual way, so it reads exactly as before.
   */
  const subscribeGrouped = async (plan: FanOutPlan, args: ExecutionArgs, socket: Socket, id: string, subscribe: (args: ExecutionArgs) => unknown) => {
    const validated = validateSubscriptionArgs(args);
    if (!('schema' in validated)) return subscribe(args);
    const source = await createSourceEventStream(validated);
    if (!(Symbol.asyncIterator in Object(source))) return subscribe(args);
    logSubscriptionStarted(app.log, args, guards.operationMetrics);
    const member = fanOut.join(plan, validated, source as AsyncIterable<unknown>, socket, id);
    const live = socket.data.subscriptions?.get(id);
    if (live) live.member = member;
    // graphql-ws holds these arguments while the operation runs; a member needs none of them (its group has its own).
    Object.assign(args, { contextValue: undefined, rootValue: undefined });
    return member;
  };

  const graphqlWs = makeHandler<Record<string, unknown>>({
    execute: (args: ExecutionArgs) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
    // A grouped operation that failed (its stream ended with an error, its reader fell behind) says so, masked and coded.
    onConnect: async (ctx) => {
      const socket = socketOf(ctx.extra);
      const authentication = await authenticate(app.users, headerValue(ctx.connectionParams, 'authorization') ?? socket.data.authorization);
      // A bad or malformed token closes the socket (4403) at once; no token is fine for public subscriptions.
      if (authentication.failure) return false;
      followSession(socket, authentication);
      socket.data.isRunning = (id) => id in ctx.subscriptions;
      return true;
    },
    onSubscribe: async (ctx, id, payload) => {
      const problem = operationParamsProblem(payload);
      if (problem) return forSocket([problem], ErrorCode.BAD_USER_INPUT);
      const socket = socketOf(ctx.extra);
      // GraphiQL sends its header editor per operation, as `extensions.headers`; any letter case is accepted.
      const authorization =
        headerValue((payload.extensions as Record<string, unknown> | undefined)?.headers, 'authorization') ??
        headerValue(ctx.connectionParams, 'authorization') ??
        socket.data.authorization;
      // The token is checked again on every subscribe: a logout since the connection opened takes effect.
      const authentication = await authenticate(app.users, authorization);
      const untrusted = await trustedDocumentRefusal(app.trustedDocuments, payload.query, async () => authentication.user?.role === 'ADMIN');
      if (untrusted) return forSocket([untrusted], ErrorCode.PERSISTED_QUERY_NOT_IN_LIST);
      // Counted before any parsing, so a client at its cap costs no more than this refusal.
      const refusal = countOperation(socket, id, authentication);
      if (refusal) return [new GraphQLError(refusal.message, { extensions: { code: ErrorCode.RATE_LIMITED, limit: refusal.limit, max: refusal.max } })];
      const transport: TransportContext = {
        clientAddress: socket.data.clientAddress,
        requestId: `ws-${id}-${crypto.randomUUID()}`,
        authentication,
      };
      const enveloped = yoga.getEnveloped({ ...transport, params: payload } as never);
      let document: DocumentNode;
      try {
        document = enveloped.parse(payload.query);
      } catch (error) {
        if (error instanceof GraphQLError) return forSocket([error], 'GRAPHQL_PARSE_FAILED');
        throw error;
      }
      try {
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length) return forSocket(errors, 'GRAPHQL_VALIDATION_FAILED');
        // Refuses a malformed or dead token the way HTTP does (see graphql-handler.ts), after the document's checks.
        const contextValue = await enveloped.contextFactory();
        followSession(socket, authentication);
        const operation = getOperationAST(document, payload.operationName);
        if (operation?.operation === 'subscription') {
          (socket.data.subscriptions ??= new Map()).set(id, {
            operation: operation.name?.value ?? null,
            started: performance.now(),
            events: 0,
            requestId: transport.requestId,
            userId: authentication.user?.id ?? null,
          });
        }
        const plan = planFanOut({ schema: enveloped.schema, document, operationName: payload.operationName, variables: payload.variables }, authentication.user);
        const subscribe = plan ? (args: ExecutionArgs) => subscribeGrouped(plan, args, socket, id, enveloped.subscribe) : enveloped.subscribe;
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute: enveloped.execute, subscribe },
        };
      } catch (error) {
        if (error instanceof GraphQLError) return forSocket([error], ErrorCode.BAD_USER_INPUT);
        throw error;
      }
    },
    // A subscription refused when it starts (its rule, a missing job) answers one result instead of a stream.
    onOperation: (ctx, id, _payload, _args, result) => {
      const subscription = socketOf(ctx.extra).data.subscriptions?.get(id);
      if (subscription && !(Symbol.asyncIterator in Object(result))) {
        subscription.failed = `refused: ${(result as { errors?: readonly { message: string }[] }).errors?.[0]?.message ?? 'no stream'}`;
      }
    },
    onNext: (ctx, id) => {
      const subscription = socketOf(ctx.extra).data.subscriptions?.get(id);
      if (subscription) subscription.events++;
    },
    onError: (ctx, id, _payload, errors) => {
      // A grouped operation that failed (its stream ended with an error, its reader fell behind) says so, masked and coded.
      const formatted = errors.length === 1 && errors[0]!.cause instanceof FanOutError ? errors[0]!.cause.errors : undefined;
      const subscription = socketOf(ctx.extra).data.subscriptions?.get(id);
      if (subscription) subscription.failed = `error: ${formatted?.[0]?.message ?? errors[0]?.message ?? 'unknown'}`;
      return formatted;
    },
    // Every operation ends here: its source finished or failed, the client completed it, or the socket closed.
    onComplete: (ctx, id) => {
      const socket = socketOf(ctx.extra);
      const subscription = socket.data.subscriptions?.get(id);
      if (!subscription) return;
      socket.data.subscriptions!.delete(id);
      const { failed, member, ...measured } = subscription;
      // A member of a shared group is sent its events by the group, not through graphql-ws' onNext.
      measured.events += member?.delivered ?? 0;
      const reason = failed ?? socket.data.closedBecause ?? (id in ctx.subscriptions ? 'completed' : 'client completed it');
      logSubscriptionEnd(app.log, { transport: 'websocket', ...measured, reason, address: socket.data.clientAddress });
    },
  });

  /**
   * Uncounts the operations graphql-ws no longer runs. A subscribe message is handled until its operation ends
   * (completed by either side, failed, refused), so this runs after each one; `close` uncounts whatever is left.
   */
  const uncountEnded = (socket: Socket) => {
    const { operations, isRunning } = socket.data;
    for (const [id, release] of operations) {
      if (isRunning?.(id)) continue;
      operations.delete(id);
      release();
    }
  };

  /** Counts operation `id` against the caps (connection, user, address), or says which cap refuses it. */
  const countOperation = (socket: Socket, id: string, { user }: Authentication): LiveOperationRefusal | undefined => {
    // A `complete` the client sent just before this frees its slot at once (graphql-ws forgot that id already).
    uncountEnded(socket);
    const { operations, clientAddress } = socket.data;
    const max = guards.maxOperationsPerConnection;
    let refusal = max > 0 && operations.size >= max ? capRefusal('subscriptionsPerConnection', max) : undefined;
    if (!refusal) {
      const counted = guards.liveOperationCaps.acquire({ userId: user?.id ?? null, clientAddress });
      if ('release' in counted) operations.set(id, counted.release);
      else refusal = counted.refusal;
    }
    if (refusal) app.log.warn({ address: clientAddress, userId: user?.id, limit: refusal.limit }, 'websocket operation over its cap');
    return refusal;
  };

  /** Refuses a subscribe over the rate (its id gets a RATE_LIMITED error); a flood of anything else closes. */
  const refuseOverRate = (socket: Socket, message: string | Buffer): boolean => {
    const wait = Math.max(
      guards.rateLimiter.takeNow(socket.data.clientAddress ?? 'unknown'),
      guards.connectionLimiter.take(socket.data.connectionId),
    );
    if (wait === 0) return false;
    const parsed = parseEnvelope(message);
    app.log.warn({ address: socket.data.clientAddress, type: parsed?.type }, 'websocket message rate limited');
    if (parsed?.type === MessageType.Subscribe && typeof parsed.id === 'string') {
      const error = { message: `too many operations; retry in ${wait} s`, extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: wait } };
      socket.sendText(JSON.stringify({ type: MessageType.Error, id: parsed.id, payload: [error] }));
    } else {
      socket.close(TOO_MANY_MESSAGES_CLOSE_CODE, 'too many messages');
    }
    return true;
  };

  /** An operation nested too deeply gets a coded error and the socket lives on; any other such message closes it. */
  const refuseTooDeep = (socket: Socket, message: string | Buffer) => {
    const problem = `nests deeper than the limit of ${MAX_VALUE_NESTING} levels`;
    const parsed = parseEnvelope(message);
    if (parsed?.type === MessageType.Subscribe && typeof parsed.id === 'string') {
      const error = { message: `variables ${problem}`, extensions: { code: ErrorCode.BAD_USER_INPUT, limit: 'nesting' } };
      socket.sendText(JSON.stringify({ type: MessageType.Error, id: parsed.id, payload: [error] }));
    } else {
      socket.close(CloseCode.BadRequest, `message ${problem}`);
    }
  };

  return {
    maxPayloadLength: guards.maxPayloadLength,
    /** The groups of shared subscriptions (tests watch them). */
    fanOut,
    open(socket: Socket) {
      sockets.add(socket);
      return graphqlWs.open(socket as never);
    },
    async message(socket: Socket, message: string | Buffer) {
      if (refuseOverRate(socket, message)) return;
      // The envelope adds a level or two to what a payload may hold.
      if (jsonTextNestingExceeds(String(message), MAX_VALUE_NESTING + 2)) {
        refuseTooDeep(socket, message);
        return;
      }
      try {
        await graphqlWs.message(socket as never, message as never);
      } catch (error) {
        // A message only a server may send (`next`, `error`, `complete` before subscribing…) is the client's mistake.
        const text = error instanceof Error ? error.message : '';
        if (text.startsWith('Unexpected message of type')) {
          app.log.warn({ address: socket.data.clientAddress, problem: text }, 'websocket protocol violation');
          socket.close(CloseCode.BadRequest, text.slice(0, 120));
          return;
        }
        // Nothing a client sends may end the process: log it, close this socket with graphql-ws's internal error.
        app.log.error({ err: error, address: socket.data.clientAddress }, 'websocket message failed');
        socket.close(CloseCode.InternalServerError, 'Internal server error');
      } finally {
        uncountEnded(socket);
      }
    },
    async close(socket: Socket, code: number, reason: string) {
      sockets.delete(socket);
      socket.data.closedBecause = `connection closed (${code}${reason ? ` ${reason}` : ''})`;
      for (const untrack of socket.data.sessions.values()) untrack();
      guards.connectionLimiter.forget(socket.data.connectionId);
      for (const release of socket.data.operations.values()) release();
      socket.data.operations.clear();
      try {
        await graphqlWs.close(socket as never, code, reason);
      } catch (error) {
        app.log.debug({ err: error }, 'websocket close');
      }
    },
    /** Open sockets now (the metrics read it). */
    connections: () => sockets.size,
    /** Server shutdown: 1001 Going Away on every open socket. */
    closeAll(reason: string) {
      for (const socket of sockets) socket.close(1001, reason);
    },
  };
}

/** A message's `type` and `id` (JSON.parse is native and iterative: safe at any depth), or nothing if not JSON. */
function parseEnvelope(message: string | Buffer): { type?: unknown; id?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(String(message));
    return parsed && typeof parsed === 'object' ? (parsed as { type?: unknown; id?: unknown }) : undefined;
  } catch {
    // Not even JSON: graphql-ws closes the socket for it.
    return undefined;
  }
}

/**
 * Errors as a socket sends them: each with a code (GraphQL's own, as HTTP gives them) and without the HTTP-only
 * `extensions.http`. Copies, because Yoga caches parse and validation errors and shares them with HTTP requests.
 */
function forSocket(errors: readonly GraphQLError[], fallbackCode: string): GraphQLError[] {
  return errors.map((error) => {
    const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions: { ...extensions, code: extensions.code ?? fallbackCode },
    });
  });
}
