// GraphQL over WebSocket (graphql-transport-ws, graphql-ws): the same Yoga pipeline as HTTP, with the transport's
// own guards — a rate rule per message (per connection and per address), the shared parameter checks before any
// parsing, sockets ended when their session ends (4403), and no message able to take the process down.
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode, MessageType } from 'graphql-ws';
import { makeHandler } from 'graphql-ws/use/bun';
import type { ServerWebSocket } from 'bun';
import type { YogaServerInstance } from 'graphql-yoga';
import type { App } from '../app';
import { ErrorCode } from '../errors';
import { requestError } from '../graphql/errors';
import { operationParamsProblem } from '../graphql/limits';
import { headerValue, MALFORMED_AUTHORIZATION, parseAuthorization } from '../users/tokens';
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
}

type Socket = ServerWebSocket<SocketData>;

/** graphql-ws has no code for "session ended"; 4403 (Forbidden) is what its clients treat as final. */
export const SESSION_ENDED_CLOSE_CODE = CloseCode.Forbidden;
const TOO_MANY_MESSAGES_CLOSE_CODE = 4429;

const socketOf = (extra: unknown) => (extra as { socket: Socket }).socket;

export function createWebSocketHandler(
  app: App,
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>,
  guards: { rateLimiter: RateLimiter; connectionLimiter: RateLimiter; sessionStreams: SessionStreams },
) {
  /** Follows the socket's session: when the token stops working, the socket closes with 4403. */
  const trackToken = (socket: Socket, token: string) => {
    const user = app.users.authenticate(token);
    if (!user) return false;
    if (!socket.data.sessions.has(token)) {
      socket.data.sessions.set(token, guards.sessionStreams.track(token, user, (reason) => socket.close(SESSION_ENDED_CLOSE_CODE, reason)));
    }
    return true;
  };

  const graphqlWs = makeHandler<Record<string, unknown>>({
    execute: (args: ExecutionArgs) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
    onConnect: (ctx) => {
      const socket = socketOf(ctx.extra);
      const authorization = parseAuthorization(headerValue(ctx.connectionParams, 'authorization') ?? socket.data.authorization);
      // A bad or malformed token closes the socket (4403) at once; no token is fine for public subscriptions.
      if (authorization.kind === 'malformed') return false;
      return authorization.kind === 'none' || trackToken(socket, authorization.token);
    },
    onSubscribe: async (ctx, id, payload) => {
      const problem = operationParamsProblem(payload);
      if (problem) return [problem];
      const socket = socketOf(ctx.extra);
      // GraphiQL sends its header editor per operation, as `extensions.headers`; any letter case is accepted.
      const authorization =
        headerValue((payload.extensions as Record<string, unknown> | undefined)?.headers, 'authorization') ??
        headerValue(ctx.connectionParams, 'authorization') ??
        socket.data.authorization ??
        undefined;
      const parsed = parseAuthorization(authorization);
      if (parsed.kind === 'malformed') return [requestError(ErrorCode.UNAUTHENTICATED, MALFORMED_AUTHORIZATION, 401)];
      const enveloped = yoga.getEnveloped({
        clientAddress: socket.data.clientAddress,
        requestId: `ws-${id}-${crypto.randomUUID()}`,
        connectionParams: { ...ctx.connectionParams, authorization },
        params: payload,
      } as never);
      try {
        const document = enveloped.parse(payload.query);
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length) return errors;
        // The token is checked again on every subscribe: a logout since the connection opened takes effect.
        const contextValue = await enveloped.contextFactory();
        if (parsed.kind === 'bearer' && !trackToken(socket, parsed.token)) {
          return [requestError(ErrorCode.UNAUTHENTICATED, 'user info error', 401)];
        }
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      } catch (error) {
        if (error && typeof error === 'object' && 'extensions' in error) return [error as GraphQLError];
        throw error;
      }
    },
  });

  /** Refuses a subscribe over the rate (its id gets a RATE_LIMITED error); a flood of anything else closes. */
  const refuseOverRate = (socket: Socket, message: string | Buffer): boolean => {
    const wait = Math.max(
      guards.rateLimiter.take(socket.data.clientAddress ?? 'unknown'),
      guards.connectionLimiter.take(socket.data.connectionId),
    );
    if (wait === 0) return false;
    let parsed: { type?: unknown; id?: unknown } | undefined;
    try {
      parsed = JSON.parse(String(message));
    } catch {
      // Not even JSON: graphql-ws would close the socket for it anyway.
    }
    app.log.warn({ address: socket.data.clientAddress, type: parsed?.type }, 'websocket message rate limited');
    if (parsed?.type === MessageType.Subscribe && typeof parsed.id === 'string') {
      const error = { message: `too many operations; retry in ${wait} s`, extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: wait } };
      socket.sendText(JSON.stringify({ type: MessageType.Error, id: parsed.id, payload: [error] }));
    } else {
      socket.close(TOO_MANY_MESSAGES_CLOSE_CODE, 'too many messages');
    }
    return true;
  };

  return {
    open(socket: Socket) {
      return graphqlWs.open(socket as never);
    },
    async message(socket: Socket, message: string | Buffer) {
      if (refuseOverRate(socket, message)) return;
      try {
        await graphqlWs.message(socket as never, message as never);
      } catch (error) {
        // Nothing a client sends may end the process: log it, close this socket with graphql-ws's internal error.
        app.log.error({ err: error, address: socket.data.clientAddress }, 'websocket message failed');
        socket.close(CloseCode.InternalServerError, 'Internal server error');
      }
    },
    async close(socket: Socket, code: number, reason: string) {
      for (const untrack of socket.data.sessions.values()) untrack();
      try {
        await graphqlWs.close(socket as never, code, reason);
      } catch (error) {
        app.log.debug({ err: error }, 'websocket close');
      }
    },
  };
}
