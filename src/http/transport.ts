// Everything Bun.serve needs from us, built over one app: Yoga and its response cache, the request pipeline, the
// WebSocket handler, and the rate rules and session tracking both transports share.
import type { Plugin } from 'graphql-yoga';
import type { App } from '../app';
import type { Clock } from '../clock';
import { DocumentCaches } from '../graphql/document-caches';
import { createResponseCache } from '../graphql/response-cache';
import { createGraphQLHandler } from './graphql-handler';
import { LiveOperationCaps } from './live-operations';
import { createMetrics } from './metrics';
import { type AddressRateLimiter, RateLimiter, SharedRateLimiter } from './rate-limit';
import { createRequestHandler } from './routes';
import { SessionStreams } from './session-streams';
import { warmUpKnownOperations } from './warm-up';
import { createWebSocketHandler } from './websocket';

/** `probes`: tests only, Yoga plugins that watch which hooks each execution path runs. */
export function createHttpTransport(app: App, options: { clock?: Clock; probes?: Plugin[]; warmUp?: boolean } = {}) {
  const { config } = app;
  // Without an injected clock each rule keeps its own time (the rate limits a monotonic one, the cache its LRU's).
  const now = options.clock ? () => options.clock!.now() : undefined;
  // Every cache keyed by a document's text, each within the same byte budget (DOCUMENT_CACHE_BYTES).
  const documentCaches = new DocumentCaches(config);
  const responseCache = createResponseCache(app, options.clock, documentCaches);
  // GraphiQL's page and the dashboard are built by their first visit (src/http/graphiql.ts, dashboard.ts), not here:
  // rendering GraphiQL parses ~8 MB of script in a worker, CPU that every start (each test's server, each CLI-started
  // instance) would pay for a page most of them never serve.
  const metrics = createMetrics(app);
  // One count per user and per address over WebSocket operations, SSE streams and single-connection SSE operations.
  const liveOperationCaps = new LiveOperationCaps({ maxPerUser: config.maxSubscriptionsPerUser, maxPerAddress: config.maxSubscriptionsPerAddress });
  const yoga = createGraphQLHandler(app, responseCache, documentCaches, metrics, options.probes, liveOperationCaps);
  metrics.watchDocumentCaches(documentCaches);
  // In the background: listening does not wait for it. Tests turn it off (warmUp: false) but in test/warm-up.test.ts.
  if (options.warmUp !== false) void warmUpKnownOperations(app, yoga).catch((error) => app.log.warn({ err: error }, 'warming up the known operations failed'));
  const localRateLimiter = new RateLimiter(config.rateLimitPerSecond, now);
  // With REDIS_URL the per-address rule counts every instance's requests (on a clock they share: the epoch's).
  const rateLimiter: AddressRateLimiter = app.redis ? new SharedRateLimiter(localRateLimiter, app.redis, config.rateLimitPerSecond, now) : localRateLimiter;
  const sessionStreams = new SessionStreams((token) => app.users.authenticate(token), now);
  app.users.onSessionsChanged(() => sessionStreams.scheduleRecheck());
  const websocket = createWebSocketHandler(app, yoga as never, {
    rateLimiter,
    // The same rule per connection, so one socket cannot use up its whole address's allowance alone.
    connectionLimiter: new RateLimiter(config.rateLimitPerSecond, now),
    sessionStreams,
    liveOperationCaps,
    maxOperationsPerConnection: config.maxSubscriptionsPerConnection,
    // The same bound as an HTTP body.
    maxPayloadLength: config.maxBodyBytes,
    operationMetrics: metrics,
  });
  metrics.watchTransport({ websocketConnections: () => websocket.connections(), liveOperations: () => liveOperationCaps.stats().operations });
  const { fetch, error } = createRequestHandler({ app, yoga, responseCache, documentCaches, rateLimiter, sessionStreams, liveOperationCaps, metrics });
  return {
    /** For Bun.serve, beside the port and host. */
    serveOptions: {
      // Never Bun's development error page (it shows paths and source); unexpected errors answer masked JSON.
      development: false,
      // Bun closes idle connections after 10 s by default; Yoga pings SSE streams every 12 s.
      idleTimeout: 60,
      // Bun's own cap answers with an empty 413; ours answers with a coded error, so Bun's sits above it.
      maxRequestBodySize: Math.max(config.maxBodyBytes, config.maxUploadBytes) * 2 + 65536,
      websocket,
      fetch,
      error,
    },
    liveOperationCaps,
    fanOut: websocket.fanOut,
    /** Shutdown: every socket closes (1001) and every SSE stream ends, each told why. */
    endAll(reason: string) {
      websocket.closeAll(reason);
      sessionStreams.endAll(reason);
    },
  };
}
