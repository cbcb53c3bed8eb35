// The one way a request proves who it is: an Authorization value (an HTTP header, a WebSocket's connectionParams or
// per-operation headers) becomes a user, nobody, or a refusal with the words the API promises. Every transport
// (GraphQL over HTTP, SSE and WebSocket, the response cache, the REST compatibility routes, /ready) asks here.
import { DomainError, ErrorCode } from '../errors';
import type { AuthUser, UsersService } from './service';
import { parseAuthorization } from './tokens';

export const MALFORMED_AUTHORIZATION = 'the Authorization header must be "Bearer <token>"';

/** Why an Authorization value was refused: always UNAUTHENTICATED (HTTP 401), in the API's words. */
export const malformedAuthorization = () => new DomainError(ErrorCode.UNAUTHENTICATED, MALFORMED_AUTHORIZATION);
// A token that was sent but no longer works is an error, not a silent downgrade to anonymous.
export const tokenRejected = () =>
  new DomainError(ErrorCode.UNAUTHENTICATED, 'user info error', { reason: 'invalid, expired or revoked token' });

/** What an Authorization value proves: nobody (none sent), a user and the token that proved it, or a refusal. */
export type Authentication =
  | { user: null; token: null; failure: null }
  | { user: AuthUser; token: string; failure: null }
  | { user: null; token: null; failure: DomainError };

const ANONYMOUS: Authentication = { user: null, token: null, failure: null };

export async function authenticate(users: Pick<UsersService, 'authenticate'>, authorization: string | null | undefined): Promise<Authentication> {
  const parsed = parseAuthorization(authorization);
  if (parsed.kind === 'none') return ANONYMOUS;
  if (parsed.kind === 'malformed') return { user: null, token: null, failure: malformedAuthorization() };
  const user = await users.authenticate(parsed.token);
  return user ? { user, token: parsed.token, failure: null } : { user: null, token: null, failure: tokenRejected() };
}

/** Each HTTP request is authenticated once, however many steps ask (the cache, Yoga's context, the SSE tracker). */
const requestAuthentications = new WeakMap<Request, Promise<Authentication>>();

export function authenticateRequest(users: Pick<UsersService, 'authenticate'>, request: Request): Promise<Authentication> {
  let authentication = requestAuthentications.get(request);
  if (!authentication) {
    authentication = authenticate(users, request.headers.get('authorization'));
    requestAuthentications.set(request, authentication);
  }
  return authentication;
}

/**
 * The request's authentication if it has already settled, else undefined: for a step that may not wait (a log line
 * written in a synchronous hook).
 */
export function settledAuthentication(request: Request): Authentication | undefined {
  const known = requestAuthentications.get(request);
  return known && Bun.peek.status(known) === 'fulfilled' ? (Bun.peek(known) as Authentication) : undefined;
}

/** A request rebuilt around its buffered body is the same request: it keeps what its original proved. */
export function sameAuthentication(from: Request, to: Request): void {
  const known = requestAuthentications.get(from);
  if (known) requestAuthentications.set(to, known);
}
