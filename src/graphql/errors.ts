import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { DomainError, ErrorCode } from '../errors';
import { currentRequestId } from '../request-context';

/** A GraphQLError that carries one of our codes. */
export function graphQLErrorFor(error: DomainError, from?: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: from?.nodes,
    source: from?.source,
    positions: from?.positions,
    path: from?.path,
    originalError: error,
    extensions: { code: error.code, ...error.details },
  });
}

/** A request-level rejection (bad token, limits): a GraphQLError with our code and a 4xx status. */
export function requestError(code: ErrorCode, message: string, status: number, details: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code, ...details, http: { status } } });
}

/**
 * Yoga's maskError: our DomainErrors keep their message and code; GraphQL's own errors (syntax, validation,
 * coercion) pass through; anything else is logged with the request id and masked for the client.
 */
export function createErrorMasker(log: Logger) {
  return (error: unknown): Error => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError?.originalError ?? (graphQLError ? undefined : error);
    if (original instanceof DomainError) return graphQLErrorFor(original, graphQLError);
    if (graphQLError && (!original || original instanceof GraphQLError)) {
      if (original instanceof GraphQLError && !graphQLError.extensions.code) return original;
      return graphQLError;
    }
    const requestId = currentRequestId();
    log.error({ err: original, requestId, path: graphQLError?.path }, 'unexpected error');
    return new GraphQLError('Unexpected error.', {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
    });
  };
}
