// What the common GraphQL clients send with their defaults, each answered by Yoga's own plugin: Apollo's automatic
// persisted queries (a hash in `extensions.persistedQuery`), graphql-sse's single-connection mode (a PUT that
// reserves a stream, then operations POSTed with its token), and `@defer`/`@stream`. Batching is Yoga's `batching`
// option (see graphql-handler.ts). The server's own shortcuts (response cache, fast path) step aside for all of
// these: see needsYoga.
import { createInMemoryAPQStore, useAPQ } from '@graphql-yoga/plugin-apq';
import { useDeferStream } from '@graphql-yoga/plugin-defer-stream';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode, HTTP_STATUS_OF } from '../errors';
import { operationParamsProblem } from './limits';
import type { TrustedDocuments } from '../persisted-operations';
import { trustedDocumentRefusal } from './trusted-documents';

/** Operations one HTTP request may batch (a JSON array); a longer array is refused before any runs. */
export const MAX_BATCHED_OPERATIONS = 10;

/** Persisted documents remembered per process, and for how long; a miss costs the client one retry with the document. */
const PERSISTED_QUERIES = 1000;
const PERSISTED_QUERY_TTL_MS = 3_600_000;

/** graphql-sse's header (and query parameter) naming a reserved single-connection stream. */
const STREAM_TOKEN_HEADER = 'x-graphql-event-stream-token';

/** A request of graphql-sse's single-connection mode: the reservation (PUT), the stream, an operation or its end. */
export function isSseSingleConnectionRequest(request: Request): boolean {
  // The reservation is a PUT without a body; any other PUT stays Yoga's 405.
  if (request.method === 'PUT') return !request.headers.has('content-type');
  // Every GraphQL request asks: the URL is parsed only when it could hold the parameter.
  return request.headers.has(STREAM_TOKEN_HEADER) || (request.url.includes('token=') && new URL(request.url).searchParams.has('token'));
}

/**
 * Whether a request must go through Yoga rather than the server's shortcuts (cached answers, the fast path): a
 * persisted-query hash (APQ stores or looks up the document in Yoga's onParams), a batch, an incremental
 * document, or a graphql-sse single-connection request. `params` is the JSON body, when there is one.
 */
export function needsYoga(request: Request, params: unknown): boolean {
  if (Array.isArray(params)) return true;
  const { query, extensions } = (params ?? {}) as { query?: unknown; extensions?: { persistedQuery?: unknown } | null };
  if (extensions?.persistedQuery !== undefined) return true;
  // Text, not a parse: a `@defer` in a comment or string only sends the request the longer way.
  if (typeof query === 'string' && (query.includes('@defer') || query.includes('@stream'))) return true;
  return isSseSingleConnectionRequest(request);
}

/**
 * operationParamsProblem over what these clients send: each operation of a batch (Yoga refuses one too long), and a
 * persisted-query hash without its document (the limits check the document once APQ has found it).
 */
export function clientParamsProblem(params: unknown): GraphQLError | null {
  if (!Array.isArray(params)) return operationProblem(params);
  if (params.length === 0) return emptyBatch();
  for (const operation of params.slice(0, MAX_BATCHED_OPERATIONS + 1)) {
    const problem = operationProblem(operation);
    if (problem) return problem;
  }
  return null;
}

function operationProblem(params: unknown): GraphQLError | null {
  const { query, extensions } = (params ?? {}) as { query?: unknown; extensions?: { persistedQuery?: unknown } | null };
  const hashOnly = query === undefined && extensions?.persistedQuery !== undefined;
  return operationParamsProblem(hashOnly ? { ...(params as object), query: '' } : params);
}

const emptyBatch = () =>
  new GraphQLError('a batch must hold at least one operation: [{"query": "…"}, …]', { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } });

/** An empty batch, however it came (a JSON body or a multipart `operations`), is the client's mistake. */
function useNonEmptyBatches(): Plugin {
  return {
    onRequestParse: () => ({
      onRequestParseDone({ requestParserResult }) {
        if (Array.isArray(requestParserResult) && requestParserResult.length === 0) throw emptyBatch();
      },
    }),
  };
}

/**
 * Yoga's APQ plugin, for params that are an object: anything else is left to the limits' refusal (a 400). The trusted
 * documents (PERSISTED_ONLY) are always known by their hash, so their clients may send the hash alone.
 */
