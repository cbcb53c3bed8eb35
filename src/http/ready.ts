import type { App } from '../app';
import { authenticateRequest } from '../users/auth';

/**
 * GET /ready: 200 "ready" or 503 "not ready" for anyone (load balancers, orchestrators). The checks behind the
 * answer name internal addresses (the upstream URL, the quote server's host:port), so only an admin's token sees them.
 */
export async function readiness(app: App, request: Request): Promise<Response> {
  const ready = await app.isReady();
  const embedded = app.embeddedQuoteServer;
  // The quote server jobgraph runs is part of it; an external one is reported, not required.
  // Without Redis an instance would miss other instances' events and refuse logins (see docs/scaling.md).
  const ok = ready && !app.jobs.isDraining && (!embedded || embedded.healthy) && (!app.redis || app.redis.up);
  const status = ok ? 'ready' : 'not ready';
  if ((await authenticateRequest(app.users, request)).user?.role !== 'ADMIN') return Response.json({ status }, { status: ok ? 200 : 503 });

  const quoteServer = embedded
    ? { address: embedded.address && `${embedded.address.host}:${embedded.address.port}`, status: embedded.status, embedded: true }
    : { address: app.config.quoteServer, status: 'external', embedded: false };
  const checks = { database: ready, workers: app.pool.size, draining: app.jobs.isDraining, quoteServer, relay: app.relay.status(), redis: app.redis?.status() ?? null };
  return Response.json({ status, checks }, { status: ok ? 200 : 503 });
}
