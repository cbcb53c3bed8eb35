// Every HTTP request's way through the server: /health and /ready, then the guards (rate, body), WebSocket upgrades,
// the REST compatibility routes, and GraphQL — its parameters checked before any parsing, a cached answer served
// without entering Yoga, and streaming answers tied to the session that opened them.
import { handleProtocols } from 'graphql-ws/use/bun';
import { shouldRenderGraphiQL } from 'graphql-yoga';
import type { Server } from 'bun';
import { createAnalyticsCompat } from '../analytics/compat';
import type { App } from '../app';
import { databaseOutage } from '../db/outage';
import { ErrorCode } from '../errors';
import { clientParamsProblem, needsYoga } from '../graphql/client-protocols';
import { isRefusalLogged } from '../graphql/logging';
import type { DocumentCaches } from '../graphql/document-caches';
import type { createResponseCache } from '../graphql/response-cache';
import { handleQuoteRequest } from '../quotes/compat';
import { handleRelayRequest, RELAY_PREFIX, RELAY_ROOT } from '../relay/compat';
import type { RestRequest } from '../rest';
import { handlePiRequest } from '../simulations/compat';
import { requestScope } from '../request-context';
import { authenticateRequest, sameAuthentication } from '../users/auth';
import { queryStringProblem } from './body';
import { DASHBOARD_PATH, dashboardAssets } from './dashboard';
import { directAnswerType } from './direct-answers';
import { GRAPHIQL_ASSET_PREFIX, graphiqlAsset, graphiqlScript } from './graphiql';
import { createGraphQLFastPath, type OperationParams } from './graphql-fast-path';
import { GRAPHQL_PATH, type GraphQLHandler } from './graphql-handler';
import { multipartProblem, readBodyWithinLimit, refuseOverRate, type RequestOrigin } from './guards';
import type { LiveOperationCaps } from './live-operations';
import type { Metrics } from './metrics';
import type { AddressRateLimiter } from './rate-limit';
import { logAccess, logSubscriptionEnd } from './access-log';
import { readiness } from './ready';
import { errorResponse, json } from './responses';
import { endingWithSession, isStreamingResponse, type SessionStreams } from './session-streams';
import { serveAsset } from './static-assets';
import type { SocketData } from './websocket';

/** A subscription stream's name for its end line: the request's operationName, else the document's first subscription's. */
function operationNameOf(url: URL, params: unknown): string | null {
  const { operationName, query } = (params ?? {}) as { operationName?: unknown; query?: unknown };
  if (typeof operationName === 'string') return operationName;
  const text = typeof query === 'string' ? query : url.searchParams.get('query');
  return url.searchParams.get('operationName') ?? /\bsubscription\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(text ?? '')?.[1] ?? null;
}

/** The source analytics system's REST interface, kept for its clients (src/analytics/compat.ts). */
const COMPAT_PREFIX = '/api/';

/** The source systems' REST routes (src/<domain>/compat.ts), by the path they answer. */
type RestRoute = 'analytics' | 'pi' | 'quote' | 'relay';

/**
 * A refusal before a source service's route runs (over the rate, a body too large) in that source's own error shape:
 * `{"error": …}` for /pi and /quote, `{"status": "error", "reason": …}` for /api. The relay answers GraphQL's shape.
 */
async function inSourceShape(route: RestRoute, refusal: Response): Promise<Response> {
  if (route === 'relay') return refusal;
  const sent = (await refusal.json().catch(() => null)) as { errors?: { message?: string }[] } | null;
  const message = sent?.errors?.[0]?.message ?? 'request refused';
  const headers = new Headers(refusal.headers);
  headers.delete('content-length');
  return new Response(JSON.stringify(route === 'analytics' ? { status: 'error', reason: message } : { error: message }), { status: refusal.status, headers });
}
function restRouteOf(pathname: string): RestRoute | null {
  if (pathname.startsWith(COMPAT_PREFIX)) return 'analytics';
  if (pathname === '/pi') return 'pi';
  if (pathname === '/quote') return 'quote';
  if (pathname.startsWith(RELAY_PREFIX) || pathname === RELAY_ROOT) return 'relay';
  return null;
}

export interface RequestPipelineParts {
  app: App;
  yoga: GraphQLHandler;
  responseCache: ReturnType<typeof createResponseCache>;
  documentCaches: DocumentCaches;
  rateLimiter: AddressRateLimiter;
  sessionStreams: SessionStreams;
  liveOperationCaps: LiveOperationCaps;
  metrics: Metrics;
}

