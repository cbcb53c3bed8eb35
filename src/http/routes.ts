// Every HTTP request's way through the server: /health and /ready, then the guards (rate, body), WebSocket upgrades,
// the REST compatibility routes, and GraphQL — its parameters checked before any parsing, a cached answer served
// without entering Yoga, and streaming answers tied to the session that opened them.
import { handleProtocols } from 'graphql-ws/use/bun';
import type { Server } from 'bun';
import { handleCompatRequest } from '../analytics/compat';
import type { App } from '../app';
import { ErrorCode } from '../errors';
import { operationParamsProblem } from '../graphql/limits';
import type { createResponseCache } from '../graphql/response-cache';
import { requestScope } from '../request-context';
import { authenticateRequest, sameAuthentication } from '../users/auth';
import { queryStringProblem } from './body';
import { GRAPHQL_PATH, type GraphQLHandler } from './graphql-handler';
import { multipartProblem, readBodyWithinLimit, refuseOverRate, type RequestOrigin } from './guards';
import type { LiveOperationCaps } from './live-operations';
import type { RateLimiter } from './rate-limit';
import { readiness } from './ready';
import { errorResponse, json } from './responses';
import { endingWithSession, isStreamingResponse, type SessionStreams } from './session-streams';
import type { SocketData } from './websocket';

/** The source analytics system's REST interface, kept for its clients (src/analytics/compat.ts). */
const COMPAT_PREFIX = '/api/';

export interface RequestPipelineParts {
  app: App;
  yoga: GraphQLHandler;
  responseCache: ReturnType<typeof createResponseCache>;
  rateLimiter: RateLimiter;
  sessionStreams: SessionStreams;
  liveOperationCaps: LiveOperationCaps;
}

/** Bun.serve's `fetch` and `error`: every answer carries its request id; nothing unexpected leaves unmasked. */
export function createRequestHandler({ app, yoga, responseCache, rateLimiter, sessionStreams, liveOperationCaps }: RequestPipelineParts) {
  const { config, log } = app;

  async function route(request: Request, server: Server<SocketData>, requestId: string): Promise<Response | undefined> {
    const origin: RequestOrigin = { requestId, clientAddress: server.requestIP(request)?.address ?? null };
    const url = new URL(request.url);
    const { pathname } = url;

    if (pathname === '/health') return json(200, { status: 'ok' });
    if (pathname === '/ready') return readiness(app, request);
    const isCompat = pathname.startsWith(COMPAT_PREFIX);
    if (pathname !== GRAPHQL_PATH && !isCompat) return errorResponse(404, ErrorCode.NOT_FOUND, `no route ${pathname}; GraphQL is at ${GRAPHQL_PATH}`);

    const overRate = refuseOverRate(rateLimiter, log, origin);
    if (overRate) return overRate;
    if (request.headers.get('upgrade')?.toLowerCase() === 'websocket' && !isCompat) return upgrade(request, server, origin);

    // Uploads past MAX_BODY_BYTES are for signed-in callers: nobody anonymous gets 64 MiB buffered for them.
    const signedIn = (await authenticateRequest(app.users, request)).user !== null;
    const limits = { maxBodyBytes: config.maxBodyBytes, maxUploadBytes: signedIn ? config.maxUploadBytes : config.maxBodyBytes };
    const body = await readBodyWithinLimit(request, limits, log, origin);
    if (body instanceof Response) return body;
    if (request.body) {
      const buffered = new Request(request, { body: body.bytes });
      sameAuthentication(request, buffered);
      request = buffered;
      const problem = multipartProblem(request.headers.get('content-type'), body.bytes);
      if (problem) return problem;
    }

    if (isCompat) return handleCompatRequest(app, request, pathname);
    return graphql(request, url, body.bytes, origin);
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

  async function graphql(request: Request, url: URL, bytes: Uint8Array, origin: RequestOrigin): Promise<Response> {
    if (request.method === 'GET') {
      const problem = queryStringProblem(url);
      if (problem) return errorResponse(400, ErrorCode.BAD_USER_INPUT, problem);
    }
    let preParsedParams: unknown;
    if (request.method === 'POST' && request.headers.get('content-type')?.toLowerCase().includes('application/json')) {
      try {
        preParsedParams = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        // Not JSON: Yoga reads the body again and answers the error in its own words.
      }
      if (preParsedParams !== undefined) {
        const problem = operationParamsProblem(preParsedParams);
        if (problem) {
          log.warn({ requestId: origin.requestId, address: origin.clientAddress, problem: problem.message }, 'rejected request');
          return errorResponse(400, ErrorCode.BAD_USER_INPUT, problem.message, {}, problem.extensions.limit ? { limit: problem.extensions.limit } : {});
        }
        // A cached answer skips Yoga altogether; otherwise Yoga takes the body as we parsed it.
        const cached = await responseCache.serveFromCache(request, preParsedParams as { query: string });
        if (cached) return cached;
      }
    }
    const response = await yoga.fetch(request, { ...origin, preParsedParams });
    if (response.status === 406) {
      return errorResponse(406, ErrorCode.BAD_USER_INPUT, 'the Accept header allows none of the answers this endpoint gives: application/json, application/graphql-response+json, text/event-stream, multipart/mixed');
    }
    return isStreamingResponse(response) ? countedStream(response, request, origin) : response;
  }

  /**
   * A stream (a subscription over SSE or multipart) counts against its user's and address's caps until it ends, and
   * ends with its session. Only Yoga knows whether an answer streams (any Accept, even none, may get one), so one
   * over a cap is cancelled (its subscription stops) before anything is sent.
   */
  async function countedStream(response: Response, request: Request, origin: RequestOrigin): Promise<Response> {
    const authentication = await authenticateRequest(app.users, request);
    const counted = liveOperationCaps.acquire({ userId: authentication.user?.id ?? null, clientAddress: origin.clientAddress });
    if ('release' in counted) return endingWithSession(sessionStreams, response, authentication, counted.release);
    await response.body?.cancel().catch(() => {});
    const { message, limit, max } = counted.refusal;
    log.warn({ requestId: origin.requestId, address: origin.clientAddress, userId: authentication.user?.id, limit }, 'stream over its cap');
    return errorResponse(429, ErrorCode.RATE_LIMITED, message, {}, { limit, max });
  }

  /** The last line of defence: logged with the request id, masked for the client (who can quote the id). */
  function unexpected(error: unknown, requestId: string): Response {
    log.error({ err: error, requestId }, 'unexpected error');
    return errorResponse(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.', { 'x-request-id': requestId }, { requestId });
  }

  return {
    fetch(request: Request, server: Server<SocketData>) {
      const requestId = request.headers.get('x-request-id')?.slice(0, 64) || crypto.randomUUID();
      return requestScope.run({ requestId }, async () => {
        try {
          const response = await route(request, server, requestId);
          response?.headers.set('x-request-id', requestId);
          return response;
        } catch (error) {
          return unexpected(error, requestId);
        }
      });
    },
    error: (error: Error) => unexpected(error, crypto.randomUUID()),
  };
}
