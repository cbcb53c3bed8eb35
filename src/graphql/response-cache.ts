// Whole-response caching for answers that only change on a known schedule: analytics (the dataset is fixed while
// the process runs) and the relay's typed fields (as long as the upstream's own freshness allows). The entries live
// in the LRU of Yoga's response-cache package; `serveFromCache` answers a hit straight from it before the request
// enters Yoga at all, because a hit is then a token check, a key and a lookup instead of the whole GraphQL pipeline
// (see the relay benchmark in the README). The plugin that fills it is ours, not the package's: that one adds
// `__typename` to every selection set and copies every object of every answer to find entities to invalidate —
// a third of the time of a first 1,400-row `meanByCategory` — and no type we cache has entities to invalidate.
import { type Cache, createInMemoryCache } from '@graphql-yoga/plugin-response-cache';
import { type GraphQLParams, isAsyncIterable, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { type DocumentNode, getOperationAST, Kind, type SelectionSetNode } from 'graphql';
import type { Clock } from '../clock';
import type { RedisLink } from '../redis';
import { authenticateRequest, type Services } from '../services';
import type { GraphQLContext } from './context';
import { DocumentCaches, type DocumentCacheLimits } from './document-caches';

/**
 * The root fields whose answers may be reused, and for how long at most. Any other root field (`me`, `jobs`, the
 * relay's per-call `relay(path)` flags…, introspection) makes a query uncacheable: a query takes the smallest TTL
 * of the root fields it selects; `__typename` alone does not count.
 */
const CACHEABLE_ROOT_FIELDS: Record<string, number> = {
  analytics: 10 * 60_000,
  // Bounded below by each upstream answer's own freshness (ResponseFreshness, set by the relay resolvers).
  restaurants: 60 * 60_000,
  restaurant: 60 * 60_000,
};

/** How long the answer to the document's operation may be reused by its root fields (fragments followed); 0: never. */
function rootFieldsTtl(document: DocumentNode, operationName: string | null | undefined): number {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'query') return 0;
  const fragments = new Map(document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition]] : [])));
  const seen = new Set<string>();
  let ttl = Number.POSITIVE_INFINITY;
  const visit = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') ttl = Math.min(ttl, CACHEABLE_ROOT_FIELDS[selection.name.value] ?? 0);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return Number.isFinite(ttl) ? ttl : 0;
}

/**
 * `session:<id>` for an HTTP request carrying a live token (its context's user); null otherwise (WebSocket operations
 * have no request, and session 0 is no token's: the start-up warm-up's, whose answers nobody could read).
 */
