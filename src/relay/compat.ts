// The relay over plain HTTP, as the source relayed: `GET /relay/<path>` (`GET /relay`: the upstream's root) answers
// the upstream's status, body (any content type, as sent, with `nosniff`) and caching headers through the same cache
// as the GraphQL fields, with `X-Cache` saying where the answer came from. An upstream that cannot be reached is a
// 502 with the source's own words. A token is needed unless ANONYMOUS_ACCESS lists relay.
import type { Services } from '../services';
import { badInput, DomainError, HTTP_STATUS_OF, unauthenticated, unavailable } from '../errors';
import { refuse, type RestRequest } from '../rest';
import { authenticateRequest } from '../users/auth';
import type { RelayResponse } from './service';

export const RELAY_PREFIX = '/relay/';
/** The relay's root: the upstream base itself. */
export const RELAY_ROOT = '/relay';

/** What the source relay answered when the upstream could not be reached. */
export const UNREACHABLE_MESSAGE = "Remote server didn't provide a proper response.";

/** The upstream's headers a client of the relay needs to cache in turn (the body is re-sent as JSON). */
const FORWARDED_HEADERS = ['cache-control', 'etag', 'last-modified', 'expires', 'date', 'vary'];

/** Where the answer came from: the cache as it was, the cache confirmed by a 304, the cache because the upstream failed, or the upstream. */
export const xCache = (answer: Pick<RelayResponse, 'cached' | 'stale' | 'revalidated'>) =>
  answer.stale ? 'STALE' : answer.revalidated ? 'REVALIDATED' : answer.cached ? 'HIT' : 'MISS';

const errorBody = (error: DomainError) => ({ errors: [{ message: error.message, extensions: { code: error.code, ...error.details } }] });

export async function handleRelayRequest({ users, relay }: Pick<Services, 'users' | 'relay'>, rest: RestRequest): Promise<Response> {
  const { user, failure } = await authenticateRequest(users, rest.request);
  const refusal = (error: DomainError) => refuse(rest, HTTP_STATUS_OF[error.code], error.message, user?.username, errorBody(error));
  if (failure) return refusal(failure);
  if (!user && !rest.anonymousAccess.has('relay')) return refusal(unauthenticated());
  if (rest.request.method !== 'GET') {
    const message = `use GET ${RELAY_PREFIX}<path>`;
    return refuse(rest, 405, message, user?.username, errorBody(badInput(message)), { allow: 'GET' });
  }
  try {
    const answer = await relay.getAny(rest.pathname.slice(RELAY_PREFIX.length) + new URL(rest.request.url).search);
    // The upstream's content type is passed on as it is: the browser must not guess another (HTML from text, say).
    const headers = new Headers({ 'x-cache': xCache(answer), 'x-content-type-options': 'nosniff' });
    for (const name of FORWARDED_HEADERS) if (answer.headers[name] !== undefined) headers.set(name, answer.headers[name]);
    // 204 and 304 carry no body.
    if (answer.status === 204 || answer.status === 304) return new Response(null, { status: answer.status, headers });
    headers.set('content-type', answer.headers['content-type'] ?? (answer.notJson ? 'application/octet-stream' : 'application/json; charset=utf-8'));
    return new Response(answer.content, { status: answer.status, headers });
  } catch (error) {
    if (error instanceof DomainError && error.details?.reason === 'UPSTREAM_UNREACHABLE') {
      // The source's status and words; what went wrong, in ours, beside them.
      return refuse(rest, 502, error.message, user?.username, errorBody(unavailable(UNREACHABLE_MESSAGE, { reason: 'UPSTREAM_UNREACHABLE', detail: error.message })));
    }
    if (error instanceof DomainError) return refusal(error);
    throw error;
  }
}
