import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { handleProtocols } from 'graphql-ws/use/bun';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import type { Server } from 'bun';
import { handleCompatRequest } from './analytics/compat';
import { createResponseCache, ResponseFreshness, usePreParsedBody, userOfRequest } from './graphql/response-cache';
import { type App, createApp } from './app';
import type { Config } from './config';
import { ErrorCode } from './errors';
import type { GraphQLContext } from './graphql/context';
import { createErrorMasker, requestError, useCsrfPrevention, useSubscriptionErrorStatus } from './graphql/errors';
import { operationParamsProblem, useQueryLimits } from './graphql/limits';
import { useOperationLog } from './graphql/logging';
import { buildSchema } from './graphql/schema';
import { queryStringProblem, readBodyLimited } from './http/body';
import { RateLimiter } from './http/rate-limit';
import { readiness } from './http/ready';
import { endableStream, SessionStreams } from './http/session-streams';
import { createWebSocketHandler, type SocketData } from './http/websocket';
import { createLogger, type Logger } from './logger';
import { requestScope } from './request-context';
import { MALFORMED_AUTHORIZATION, parseAuthorization } from './users/tokens';

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

const errorResponse = (status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}, details: Record<string, unknown> = {}) =>
  json(status, { errors: [{ message, extensions: { code, ...details } }] }, headers);

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
      useCsrfPrevention(CSRF_HEADERS),
      useQueryLimits(app.config),
      useSubscriptionErrorStatus(),
      useOperationLog(app.log),
      responseCache.plugin,
      usePreParsedBody(),
    ],
    context: (initial: YogaInitialContext & TransportContext) => {
      // WebSocket operations carry the authorization they chose (see http/websocket.ts) in connectionParams.
      const fromSocket = initial.connectionParams !== undefined;
      const authorization = parseAuthorization(
        fromSocket ? (initial.connectionParams!.authorization as string | undefined) : initial.request?.headers.get('authorization'),
      );
      if (authorization.kind === 'malformed') throw requestError(ErrorCode.UNAUTHENTICATED, MALFORMED_AUTHORIZATION, 401);
      const token = authorization.kind === 'bearer' ? authorization.token : null;
      const user = !token ? null : fromSocket ? app.users.authenticate(token) : userOfRequest(app, initial.request);
      // A token that was sent but no longer works is an error, not a silent downgrade to anonymous.
      if (token && !user) {
        throw requestError(ErrorCode.UNAUTHENTICATED, 'user info error', 401, { reason: 'invalid, expired or revoked token' });
      }
      return { app, user, clientAddress: initial.clientAddress, requestId: initial.requestId, freshness: new ResponseFreshness() };
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
  const rateLimiter = new RateLimiter(config.rateLimitPerSecond);
  const sessionStreams = new SessionStreams((token) => app.users.authenticate(token));
  app.users.onSessionsChanged(() => sessionStreams.scheduleRecheck());
  const graphqlWs = createWebSocketHandler(app, yoga as never, {
    rateLimiter,
    // The same rule per connection, so one socket cannot use up its whole address's allowance alone.
    connectionLimiter: new RateLimiter(config.rateLimitPerSecond),
    sessionStreams,
  });
  // Open sockets, so a shutdown can close each one cleanly (1001 Going Away) instead of dropping it.
  type Socket = import('bun').ServerWebSocket<SocketData>;
  const sockets = new Set<Socket>();
  const websocket = {
    ...graphqlWs,
    // Bun closes a socket (1009) whose message is larger; the same bound as an HTTP body.
    maxPayloadLength: config.maxBodyBytes,
    open(socket: Socket) {
      sockets.add(socket);
      return graphqlWs.open(socket);
    },
    close(socket: Socket, code: number, reason: string) {
      sockets.delete(socket);
      return graphqlWs.close(socket, code, reason);
    },
  };

  async function handleRequest(request: Request, server: Server<SocketData>, requestId: string): Promise<Response | undefined> {
    const clientAddress = server.requestIP(request)?.address ?? null;
    const url = new URL(request.url);
    const { pathname } = url;

    if (pathname === '/health') return json(200, { status: 'ok' });
    if (pathname === '/ready') return readiness(app, request);
    const isCompat = pathname.startsWith(COMPAT_PREFIX);
    if (pathname !== GRAPHQL_PATH && !isCompat) return errorResponse(404, ErrorCode.NOT_FOUND, `no route ${pathname}; GraphQL is at ${GRAPHQL_PATH}`);

    const wait = rateLimiter.take(clientAddress ?? 'unknown');
    if (wait > 0) {
      app.log.warn({ requestId, address: clientAddress }, 'rate limited');
      return errorResponse(429, ErrorCode.RATE_LIMITED, `too many requests; retry in ${wait} s`, { 'retry-after': String(wait) });
    }

    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket' && !isCompat) {
      // graphql-ws can't see the subprotocol after the upgrade, so check it here.
      if (!handleProtocols(request.headers.get('sec-websocket-protocol') ?? '')) {
        return errorResponse(400, ErrorCode.BAD_USER_INPUT, 'unsupported WebSocket subprotocol; use graphql-transport-ws');
      }
      const data: SocketData = { clientAddress, authorization: request.headers.get('authorization'), sessions: new Map(), connectionId: crypto.randomUUID() };
      return server.upgrade(request, { data }) ? undefined : errorResponse(400, ErrorCode.BAD_USER_INPUT, 'WebSocket upgrade failed');
    }

    // One body rule for every route: multipart uploads (calc files) may be larger than anything else.
    const contentType = request.headers.get('content-type')?.toLowerCase() ?? '';
    const bodyLimit = contentType.startsWith('multipart/form-data') ? config.maxUploadBytes : config.maxBodyBytes;
    const tooLarge = (bytes: number) => {
      app.log.warn({ requestId, address: clientAddress, bytes }, 'request body too large');
      return errorResponse(413, ErrorCode.BAD_USER_INPUT, `request body of ${bytes} bytes exceeds the limit of ${bodyLimit} bytes`);
    };
    const declared = Number(request.headers.get('content-length') ?? 0);
    if (declared > bodyLimit) return tooLarge(declared);
    const body = await readBodyLimited(request, bodyLimit);
    if ('tooLarge' in body) return tooLarge(body.tooLarge);
    if (request.body) request = new Request(request, { body: body.bytes });

    if (isCompat) return handleCompatRequest(app, request, pathname);

    if (request.method === 'GET') {
      const problem = queryStringProblem(url);
      if (problem) return errorResponse(400, ErrorCode.BAD_USER_INPUT, problem);
    }
    let preParsedParams: unknown;
    if (request.method === 'POST' && contentType.includes('application/json')) {
      try {
        preParsedParams = JSON.parse(new TextDecoder().decode(body.bytes));
      } catch {
        // Not JSON: Yoga reads the body again and answers the error in its own words.
      }
      if (preParsedParams !== undefined) {
        const problem = operationParamsProblem(preParsedParams);
        if (problem) {
          app.log.warn({ requestId, address: clientAddress, problem: problem.message }, 'rejected request');
          return errorResponse(400, ErrorCode.BAD_USER_INPUT, problem.message, {}, problem.extensions.limit ? { limit: problem.extensions.limit } : {});
        }
        // A cached answer skips Yoga altogether; otherwise Yoga takes the body as we parsed it.
        const cached = await responseCache.serveFromCache(request, preParsedParams as { query: string });
        if (cached) return cached;
      }
    }
    const response = await yoga.fetch(request, { clientAddress, requestId, preParsedParams });
    return endWithSession(request, response);
  }

  /** A streaming answer (SSE, multipart) opened with a token ends when that token stops working. */
  function endWithSession(request: Request, response: Response): Response {
    const type = response.headers.get('content-type') ?? '';
    const streaming = type.startsWith('text/event-stream') || type.startsWith('multipart/mixed');
    const user = streaming && response.body ? userOfRequest(app, request) : null;
    if (!user || !response.body) return response;
    const token = parseAuthorization(request.headers.get('authorization'));
    if (token.kind !== 'bearer') return response;
    let untrack = () => {};
    const { stream, end } = endableStream(response.body, () => untrack());
    untrack = sessionStreams.track(token.token, user, (reason) => {
      const error = { message: reason, extensions: { code: ErrorCode.UNAUTHENTICATED } };
      end(type.startsWith('text/event-stream') ? `event: next\ndata: ${JSON.stringify({ errors: [error] })}\n\nevent: complete\ndata:\n\n` : undefined);
    });
    return new Response(stream, { status: response.status, headers: response.headers });
  }

  // A busy port throws here.
  const server = await closingAppOnFailure(app, () => Bun.serve<SocketData>({
    port: config.port,
    hostname: config.host,
    // Never Bun's development error page (it shows paths and source); unexpected errors answer masked JSON.
    development: false,
    // Bun closes idle connections after 10 s by default; Yoga pings SSE streams every 12 s.
    idleTimeout: 60,
    // Bun's own cap answers with an empty 413; ours answers with a coded error, so Bun's sits above it.
    maxRequestBodySize: Math.max(config.maxBodyBytes, config.maxUploadBytes) * 2 + 65536,
    websocket,
    fetch(request, server) {
      const requestId = request.headers.get('x-request-id')?.slice(0, 64) || crypto.randomUUID();
      return requestScope.run({ requestId }, async () => {
        try {
          const response = await handleRequest(request, server, requestId);
          response?.headers.set('x-request-id', requestId);
          return response;
        } catch (error) {
          return unexpected(error, requestId);
        }
      });
    },
    error: (error) => unexpected(error, crypto.randomUUID()),
  }));

  /** The last line of defence: logged with the request id, masked for the client. */
  function unexpected(error: unknown, requestId: string): Response {
    log.error({ err: error, requestId }, 'unexpected error');
    return errorResponse(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.', { 'x-request-id': requestId }, { requestId });
  }

  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${server.port}${GRAPHQL_PATH}`;
  log.info({ port: server.port, url, database: config.databasePath }, 'jobgraph listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Reads keep working while the jobs drain; new submissions get UNAVAILABLE.
      await app.jobs.drain(config.shutdownTimeoutMs);
      app.jobs.stop();
      for (const socket of sockets) socket.close(1001, 'server shutting down');
      sessionStreams.endAll('server shutting down');
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
