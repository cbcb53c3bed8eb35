/** The error codes the API promises (shared/specs/api.md); clients branch on these, so never rename one. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** Automatic persisted queries (Apollo's names, which clients test for): no document under that hash; send it. */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** The document sent is not the one its hash names. */
  PERSISTED_QUERY_MISMATCH: 'PERSISTED_QUERY_MISMATCH',
  /** PERSISTED_ONLY=1: the document is not one of the server's trusted documents (Apollo's name for it). */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status that says what each of our codes means, for answers that are not GraphQL results (SSE, REST). */
export const HTTP_STATUS_OF: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
  UNAVAILABLE: 503,
  PERSISTED_QUERY_NOT_FOUND: 404,
  PERSISTED_QUERY_MISMATCH: 400,
  PERSISTED_QUERY_NOT_IN_LIST: 403,
};

/**
 * An error a service raises on purpose: its message is safe to show a person and its code is stable.
 * Services stay GraphQL-free; the GraphQL layer turns these into GraphQLErrors (see graphql/errors.ts).
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.BAD_USER_INPUT, message, details);
export const notFound = (message: string) => new DomainError(ErrorCode.NOT_FOUND, message);
export const conflict = (message: string) => new DomainError(ErrorCode.CONFLICT, message);
export const forbidden = (message = 'you are not allowed to do this') => new DomainError(ErrorCode.FORBIDDEN, message);
/** Least privileged first, so a refusal reads "requires role MANAGER or ADMIN". */
const ROLES_BY_PRIVILEGE = ['USER', 'SECRETARY', 'MANAGER', 'ADMIN'];
/** FORBIDDEN naming the roles that may do it (`extensions.requiredRoles`), so the caller knows whom to ask. */
export function forbiddenFor(roles: readonly string[]): DomainError {
  const sorted = [...roles].sort((a, b) => ROLES_BY_PRIVILEGE.indexOf(a) - ROLES_BY_PRIVILEGE.indexOf(b));
  if (!sorted.length) return forbidden();
  const named = sorted.length === 1 ? sorted[0] : `${sorted.slice(0, -1).join(', ')} or ${sorted.at(-1)}`;
  return new DomainError(ErrorCode.FORBIDDEN, `requires role ${named}`, { requiredRoles: sorted });
}
export const unauthenticated = (message = 'user info error') => new DomainError(ErrorCode.UNAUTHENTICATED, message);
export const unavailable = (message: string, details?: Record<string, unknown>) => new DomainError(ErrorCode.UNAVAILABLE, message, details);
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new DomainError(ErrorCode.RATE_LIMITED, message, { retryAfterSeconds });
