// GraphQL over WebSocket (graphql-transport-ws, graphql-ws): the same Yoga pipeline as HTTP, with the transport's
// own guards — a rate rule per message (per connection and per address), caps on live operations (per connection,
// user and address), the shared parameter checks before any parsing, sockets ended when their session ends (4403),
// and no message able to take the process down.
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode, MessageType } from 'graphql-ws';
import { makeHandler } from 'graphql-ws/use/bun';
import type { ServerWebSocket } from 'bun';
import type { YogaServerInstance } from 'graphql-yoga';
import type { App } from '../app';
import { ErrorCode } from '../errors';
import { jsonTextNestingExceeds, MAX_VALUE_NESTING, operationParamsProblem } from '../graphql/limits';
import { type Authentication, authenticate } from '../users/auth';
import { headerValue } from '../users/tokens';
import type { TransportContext } from './graphql-handler';
import { capRefusal, type LiveOperationCaps, type LiveOperationRefusal } from './live-operations';
import type { RateLimiter } from './rate-limit';
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
}

type Socket = ServerWebSocket<SocketData>;

/** graphql-ws has no code for "session ended"; 4403 (Forbidden) is what its clients treat as final. */
export const SESSION_ENDED_CLOSE_CODE = CloseCode.Forbidden;
const TOO_MANY_MESSAGES_CLOSE_CODE = 4429;

const socketOf = (extra: unknown) => (extra as { socket: Socket }).socket;

export interface WebSocketGuards {
  rateLimiter: RateLimiter;
  connectionLimiter: RateLimiter;
  sessionStreams: SessionStreams;
  liveOperationCaps: LiveOperationCaps;
  /** Live operations one socket may hold at once; 0: no cap. */
  maxOperationsPerConnection: number;
  /** Bun closes a socket (1009) whose message is larger. */
  maxPayloadLength: number;
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

  const graphqlWs = makeHandler<Record<string, unknown>>({
    execute: (args: ExecutionArgs) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
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
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      } catch (error) {
        if (error instanceof GraphQLError) return forSocket([error], ErrorCode.BAD_USER_INPUT);
        throw error;
      }
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
      guards.rateLimiter.take(socket.data.clientAddress ?? 'unknown'),
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