function liveSessionKey(context: GraphQLContext & YogaInitialContext): string | null {
  const user = context.request?.headers ? context.user : null;
  return user && user.sessionId > 0 ? `session:${user.sessionId}` : null;
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

/** Answers larger than this stay in the instance that computed them: Redis is no place for them. */
const MAX_SHARED_ANSWER_CHARS = 1024 * 1024;

/**
 * With REDIS_URL, answers are shared: a local miss asks Redis before executing, and what is computed goes to both.
 * Sharing is safe because entries are never invalidated, only expire: an entry's lifetime (its root fields' TTL,
 * bounded by the relay's freshness) is stored with it and holds wherever it is read. The key names the session,
 * and a hit still needs that session live on the instance reading it (sessions live in the shared database).
 * Redis unreachable: each instance keeps its own entries, as without REDIS_URL.
 */
function sharedThrough(link: RedisLink, local: Cache, now: () => number): Cache {
  const keyOf = (id: string) => link.key(`response:${id}`);
  return {
    set(id, data, entities, ttl) {
      local.set(id, data, entities, ttl);
      const json = JSON.stringify({ expiresAt: now() + ttl, data });
      if (json.length > MAX_SHARED_ANSWER_CHARS || !link.up) return;
      link.send('SET', [keyOf(id), json, 'PX', String(Math.max(1, Math.ceil(ttl)))]).catch((error) => link.outage('response cache', error));
    },
    async get(id) {
      const found = await local.get(id);
      if (found || !link.up) return found;
      const json = (await link.send('GET', [keyOf(id)]).catch(() => null)) as string | null;
      if (!json) return undefined;
      const { expiresAt, data } = JSON.parse(json) as { expiresAt: number; data: Parameters<Cache['set']>[1] };
      const ttl = expiresAt - now();
      if (ttl <= 0) return undefined;
      local.set(id, data, [], ttl);
      return data;
    },
    invalidate: (entities) => local.invalidate(entities),
  };
}

/** `clock`: only tests pass one; without it the in-memory cache's own TTLs are the only ones. */
export function createResponseCache(
  app: Pick<Services, 'users'> & { redis: RedisLink | null; config: DocumentCacheLimits },
  clock?: Clock,
  documentCaches = new DocumentCaches(app.config),
) {
  const local = clock ? expiringOn(clock, createInMemoryCache()) : createInMemoryCache();
  const cache = app.redis ? sharedThrough(app.redis, local, () => (clock ?? Date).now()) : local;
  const serialized = new WeakMap<object, string>();

  const ttlByDocument = new WeakMap<DocumentNode, Map<string | null, number>>();
  const ttlOf = (document: DocumentNode, operationName: string | null) => {
    let byOperation = ttlByDocument.get(document);
    if (!byOperation) ttlByDocument.set(document, (byOperation = new Map()));
    let ttl = byOperation.get(operationName);
    if (ttl !== undefined) return ttl;
    ttl = rootFieldsTtl(document, operationName);
    // Only the document's own operations are remembered: a client cannot grow the map with made-up names.
    if (getOperationAST(document, operationName)) byOperation.set(operationName, ttl);
    return ttl;
  };

  /**
   * Documents (by their text, and operation name) whose answers are never kept (`me`, a mutation…), so a request
   * for one skips the key and the lookup before Yoga. Bounded by bytes: forgetting one only costs lookups again.
   */
  const neverCached = documentCaches.create<Set<string | null>>('never cached');
  const rememberNeverCached = (query: string, operationName: string | null) => {
    let operations = neverCached.get(query);
    if (!operations) neverCached.set(query, (operations = new Set()));
    operations.add(operationName);
  };

  /**
   * Reads and fills the cache around execution. A hit skips execution (and its auth checks), so only HTTP requests
   * whose token is live right now may read or fill it, each session its own entries; answers with errors are not
   * kept, and a relay answer no longer than its upstream's freshness (ResponseFreshness).
   */
  const plugin: Plugin<GraphQLContext & YogaInitialContext> = {
    onExecute({ args, setResultAndStopExecution }) {
      const context = args.contextValue;
      const operationName = typeof context.params?.operationName === 'string' ? context.params.operationName : null;
      const ttl = ttlOf(args.document, operationName);
      if (ttl === 0) {
        const query = context.params?.query;
        if (typeof query === 'string' && !neverCached.get(query)?.has(operationName) && getOperationAST(args.document, operationName)) {
          rememberNeverCached(query, operationName);
        }
        return;
      }
      const sessionId = liveSessionKey(context);
      if (sessionId === null) return;
      const key = cacheKey({ documentString: context.params.query ?? '', variableValues: context.params.variables, operationName, sessionId });
      return Promise.resolve(cache.get(key)).then((cached) => {
        if (cached) return setResultAndStopExecution(cached);
        return {
          onExecuteDone({ result }) {
            if (isAsyncIterable(result) || result.errors?.length) return;
            const finalTtl = Math.min(ttl, context.freshness?.maxMs ?? ttl);
            if (finalTtl > 0) cache.set(key, result, [], finalTtl);
          },
        };
      });
    },
  };

  /**
   * A cached answer for this JSON POST, if there is one (same session, document, variables and operation name).
   * `params` is the body the server parsed and checked (operationParamsProblem), and the request passed the gates of
   * an answer without Yoga (src/http/direct-answers.ts, which give `answerType`); on a miss Yoga takes it as it is
   * (`usePreParsedBody`).
   */
  async function serveFromCache(
    request: Request,
    params: { query: string; variables?: unknown; operationName?: unknown },
    answerType: 'application/json' | 'application/graphql-response+json',
  ): Promise<Response | undefined> {
    const operationName = typeof params.operationName === 'string' ? params.operationName : null;
    if (neverCached.get(params.query)?.has(operationName)) return undefined;
    const { user } = await authenticateRequest(app.users, request);
    if (!user) return undefined;
    const key = cacheKey({
      documentString: params.query,
      variableValues: params.variables,
      operationName,
      sessionId: `session:${user.sessionId}`,
    });
    const cached = await cache.get(key);
    if (!cached) return undefined;
    // What Yoga would send: the result without the extensions it turns into headers, written as Yoga writes it (its
    // own `stringify` first: category-means.ts); serialised once per entry.
    let json = serialized.get(cached);
    if (json === undefined) {
      const { extensions: _extensions, ...result } = cached as { extensions?: unknown; stringify?: (result: object) => string };
      serialized.set(cached, (json = (result.stringify ?? JSON.stringify)(result)));
    }
    return new Response(json, { headers: { 'content-type': `${answerType}; charset=utf-8` } });
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
