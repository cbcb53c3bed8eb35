import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { handleProtocols, makeHandler } from 'graphql-ws/use/bun';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import type { Server } from 'bun';
import { handleCompatRequest } from './analytics/compat';
import { createResponseCache, ResponseFreshness, usePreParsedBody, userOfRequest } from './graphql/response-cache';
import { type App, createApp } from './app';
import type { AuthUser } from './users/service';
import type { Config } from './config';
import { ErrorCode } from './errors';
import type { GraphQLContext } from './graphql/context';
import { createErrorMasker, requestError } from './graphql/errors';
import { useQueryLimits } from './graphql/limits';
import { useOperationLog } from './graphql/logging';
import { buildSchema } from './graphql/schema';
import { RateLimiter } from './http/rate-limit';
import { readiness } from './http/ready';
import { createLogger, type Logger } from './logger';
import { requestScope } from './request-context';
import { bearerToken } from './users/tokens';

export const GRAPHQL_PATH = '/graphql';
/** The source analytics system's REST interface, kept for its clients (src/analytics/compat.ts). */
const COMPAT_PREFIX = '/api/';
/** How long a stopping server waits for in-flight HTTP answers before closing every connection. */
const STOP_GRACE_MS = 1000;
const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'graphql-preflight'];

/** What the HTTP and WebSocket transports hand the context factory. */
interface TransportContext {
  clientAddress: string | null;
  requestId: string;
  connectionParams?: Record<string, unknown>;
  /** The request's JSON body, already parsed by the response-cache check (see usePreParsedBody). */
  preParsedParams?: unknown;
}

/** Data Bun keeps on an upgraded WebSocket. */
interface SocketData {
  clientAddress: string | null;
  authorization: string | null;
}

export interface RunningServer {
  app: App;
  server: Server<SocketData>;
  url: string;
  port: number;
  /** Drains the jobs (up to SHUTDOWN_TIMEOUT_SECONDS), closes connections, the pool and the database. */
  stop(): Promise<void>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

const errorResponse = (status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) =>
  json(status, { errors: [{ message, extensions: { code } }] }, headers);

function createGraphQLHandler(app: App, responseCache: ReturnType<typeof createResponseCache>) {
  const graphiqlPage = (() => {
    let page: string | undefined;
    // GraphiQL is bundled in our dependencies (no CDN): users run this offline. Rendered once, it is 9 MB.
    return (options: Parameters<typeof renderGraphiQL>[0]) => (page ??= renderGraphiQL(options));
  })();

  return createYoga<TransportContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // The server measures bodies itself (413 with a code, before Yoga) and may hand Yoga a body it already read.
    maxRequestBodySize: false,
    graphiql: { title: 'jobgraph', subscriptionsProtocol: 'WS' },
    renderGraphiQL: graphiqlPage,
    maskedErrors: { maskError: createErrorMasker(app.log) },
    logging: {
      debug: (...args) => app.log.debug({ yoga: args }, 'yoga'),
      info: (...args) => app.log.info({ yoga: args }, 'yoga'),
      warn: (...args) => app.log.warn({ yoga: args }, 'yoga'),
      // Yoga reports every execution error here, expected ones too; the error masker logs the unexpected ones.
      error: (...args) => app.log.debug({ yoga: args }, 'yoga error'),
    },
    plugins: [
      useCSRFPrevention({ requestHeaders: CSRF_HEADERS }),
      useQueryLimits(app.config),
      useOperationLog(app.log),
      responseCache.plugin,
      usePreParsedBody(),
    ],
    context: (initial: YogaInitialContext & TransportContext) => {
      const authorization =
        (typeof initial.connectionParams?.authorization === 'string' ? initial.connectionParams.authorization : null) ??
        initial.request?.headers.get('authorization') ??
        null;
      const token = bearerToken(authorization);
      const fromHttp = !initial.connectionParams?.authorization && initial.request?.headers;
      const user = !token ? null : fromHttp ? userOfRequest(app, initial.request) : app.users.authenticate(token);
      // A token that was sent but no longer works is an error, not a silent downgrade to anonymous.
      if (token && !user) {
        throw requestError(ErrorCode.UNAUTHENTICATED, 'user info error', 401, { reason: 'invalid, expired or revoked token' });
      }
      return { app, user, clientAddress: initial.clientAddress, requestId: initial.requestId, freshness: new ResponseFreshness() };
    },
  });
}