/** Bun.serve's `fetch` and `error`: every answer carries its request id; nothing unexpected leaves unmasked. */
export function createRequestHandler({ app, yoga, responseCache, documentCaches, rateLimiter, sessionStreams, liveOperationCaps, metrics }: RequestPipelineParts) {
  const { config, log } = app;
  const handleAnalyticsCompat = createAnalyticsCompat(app);
  const fastPath = createGraphQLFastPath(yoga, app.users, documentCaches);

  function routeRest(route: RestRoute, rest: RestRequest): Promise<Response> {
    if (route === 'analytics') return handleAnalyticsCompat(rest);
    if (route === 'pi') return handlePiRequest(app, rest);
    if (route === 'quote') return handleQuoteRequest(app, rest);
    return handleRelayRequest(app, rest);
  }

  /** Answers that were GraphQL operations: the operation log has their line, so the access log skips them. */
  const operationAnswers = new WeakSet<Response>();

  async function route(request: Request, origin: RequestOrigin, url: URL, server: Server<SocketData>): Promise<Response | undefined> {
    const { pathname } = url;

    if (pathname === '/health') return json(200, { status: 'ok' });
    if (pathname === '/ready') return readiness(app, request);
    if (pathname === '/metrics') return metrics.respond(request, origin.clientAddress);
    // The source's README wrote its URLs `//api/…`: leading slashes collapse to one on the REST routes.
    const restPath = pathname.replace(/^\/{2,}/, '/');
    const restRoute = restRouteOf(restPath);
    const isCompat = restRoute !== null;
    const isDashboard = pathname === '/' || pathname === DASHBOARD_PATH || pathname.startsWith(`${DASHBOARD_PATH}/`);
    const isGraphiQLScript = pathname.startsWith(GRAPHIQL_ASSET_PREFIX);
    if (pathname !== GRAPHQL_PATH && !isCompat && !isDashboard && !isGraphiQLScript) return errorResponse(404, ErrorCode.NOT_FOUND, `no route ${pathname}; GraphQL is at ${GRAPHQL_PATH}`);

    const overRate = await refuseOverRate(rateLimiter, log, origin);
    if (overRate) return restRoute ? inSourceShape(restRoute, overRate) : overRate;
    if (isDashboard) return dashboard(request, pathname);
    if (isGraphiQLScript) return graphiqlScriptFile(request, pathname);
    // GraphiQL, as Yoga would decide to render it (a GET that accepts HTML), but precompressed and cached.
    if (pathname === GRAPHQL_PATH && shouldRenderGraphiQL(request)) return serveAsset(await graphiqlAsset(), request);
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket' && !isCompat) return upgrade(request, server, origin);

    // Uploads past MAX_BODY_BYTES are for signed-in callers: nobody anonymous gets 64 MiB buffered for them.
    const signedIn = (await authenticateRequest(app.users, request)).user !== null;
    const limits = { maxBodyBytes: config.maxBodyBytes, maxUploadBytes: signedIn ? config.maxUploadBytes : config.maxBodyBytes };
    const body = await readBodyWithinLimit(request, limits, log, origin);
    if (body instanceof Response) return restRoute ? inSourceShape(restRoute, body) : body;
    const problem = request.body ? multipartProblem(request.headers.get('content-type'), body.bytes) : null;
    if (problem) return logRefusal(problem, request, origin);

    if (restRoute) return routeRest(restRoute, { request: withBufferedBody(request, body.bytes), pathname: restPath, ...origin, log, anonymousAccess: config.anonymousAccess });
    return graphql(request, url, body.bytes, origin);
  }

  /** The request around the body already read, for whoever reads it again (Yoga, the REST routes). */
  function withBufferedBody(request: Request, bytes: Uint8Array<ArrayBuffer>): Request {
    if (!request.body) return request;
    const buffered = new Request(request, { body: bytes });
    sameAuthentication(request, buffered);
    return buffered;
  }

  /** `/` leads to the dashboard; `/dashboard` is its page, `/dashboard/<chunk>` its hashed bundles. */
  async function dashboard(request: Request, pathname: string): Promise<Response> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return errorResponse(405, ErrorCode.BAD_USER_INPUT, `${pathname} answers GET only`, { allow: 'GET, HEAD' });
    if (pathname === '/') return new Response(null, { status: 302, headers: { location: DASHBOARD_PATH } });
    const built = await dashboardAssets(log);
    if ('failure' in built) return errorResponse(503, ErrorCode.UNAVAILABLE, 'the dashboard could not be built; see the server log');
    const asset = built.assets.get(pathname.slice(DASHBOARD_PATH.length) || '/');
    return asset ? serveAsset(asset, request) : errorResponse(404, ErrorCode.NOT_FOUND, `no dashboard file ${pathname}`);
  }

  /** `/graphiql/<hash>.js`: a script of GraphiQL's page (the page itself is GET /graphql asking for HTML). */
  async function graphiqlScriptFile(request: Request, pathname: string): Promise<Response> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return errorResponse(405, ErrorCode.BAD_USER_INPUT, `${pathname} answers GET only`, { allow: 'GET, HEAD' });
    const script = await graphiqlScript(pathname.slice(GRAPHIQL_ASSET_PREFIX.length));
    return script ? serveAsset(script, request) : errorResponse(404, ErrorCode.NOT_FOUND, `no GraphiQL file ${pathname}`);
  }

  function upgrade(request: Request, server: Server<SocketData>, { clientAddress }: RequestOrigin): Response | undefined {
    // graphql-ws can't see the subprotocol after the upgrade, so check it here.
    if (!handleProtocols(request.headers.get('sec-websocket-protocol') ?? '')) {
      return errorResponse(400, ErrorCode.BAD_USER_INPUT, 'unsupported WebSocket subprotocol; use graphql-transport-ws');
    }
    const data: SocketData = {
      clientAddress,
      authorization: request.headers.get('authorization'),
      sessions: new Map(),
      connectionId: crypto.randomUUID(),
      operations: new Map(),
    };
    return server.upgrade(request, { data }) ? undefined : errorResponse(400, ErrorCode.BAD_USER_INPUT, 'WebSocket upgrade failed');
  }

  async function graphql(request: Request, url: URL, bytes: Uint8Array<ArrayBuffer>, origin: RequestOrigin): Promise<Response> {
    if (request.method === 'GET') {
      const problem = queryStringProblem(url);
      if (problem) return logRefusal(errorResponse(400, ErrorCode.BAD_USER_INPUT, problem), request, origin);
    }
    let preParsedParams: unknown;
    if (request.method === 'POST' && request.headers.get('content-type')?.toLowerCase().includes('application/json')) {
      try {
        preParsedParams = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        // Not JSON: Yoga reads the body again and answers the error in its own words.
      }
      if (preParsedParams !== undefined) {
        const problem = clientParamsProblem(preParsedParams);
        if (problem) {
          const limit = problem.extensions.limit ? { limit: problem.extensions.limit } : {};
          return logRefusal(errorResponse(400, ErrorCode.BAD_USER_INPUT, problem.message, {}, limit), request, origin);
        }
        // The gates come first: a cached answer or the fast path only for a request Yoga would answer the same way.
        // APQ, batches, @defer/@stream and graphql-sse's own requests are Yoga's alone.
        const answerType = needsYoga(request, preParsedParams) ? undefined : directAnswerType(request, preParsedParams as object);
        if (answerType) {
          // A cached answer skips Yoga altogether; otherwise Yoga takes the body as we parsed it.
          const cached = await responseCache.serveFromCache(request, preParsedParams as { query: string }, answerType);
          if (cached) {
            metrics.cachedAnswer();
            operationAnswers.add(cached);
            return cached;
          }
          const answered = await fastPath.execute(request, preParsedParams as OperationParams, { ...origin, preParsedParams }, answerType);
          if (answered) {
            operationAnswers.add(answered);
            return answered;
          }
        }
      }
    }
    request = withBufferedBody(request, bytes);
    let response = await yoga.fetch(request, { ...origin, preParsedParams });
    // Yoga answers these two with an empty body; ours say what to send instead.
    if (response.status === 406) {
      response = errorResponse(406, ErrorCode.BAD_USER_INPUT, 'the Accept header allows none of the answers this endpoint gives: application/json, application/graphql-response+json, text/event-stream, multipart/mixed');
    } else if (response.status === 415) {
      const sent = request.headers.get('content-type')?.slice(0, 100) || 'none';
      response = errorResponse(415, ErrorCode.BAD_USER_INPUT, `unsupported media type (Content-Type: ${sent}): POST a GraphQL request as application/json, or multipart/form-data for an upload`);
    }
    if (isStreamingResponse(response)) return countedStream(response, request, origin, operationNameOf(url, preParsedParams));
    // GraphiQL's page is a route like any other; everything else Yoga answers went through the operation log.
    if (!response.headers.get('content-type')?.startsWith('text/html')) operationAnswers.add(response);
    return response.status >= 400 && !isRefusalLogged(request) ? logRefusal(response, request, origin) : response;
  }

  /**
   * Refusals before any operation runs (the server's parameter checks; Yoga's: an unreadable body, the CSRF
   * header, a bad token) get their log line here: the address, the username when known, and the messages sent.
   */
  async function logRefusal(response: Response, request: Request, origin: RequestOrigin): Promise<Response> {
    const body = (await response
      .clone()
      .json()
      .catch(() => null)) as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | null;
    const errors = body?.errors ?? [];
    log.warn(
      {
        requestId: origin.requestId,
        address: origin.clientAddress,
        username: (await authenticateRequest(app.users, request)).user?.username ?? null,
        status: response.status,
        errorCodes: [...new Set(errors.map((error) => error.extensions?.code))],
        errors: errors.map((error) => error.message),
      },
      'rejected request',
    );
    return response;
  }

  /**
   * A stream (a subscription over SSE or multipart) counts against its user's and address's caps until it ends, and
   * ends with its session. Only Yoga knows whether an answer streams (any Accept, even none, may get one), so one
   * over a cap is cancelled (its subscription stops) before anything is sent.
   */
  async function countedStream(response: Response, request: Request, origin: RequestOrigin, operation: string | null): Promise<Response> {
    const authentication = await authenticateRequest(app.users, request);
    const counted = liveOperationCaps.acquire({ userId: authentication.user?.id ?? null, clientAddress: origin.clientAddress });
    if ('release' in counted) {
      const started = performance.now();
      const transport = response.headers.get('content-type')?.startsWith('text/event-stream') ? 'sse' : 'multipart';
      const answer = endingWithSession(sessionStreams, response, authentication, (reason, events) => {
        counted.release();
        logSubscriptionEnd(log, { transport, operation, started, events, reason, address: origin.clientAddress, userId: authentication.user?.id ?? null, requestId: origin.requestId });
      });
      operationAnswers.add(answer);
      return answer;
    }
    await response.body?.cancel().catch(() => {});
    const { message, limit, max } = counted.refusal;
    log.warn({ requestId: origin.requestId, address: origin.clientAddress, userId: authentication.user?.id, limit }, 'stream over its cap');
    return errorResponse(429, ErrorCode.RATE_LIMITED, message, {}, { limit, max });
  }

  /** The last line of defence: logged with the request id, masked for the client (who can quote the id). */
  function unexpected(error: unknown, requestId: string): Response {
    const outage = databaseOutage(error);
    if (outage) {
      log.warn({ err: (error as Error)?.message, requestId }, 'database unavailable');
      const retryAfterSeconds = outage.details.retryAfterSeconds as number;
      return errorResponse(503, ErrorCode.UNAVAILABLE, outage.message, { 'retry-after': String(retryAfterSeconds), 'x-request-id': requestId }, { retryAfterSeconds });
    }
    log.error({ err: error, requestId }, 'unexpected error');
    return errorResponse(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.', { 'x-request-id': requestId }, { requestId });
  }

  return {
    fetch(request: Request, server: Server<SocketData>) {
      const started = performance.now();
      const requestId = request.headers.get('x-request-id')?.slice(0, 64) || crypto.randomUUID();
      const origin: RequestOrigin = { requestId, clientAddress: server.requestIP(request)?.address ?? null };
      const url = new URL(request.url);
      const traced = (handle: () => Promise<Response | undefined>) => (app.tracing ? app.tracing.inRequestSpan(request, url.pathname, handle) : handle());
      return requestScope.run({ requestId }, () => traced(async () => {
        let response: Response | undefined;
        try {
          response = await route(request, origin, url, server);
          response?.headers.set('x-request-id', requestId);
          // Every answer says what it is and means it: no browser reads a relayed upstream's JSON as a page.
          response?.headers.set('x-content-type-options', 'nosniff');
        } catch (error) {
          response = unexpected(error, requestId);
        }
        // No response: the WebSocket upgrade went through.
        if (!response || !operationAnswers.has(response)) logAccess(log, request, url.pathname, origin, response?.status ?? 101, started);
        metrics.observeHttp(url.pathname, request.method, response?.status ?? 101, (performance.now() - started) / 1000);
        return response;
      }));
    },
    error: (error: Error) => unexpected(error, crypto.randomUUID()),
  };
}
