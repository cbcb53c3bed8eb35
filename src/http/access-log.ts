// The access log: what the operation log (src/graphql/logging.ts) does not cover — one line per HTTP answer that
// was not a GraphQL operation, and one per subscription when it ends, on any transport.
import type { Logger } from 'pino';
import type { RequestOrigin } from './guards';

const roundMs = (ms: number) => Math.round(ms * 1000) / 1000;

/** `http request`: a route, a refusal before GraphQL, GraphiQL's page or a WebSocket upgrade (101). */
export function logAccess(log: Logger, request: Request, route: string, origin: RequestOrigin, status: number, started: number): void {
  log.info(
    { method: request.method, route, status, durationMs: roundMs(performance.now() - started), address: origin.clientAddress, requestId: origin.requestId },
    'http request',
  );
}

/** One line when a subscription ends (SSE, multipart or WebSocket): how long it ran, what it delivered, why it ended. */
export function logSubscriptionEnd(
  log: Logger,
  end: { transport: string; operation: string | null; started: number; events: number; reason: string; address: string | null; userId: number | null; requestId: string },
): void {
  const { started, ...rest } = end;
  log.info({ ...rest, durationMs: roundMs(performance.now() - started) }, 'subscription ended');
}

