// What the source systems' REST routes share (src/<domain>/compat.ts): who is asking, their JSON bodies read the way
// the sources read them, and one log line for every input they refuse.
import type { Logger } from 'pino';
import type { AnonymousDomain } from './config';
import { databaseOutage } from './db/outage';
import { DomainError, ErrorCode, HTTP_STATUS_OF, unauthenticated } from './errors';
import { authenticateRequest } from './users/auth';
import type { UsersService } from './users/service';

/** One REST request, with what the server knows about it and where its log lines go. */
export interface RestRequest {
  request: Request;
  /** The path with its leading slashes collapsed to one (the source's README wrote `//api/…`). */
  pathname: string;
  clientAddress: string | null;
  requestId: string;
  log: Logger;
  /** The domains whose REST reads need no credentials (ANONYMOUS_ACCESS). */
  anonymousAccess: ReadonlySet<AnonymousDomain>;
}

export const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => Response.json(body, { status, headers });

/**
 * The server log's line for a refused input, on every route (as the source's serverinfo.log recorded them): the
 * client's address, the username when known, and the message the client got.
 */
export function logRejected(rest: RestRequest, message: string, username: string | null | undefined, status: number): void {
  rest.log.warn(
    { requestId: rest.requestId, address: rest.clientAddress, username: username ?? null, method: rest.request.method, route: rest.pathname, status, error: message },
    status >= 500 ? 'request failed' : 'rejected input',
  );
}

/** A number the client wrote with a fraction or an exponent (`100.0`, `1e3`): a float, never an integer, as in Python. */
export class JsonFloat {
  constructor(readonly source: string) {}
}

/**
 * The body as JSON, numbers written as floats kept apart (JsonFloat), so `100.0` is refused where an integer belongs
 * as the sources refused it; undefined when the body is not JSON.
 */
export async function readJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  try {
    return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === 'number' && context?.source !== undefined && /[.eE]/.test(context.source) ? new JsonFloat(context.source) : value,
    );
  } catch {
    return undefined;
  }
}

/** A JSON object's own field, or undefined (absent) when the body is not an object. */
export const fieldOf = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;

/** Refuses a request: the log line, then `body` (the sources' own error shape) with `status`. */
export function refuse(rest: RestRequest, status: number, message: string, username: string | null | undefined, body: unknown = { error: message }, headers: Record<string, string> = {}): Response {
  logRejected(rest, message, username, status);
  return reply(status, body, headers);
}

type Caller = { id: number; username: string; role: string } | null;

/**
 * Who sends a request to one of the source's JSON services: a Bearer token, else the `username` and `password` of
 * the body, checked as a login (throttled, counted in the login statistics, logged); nobody when neither is sent
 * and ANONYMOUS_ACCESS lists the domain. Any credential problem is the source's `user info error` (401).
 */
async function callerOf(users: UsersService, rest: RestRequest, body: unknown, domain: AnonymousDomain): Promise<Caller> {
  const authentication = await authenticateRequest(users, rest.request);
  if (authentication.failure) throw unauthenticated();
  if (authentication.user) return authentication.user;
  const username = fieldOf(body, 'username');
  const password = fieldOf(body, 'password');
  if (username === undefined && password === undefined && rest.anonymousAccess.has(domain)) return null;
  if (typeof username !== 'string' || typeof password !== 'string') throw unauthenticated();
  try {
    return await users.loginOnce(username, password, rest.clientAddress);
  } catch (error) {
    // A name no account can have is a wrong login to the source's clients, not a malformed request.
    if (error instanceof DomainError && error.code === ErrorCode.BAD_USER_INPUT) throw unauthenticated();
    throw error;
  }
}

/**
 * One of the source's JSON services (`POST /pi`, `POST /quote`): a JSON body in, `answer`'s JSON out, or
 * `{"error": "<message>"}` with the status of its code — credentials first, then the fields, as the source checked them.
 */
export async function sourceJsonService(
  users: UsersService,
  rest: RestRequest,
  domain: AnonymousDomain,
  answer: (body: unknown) => Promise<unknown>,
): Promise<Response> {
  if (rest.request.method !== 'POST') return refuse(rest, 405, `use POST ${rest.pathname} with a JSON body`, null, undefined, { allow: 'POST' });
  const body = await readJsonBody(rest.request);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse(rest, 400, 'the body must be a JSON object', null);
  let caller: Caller = null;
  try {
    caller = await callerOf(users, rest, body, domain);
    return reply(200, await answer(body));
  } catch (thrown) {
    const error = thrown instanceof DomainError ? thrown : databaseOutage(thrown);
    if (!error) throw thrown;
    const retryAfter = error.details.retryAfterSeconds;
    const sent = fieldOf(body, 'username');
    const username = caller?.username ?? (typeof sent === 'string' ? sent : null);
    return refuse(rest, HTTP_STATUS_OF[error.code], error.message, username, undefined, retryAfter ? { 'retry-after': String(retryAfter) } : {});
  }
}
