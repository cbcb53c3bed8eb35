// Yoga over our schema: its plugins (CSRF, query limits, logging, the response cache) and the context every
// resolver sees. HTTP requests and WebSocket operations both come through here (see routes.ts and websocket.ts).
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { App } from '../app';
import { clientProtocolPlugins, MAX_BATCHED_OPERATIONS } from '../graphql/client-protocols';
import { useCategoryMeansAsJson } from '../graphql/category-means';
import { useCompiledAnalytics } from '../graphql/compiled';
import type { DocumentCaches } from '../graphql/document-caches';
import { createGraphQLContext, type GraphQLContext } from '../graphql/context';
import { plannerClient } from '../graphql/planner';
import { createErrorMasker, requestErrorFor, useCsrfPrevention, useRequestParseErrors, useSubscriptionErrorStatus } from '../graphql/errors';
import { useQueryLimits } from '../graphql/limits';
import { useTrustedDocuments } from '../graphql/trusted-documents';
import { type OperationMetrics, useOperationLog } from '../graphql/logging';
import { ResponseFreshness } from '../graphql/freshness';
import { type PhaseMetrics, usePhaseMetrics } from '../graphql/phase-metrics';
import { type createResponseCache, usePreParsedBody } from '../graphql/response-cache';
import { buildSchema } from '../schema';
import { type Authentication, authenticateRequest } from '../users/auth';
import { GRAPHIQL_OPTIONS, graphiqlHtml } from './graphiql';
import { LiveOperationCaps } from './live-operations';

export const GRAPHQL_PATH = '/graphql';
const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'graphql-preflight'];

/** What the HTTP and WebSocket transports hand the context factory. */
export interface TransportContext {
  clientAddress: string | null;
  requestId: string;
  /** A WebSocket operation's, decided from its own headers (see websocket.ts); HTTP requests have theirs looked up. */
  authentication?: Authentication;
  /** The request's JSON body, already parsed by the response-cache check (see usePreParsedBody). */
  preParsedParams?: unknown;
}

export type GraphQLHandler = ReturnType<typeof createGraphQLHandler>;

/**
 * Our plugins by name, in the order Yoga runs them (tracing's only when OTEL_EXPORTER_OTLP_ENDPOINT is set, phase
 * metrics only with metrics). Not every execution path runs every hook (the fast path, a cache hit, graphql-ws, a
 * fan-out group): test/execution-paths.test.ts pins which, and refuses a hook a path would skip unless it says why
 * that is safe.
 */
export function graphqlPlugins(
  app: App,
  responseCache: ReturnType<typeof createResponseCache>,
  metrics?: OperationMetrics & PhaseMetrics,
  liveOperationCaps = new LiveOperationCaps({ maxPerUser: app.config.maxSubscriptionsPerUser, maxPerAddress: app.config.maxSubscriptionsPerAddress }),
) {
  const userOf = async (request: Request) => (await authenticateRequest(app.users, request)).user;
  const isAdmin = async (request: Request) => (await userOf(request))?.role === 'ADMIN';
  return {
    ...app.tracing?.graphqlPlugins,
    ...clientProtocolPlugins(GRAPHQL_PATH, {
      signedIn: async (request) => (await userOf(request)) !== null,
      isAdmin,
      trustedDocuments: app.trustedDocuments,
      countOperation: async (request, clientAddress) => liveOperationCaps.acquire({ userId: (await userOf(request))?.id ?? null, clientAddress }),
    }),
    trustedDocuments: useTrustedDocuments(app.trustedDocuments, isAdmin),
    csrfPrevention: useCsrfPrevention(CSRF_HEADERS),
    queryLimits: useQueryLimits(app.config),
    subscriptionErrorStatus: useSubscriptionErrorStatus(),
    operationLog: useOperationLog(app.log, app.users, metrics),
    ...(metrics ? { phaseMetrics: usePhaseMetrics(metrics) } : {}),
    responseCache: responseCache.plugin,
    categoryMeans: useCategoryMeansAsJson(),
    compiledAnalytics: useCompiledAnalytics(app.log),
    preParsedBody: usePreParsedBody(),
    requestParseErrors: useRequestParseErrors(),
  };
}

/** `probes`: tests only, plugins after ours that watch which hooks run. */
export function createGraphQLHandler(
  app: App,
  responseCache: ReturnType<typeof createResponseCache>,
  documentCaches: DocumentCaches,
  metrics?: OperationMetrics & PhaseMetrics,
  probes: Plugin[] = [],
  liveOperationCaps?: LiveOperationCaps,
) {
  const planner = plannerClient(app.database);
  return createYoga<TransportContext, GraphQLContext>({
    schema: buildSchema(app.kindFiles),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Parsed documents (and parse errors) by text, bounded by bytes; validation results live as long as their document.
    parserAndValidationCache: { documentCache: documentCaches.create('parse'), errorCache: documentCaches.create('parse errors') },
    // The server measures bodies itself (413 with a code, before Yoga) and may hand Yoga a body it already read.
    maxRequestBodySize: false,
    // routes.ts answers GraphiQL's page itself (compressed, cached); this is the same page, should Yoga be asked.
    graphiql: GRAPHIQL_OPTIONS,
    renderGraphiQL: graphiqlHtml,
    maskedErrors: { maskError: createErrorMasker(app.log) },
    logging: {
      debug: (...args) => app.log.debug({ yoga: args }, 'yoga'),
      info: (...args) => app.log.info({ yoga: args }, 'yoga'),
      warn: (...args) => app.log.warn({ yoga: args }, 'yoga'),
      // Yoga reports every execution error here, expected ones too; the error masker logs the unexpected ones.
      error: (...args) => app.log.debug({ yoga: args }, 'yoga error'),
    },
    // A JSON array of operations, each checked and run as if sent alone.
    batching: { limit: MAX_BATCHED_OPERATIONS },
    plugins: [...Object.values(graphqlPlugins(app, responseCache, metrics, liveOperationCaps)), ...probes],
    context: async (initial: YogaInitialContext & TransportContext) => {
      const { user, failure } = initial.authentication ?? (await authenticateRequest(app.users, initial.request));
      if (failure) throw requestErrorFor(failure);
      return createGraphQLContext(app, planner, {
        user,
        clientAddress: initial.clientAddress,
        requestId: initial.requestId,
        anonymousAccess: app.config.anonymousAccess,
        freshness: new ResponseFreshness(),
      });
    },
  });
}
