// Whole-response caching for answers that only change on a known schedule: analytics (the dataset is fixed while
// the process runs) and the relay's typed fields (as long as the upstream's own freshness allows). Built on Yoga's
// response-cache plugin; `serveFromCache` answers a hit straight from the same cache before the request enters
// Yoga at all — the use the library documents for its key function — because a hit is then a token check, a key
// and a lookup instead of the whole GraphQL pipeline (see the relay benchmark in the README).
import { type Cache, createInMemoryCache, useResponseCache } from '@graphql-yoga/plugin-response-cache';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { GraphQLSchema } from 'graphql';
import type { App } from '../app';
import type { Clock } from '../clock';
import { authenticateRequest } from '../users/auth';
import type { GraphQLContext } from './context';

/** How long a response may be reused, tightened by resolvers whose data has its own freshness (the relay's). */
export class ResponseFreshness {
  maxMs = Number.POSITIVE_INFINITY;
  limit(ms: number): void {
    this.maxMs = Math.min(this.maxMs, Math.max(0, ms));
  }
}

/**
 * The root fields whose answers may be reused, and for how long at most. Every other root field is given 0, so a
 * query that mixes in anything else (`me`, `jobs`, the relay's per-call `relay(path)` flags…) is never cached:
 * the plugin takes the smallest TTL of the fields a query selects.
 */
const CACHEABLE_ROOT_FIELDS: Record<string, number> = {
  analytics: 10 * 60_000,
  // Bounded below by each upstream answer's own freshness (ResponseFreshness, set by the relay resolvers).
  restaurants: 60 * 60_000,
  restaurant: 60 * 60_000,
};

function ttlPerRootField(schema: GraphQLSchema): Record<string, number> {
  const fields = Object.keys(schema.getQueryType()!.getFields());
  return Object.fromEntries(fields.map((field) => [`Query.${field}`, CACHEABLE_ROOT_FIELDS[field] ?? 0]));
}

/** `session:<id>` for an HTTP request carrying a live token; null otherwise (WebSocket operations have no request). */
function liveSessionKey(app: App, request: Request | undefined): string | null {
  const user = request?.headers ? authenticateRequest(app.users, request).user : null;
  return user ? `session:${user.sessionId}` : null;
}

interface KeyParts {
  documentString: string;
  variableValues?: unknown;
  operationName?: string | null;
  sessionId?: string | null;
}
const cacheKey = ({ documentString, variableValues, operationName, sessionId }: KeyParts) =>
  `${sessionId}|${Bun.hash(JSON.stringify([documentString, variableValues ?? {}, operationName ?? null])).toString(36)}`;

/**
 * Each entry's lifetime also measured on `clock` (the LRU underneath counts real time): when a test moves the clock
 * past a relay answer's freshness, the whole answers built on it expire with it.
 */
function expiringOn(clock: Clock, cache: Cache): Cache {
  const expiresAt = new WeakMap<object, number>();
  return {
    set(id, data, entities, ttl) {
      expiresAt.set(data, clock.now() + ttl);
      return cache.set(id, data, entities, ttl);
    },
    async get(id) {
      const data = await cache.get(id);
      return data && clock.now() < (expiresAt.get(data) ?? Number.POSITIVE_INFINITY) ? data : undefined;
    },
    invalidate: (entities) => cache.invalidate(entities),
  };
}

/** `clock`: only tests pass one; without it the in-memory cache's own TTLs are the only ones. */
export function createResponseCache(app: App, schema: GraphQLSchema, clock?: Clock) {
  const cache = clock ? expiringOn(clock, createInMemoryCache()) : createInMemoryCache();
  const serialized = new WeakMap<object, string>();

  const plugin = useResponseCache({
    cache,
    // A hit skips execution (and its auth checks), so only HTTP requests whose token is live right now may read
    // or fill the cache, each session its own entries.
    session: (request) => liveSessionKey(app, request),
    enabled: (request) => liveSessionKey(app, request) !== null,
    buildResponseCacheKey: (params) => cacheKey(params),
    ttl: 0,
    ttlPerSchemaCoordinate: ttlPerRootField(schema),
    onTtl: ({ ttl, context }) => Math.min(ttl, (context as Partial<GraphQLContext>).freshness?.maxMs ?? ttl),
    includeExtensionMetadata: false,
  });

  /**
   * A cached answer for this JSON POST, if there is one (same session, document, variables and operation name).
   * `params` is the body the server parsed and checked (operationParamsProblem); on a miss Yoga takes it as it is
   * (`usePreParsedBody`).
   */
  async function serveFromCache(request: Request, params: { query: string; variables?: unknown; operationName?: unknown }): Promise<Response | undefined> {
    const { user } = authenticateRequest(app.users, request);
    if (!user) return undefined;
    const key = cacheKey({
      documentString: params.query,
      variableValues: params.variables,
      operationName: typeof params.operationName === 'string' ? params.operationName : null,
      sessionId: `session:${user.sessionId}`,
    });
    const cached = await cache.get(key);
    if (!cached) return undefined;
    // What Yoga would send: the result without the extensions it turns into headers; serialised once per entry.
    let json = serialized.get(cached);
    if (json === undefined) {
      const { extensions: _extensions, ...result } = cached as { extensions?: unknown };
      serialized.set(cached, (json = JSON.stringify(result)));
    }
    const accept = request.headers.get('accept') ?? '';
    const type = accept.includes('application/graphql-response+json') && !accept.includes('application/json') ? 'application/graphql-response+json' : 'application/json';
    return new Response(json, { headers: { 'content-type': `${type}; charset=utf-8` } });
  }

  return { plugin, serveFromCache };
}

/** Lets Yoga take a body the server already parsed (passed as `preParsedParams` in the server context). */
export function usePreParsedBody(): Plugin<object, { preParsedParams?: unknown }> {
  return {
    onRequestParse({ serverContext, setRequestParser }) {
      const params = serverContext.preParsedParams;
      if (params !== undefined) setRequestParser(() => params as GraphQLParams);
    },
  };
}