const stringRecord = (value: unknown) => (value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined);
const stringField = (value: unknown, key: string) => {
  const field = stringRecord(value)?.[key];
  return typeof field === 'string' ? field : undefined;
};

const socketData = (socket: unknown) => (socket as import('bun').ServerWebSocket<SocketData>).data;

function createWebSocketHandler(app: App, yoga: ReturnType<typeof createGraphQLHandler>) {
  return makeHandler<Record<string, unknown>>({
    execute: (args: ExecutionArgs) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
    onConnect: (ctx) => {
      const data = socketData(ctx.extra.socket);
      const authorization = stringField(ctx.connectionParams, 'authorization') ?? data.authorization;
      const token = bearerToken(authorization);
      // A bad token closes the socket (4403) at once; no token is fine for public subscriptions.
      return token ? app.users.authenticate(token) !== null : true;
    },
    onSubscribe: async (ctx, id, payload) => {
      const data = socketData(ctx.extra.socket);
      const enveloped = yoga.getEnveloped({
        clientAddress: data.clientAddress,
        requestId: `ws-${id}-${crypto.randomUUID()}`,
        connectionParams: {
          ...ctx.connectionParams,
          // GraphiQL sends its header editor per operation, as `extensions.headers`.
          authorization:
            stringField(stringRecord(payload.extensions)?.headers, 'authorization') ??
            stringField(ctx.connectionParams, 'authorization') ??
            data.authorization ??
            undefined,
        },
        params: payload,
      } as never);
      try {
        const document = enveloped.parse(payload.query);
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length) return errors;
        // The token is checked again on every subscribe: a logout since the connection opened takes effect.
        const contextValue = await enveloped.contextFactory();
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
}

/** Nothing may outlive a failed start: the workers, the database, a quote server child. */
async function closingAppOnFailure<T>(app: App, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await app.close();
    throw error;
  }
}

export async function startServer(config: Config, log: Logger = createLogger({ level: config.logLevel, file: config.logFile })): Promise<RunningServer> {
  const app = createApp(config, log);
  const admin = await closingAppOnFailure(app, () => app.users.bootstrapAdmin(config.adminUsername, config.adminPassword));
  if (admin.created && admin.generatedPassword) {
    // Shown once on the console, never written to the log file: the operator copies it and changes it.
    process.stderr.write(
      `\n  jobgraph: created the first admin "${admin.username}" with the generated password:\n\n      ${admin.generatedPassword}\n\n  It is not shown again. Log in and change it (changePassword), or set ADMIN_PASSWORD.\n\n`,
    );
  }

  await closingAppOnFailure(app, () => Promise.all([app.analytics.load(), app.embeddedQuoteServer?.start()]));
  app.jobs.start();
  const responseCache = createResponseCache(app, buildSchema());
  const yoga = createGraphQLHandler(app, responseCache);
  const graphqlWs = createWebSocketHandler(app, yoga);
  // Open sockets, so a shutdown can close each one cleanly (1001 Going Away) instead of dropping it.
  type Socket = import('bun').ServerWebSocket<SocketData>;
  const sockets = new Set<Socket>();
  const websocket = {
    ...graphqlWs,
    open(socket: Socket) {
      sockets.add(socket);
      return graphqlWs.open?.(socket as never);
    },
    close(socket: Socket, code: number, reason: string) {
      sockets.delete(socket);
      return graphqlWs.close?.(socket as never, code, reason);
    },
  };
  const rateLimiter = new RateLimiter(config.rateLimitPerSecond);

  // A busy port throws here.
  const server = await closingAppOnFailure(app, () => Bun.serve<SocketData>({
    port: config.port,
    hostname: config.host,
    // Bun closes idle connections after 10 s by default; Yoga pings SSE streams every 12 s.
    idleTimeout: 60,
    // Bun's own cap answers with an empty 413; ours (below) answers with a coded error, so Bun's sits above it.
    maxRequestBodySize: Math.max(config.maxBodyBytes, config.maxUploadBytes) * 2 + 65536,
    websocket,
    fetch(request, server) {
      const requestId = request.headers.get('x-request-id')?.slice(0, 64) || crypto.randomUUID();
      const clientAddress = server.requestIP(request)?.address ?? null;
      const { pathname } = new URL(request.url);

      if (pathname === '/health') return json(200, { status: 'ok' });
      if (pathname === '/ready') return readiness(app, request);
      const isCompat = pathname.startsWith(COMPAT_PREFIX);
      if (pathname !== GRAPHQL_PATH && !isCompat) return errorResponse(404, ErrorCode.NOT_FOUND, `no route ${pathname}; GraphQL is at ${GRAPHQL_PATH}`);

      const wait = rateLimiter.take(clientAddress ?? 'unknown');
      if (wait > 0) {
        app.log.warn({ requestId, address: clientAddress }, 'rate limited');
        return errorResponse(429, ErrorCode.RATE_LIMITED, `too many requests; retry in ${wait} s`, { 'retry-after': String(wait) });
      }
      const isUpload = request.headers.get('content-type')?.toLowerCase().startsWith('multipart/form-data') ?? false;
      const bodyLimit = isUpload ? config.maxUploadBytes : config.maxBodyBytes;
      const tooLarge = (bytes: number) => {
        app.log.warn({ requestId, address: clientAddress, bytes }, 'request body too large');
        return errorResponse(413, ErrorCode.BAD_USER_INPUT, `request body of ${bytes} bytes exceeds the limit of ${bodyLimit} bytes`);
      };
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > bodyLimit) return tooLarge(length);

      if (isCompat) return requestScope.run({ requestId }, () => handleCompatRequest(app, request, pathname));

      if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
        // graphql-ws can't see the subprotocol after the upgrade, so check it here.
        if (!handleProtocols(request.headers.get('sec-websocket-protocol') ?? '')) {
          return errorResponse(400, ErrorCode.BAD_USER_INPUT, 'unsupported WebSocket subprotocol; use graphql-transport-ws');
        }
        const upgraded = server.upgrade(request, {
          data: { clientAddress, authorization: request.headers.get('authorization') },
        });
        return upgraded ? undefined : errorResponse(400, ErrorCode.BAD_USER_INPUT, 'WebSocket upgrade failed');
      }

      return requestScope.run({ requestId }, async () => {
        if (request.body && !request.headers.has('content-length')) {
          // A chunked body has no declared length: buffer it (Bun caps it) and measure.
          const body = await request.arrayBuffer();
          if (body.byteLength > bodyLimit) return tooLarge(body.byteLength);
          request = new Request(request, { body });
        }
        let preParsedParams: unknown;
        if (request.method === 'POST' && (request.headers.get('content-type') ?? '').includes('application/json')) {
          // A cached answer skips Yoga altogether; otherwise Yoga takes the body as we parsed it.
          const cached = await responseCache.serveFromCache(request);
          if (cached.response) {
            cached.response.headers.set('x-request-id', requestId);
            return cached.response;
          }
          if (cached.unparsed !== undefined) request = new Request(request, { body: cached.unparsed });
          preParsedParams = cached.params;
        }
        const response = await yoga.fetch(request, { clientAddress, requestId, preParsedParams });
        response.headers.set('x-request-id', requestId);
        return response;
      });
    },
  }));

  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${server.port}${GRAPHQL_PATH}`;
  log.info({ port: server.port, url, database: config.databasePath }, 'jobgraph listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Reads keep working while the jobs drain; new submissions get UNAVAILABLE.
      await app.jobs.drain(config.shutdownTimeoutMs);
      app.jobs.stop();
      for (const socket of sockets) socket.close(1001, 'server shutting down');
      // Let in-flight answers (the `shutdown` reply itself, say) go out; then cut what is left (SSE streams).
      await Promise.race([server.stop(), Bun.sleep(STOP_GRACE_MS)]);
      await server.stop(true);
      await app.close();
      log.info('jobgraph stopped');
      log.flush();
    })());
  app.requestShutdown = () => void stop();
  return { app, server, url, port: server.port!, stop };
}
