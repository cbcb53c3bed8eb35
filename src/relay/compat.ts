// The relay over plain HTTP, as the source relayed: `GET /relay/<path>` answers the upstream's status, JSON body and
// caching headers through the same cache as the GraphQL fields, with `X-Cache` saying where the answer came from.
// A token is needed unless ANONYMOUS_ACCESS lists relay.
import type { Services } from '../services';
import { badInput, DomainError, HTTP_STATUS_OF, unauthenticated } from '../errors';
import { refuse, type RestRequest } from '../rest';
import { authenticateRequest } from '../users/auth';
import type { RelayResponse } from './service';

export const RELAY_PREFIX = '/relay/';

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
    const answer = await relay.get(rest.pathname.slice(RELAY_PREFIX.length) + new URL(rest.request.url).search);
    const headers = new Headers({ 'x-cache': xCache(answer) });
    for (const name of FORWARDED_HEADERS) if (answer.headers[name] !== undefined) headers.set(name, answer.headers[name]);
    // 204 and 304 carry no body.
    if (answer.status === 204 || answer.status === 304) return new Response(null, { status: answer.status, headers });
    headers.set('content-type', 'application/json; charset=utf-8');
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
  } catch (error) {
    if (error instanceof DomainError) return refusal(error);
    throw error;
  }
}