function usePersistedQueries(trustedDocuments: TrustedDocuments | null): Plugin {
  const remembered = createInMemoryAPQStore({ max: PERSISTED_QUERIES, ttl: PERSISTED_QUERY_TTL_MS });
  const store = { get: (hash: string) => trustedDocuments?.get(hash) ?? remembered.get(hash), set: (hash: string, document: string) => remembered.set(hash, document) };
  const apq = useAPQ({ store }) as Plugin;
  return {
    onParams(payload) {
      if (payload.params !== null && typeof payload.params === 'object') return apq.onParams!(payload);
    },
  };
}

/** What the single-connection mode needs of the server: who may open a stream, and the checks per operation. */
export interface ClientProtocolGates {
  signedIn: (request: Request) => Promise<boolean>;
  isAdmin: (request: Request) => Promise<boolean>;
  /** PERSISTED_ONLY's manifest, or null. */
  trustedDocuments: TrustedDocuments | null;
  /** Counts one live operation of the request's user and address (LiveOperationCaps), or says which cap refused. */
  countOperation: (request: Request, clientAddress: string | null) => Promise<{ release: () => void } | { refusal: { message: string; limit: string; max: number } }>;
}

const jsonRefusal = (status: number, message: string, extensions: Record<string, unknown>) =>
  new Response(JSON.stringify({ errors: [{ message, extensions }] }), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

/**
 * graphql-sse at the GraphQL endpoint, for the requests only its single-connection mode sends; the rest stay Yoga's.
 * A reservation is kept in memory until its stream connects, so only a signed-in caller may make one. Each operation
 * POSTed onto a stream is checked like a graphql-ws one (trusted documents, then the live-operation caps) and counted
 * until graphql-sse completes it (its end, a DELETE, or the stream closing).
 */
function useSseSingleConnection(endpoint: string, gates: ClientProtocolGates): Plugin {
  const releases = new WeakMap<Request, () => void>();
  const sse = useGraphQLSSE({
    endpoint,
    async authenticate(request) {
      const token = request.headers.get(STREAM_TOKEN_HEADER) ?? new URL(request.raw.url).searchParams.get('token');
      if (token) return token;
      if (!(await gates.signedIn(request.raw))) {
        const refusal = { errors: [{ message: 'sign in to open a single-connection stream', extensions: { code: ErrorCode.UNAUTHENTICATED } }] };
        return [JSON.stringify(refusal), { status: 401, statusText: 'Unauthorized', headers: { 'content-type': 'application/json; charset=utf-8' } }];
      }
      return crypto.randomUUID();
    },
    onComplete(_context, request) {
      releases.get(request.raw)?.();
    },
  }) as Plugin;
  return {
    onYogaInit: sse.onYogaInit,
    async onRequest(payload) {
      const { request, endResponse } = payload;
      if (!isSseSingleConnectionRequest(request)) return;
      // An operation: a POST onto a stream (the reservation is a PUT, the stream a GET, a cancel a DELETE).
      if (request.method !== 'POST') return sse.onRequest!(payload);
      const { query } = ((await request.clone().json().catch(() => null)) ?? {}) as { query?: unknown };
      const untrusted = await trustedDocumentRefusal(gates.trustedDocuments, query, () => gates.isAdmin(request));
      if (untrusted) return endResponse(jsonRefusal(HTTP_STATUS_OF.PERSISTED_QUERY_NOT_IN_LIST, untrusted.message, { code: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST }));
      const counted = await gates.countOperation(request, (payload.serverContext as { clientAddress?: string | null } | undefined)?.clientAddress ?? null);
      if ('refusal' in counted) {
        const { message, limit, max } = counted.refusal;
        return endResponse(jsonRefusal(429, message, { code: ErrorCode.RATE_LIMITED, limit, max }));
      }
      releases.set(request, counted.release);
      // Accepted (202) means graphql-sse runs it and will complete it; any other answer ran nothing.
      try {
        return await sse.onRequest!({
          ...payload,
          endResponse(response) {
            if (response.status !== 202) counted.release();
            endResponse(response);
          },
        });
      } catch (error) {
        counted.release();
        throw error;
      }
    },
  };
}

/** The plugins, in order: APQ first, so every later onParams hook (the limits) sees the document it named. */
export function clientProtocolPlugins(endpoint: string, gates: ClientProtocolGates) {
  return {
    persistedQueries: usePersistedQueries(gates.trustedDocuments),
    sseSingleConnection: useSseSingleConnection(endpoint, gates),
    nonEmptyBatches: useNonEmptyBatches(),
    deferStream: useDeferStream() as Plugin,
  };
}
