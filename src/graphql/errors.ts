import { type ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { databaseOutage } from '../db/outage';
import { DomainError, ErrorCode, HTTP_STATUS_OF } from '../errors';
import { currentRequestId } from '../request-context';

const CONTRACT_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

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

function withCode(error: GraphQLError, code: ErrorCode, located: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: located.nodes,
    source: located.source,
    positions: located.positions,
    path: located.path,
    extensions: { ...error.extensions, code },
  });
}

const codeOf = (error: GraphQLError): ErrorCode | undefined =>
  (error.extensions?.code as ErrorCode | undefined) ??
  (error.originalError instanceof DomainError ? error.originalError.code : undefined);

/**
 * A subscription refused before its first event (not logged in, not allowed, unknown job…) has no data at all; over
 * SSE or HTTP its status says why (401, 403, 404, 400…) instead of Yoga's 500 for a result without data.
 */
export function useSubscriptionErrorStatus(): Plugin {
  return {
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          if (Symbol.asyncIterator in Object(result)) return;
          const errors = (result as ExecutionResult).errors;
          const code = errors?.length ? codeOf(errors[0]!) : undefined;
          if (!code) return;
          const executionResult = result as ExecutionResult;
          setResult({ ...executionResult, extensions: { ...executionResult.extensions, http: { status: HTTP_STATUS_OF[code] ?? 400 } } });
        },
      };
    },
  };
}

/**
 * A request Yoga's own parsers cannot read (a multipart `operations` of `null`, a `map` that is not JSON…) is the
 * client's mistake: a 400 with BAD_USER_INPUT, never a masked INTERNAL_SERVER_ERROR or a 200.
 */
export function useRequestParseErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          // A value that is not JSON (a form's `variables`, a multipart `map`) says so; anything else is the body's shape.
          const message =
            error instanceof GraphQLError
              ? error.message
              : error instanceof SyntaxError
                ? `a value of the request is not valid JSON (${error.message.slice(0, 200)})`
                : 'the request body could not be read as a GraphQL request';
          const code = (error instanceof GraphQLError && (error.extensions.code as ErrorCode | undefined)) || ErrorCode.BAD_USER_INPUT;
          const status = (error instanceof GraphQLError && (error.extensions.http as { status?: number } | undefined)?.status) || 400;
          throw requestError(code, message, status);
        }
      });
    },
  };
}

/**
 * Cross-site request forgery: a browser sends a GET, or a form/text POST, to another site without asking first;
 * requiring one of our headers on those makes the browser ask (CORS preflight). Forgery needs credentials the
 * browser adds by itself: jobgraph takes only a bearer header, which no other site can make a browser send, so the
 * rule applies only to requests that carry a cookie (a proxy's or another app's on the same host), and urql's
 * default GET works. Yoga's plugin does the same check but answers without a code or the header's name.
 */
export function useCsrfPrevention(headers: readonly string[]): Plugin {
  const simpleContentTypes = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
  return {
    onRequestParse({ request }) {
      if (!request.headers.has('cookie')) return;
      const contentType = request.headers.get('content-type')?.toLowerCase();
      const preflighted = contentType && !simpleContentTypes.some((type) => contentType.startsWith(type));
      if (preflighted || headers.some((name) => request.headers.has(name))) return;
      throw requestError(
        ErrorCode.FORBIDDEN,
        `this request needs a "${headers[headers.length - 1]}: 1" header (or "${headers[0]}"): GET and form or text POST requests must carry it, so a browser cannot be tricked into sending them from another site`,
        403,
      );
    },
  };
}

/** A request-level rejection (bad token, limits): a GraphQLError with our code and a 4xx status. */
export function requestError(code: ErrorCode, message: string, status: number, details: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code, ...details, http: { status } } });
}

/** A request-level rejection a service decided (an Authorization value refused, say), with its code's status. */
export const requestErrorFor = (error: DomainError) => requestError(error.code, error.message, HTTP_STATUS_OF[error.code], error.details);

/**
 * A variable's value that execution could not coerce (`Variable "$id" got invalid value …`): the one request's
 * mistake, BAD_USER_INPUT, whichever executor (graphql-js, graphql-jit) reported it.
 */
export const isVariableValueError = (error: GraphQLError) => !error.path && error.message.startsWith('Variable "$');

/**
 * Yoga's maskError: our DomainErrors keep their message and code; GraphQL's own errors (syntax, validation,
 * coercion) pass through; anything else is logged with the request id and masked for the client.
 */
export function createErrorMasker(log: Logger) {
  const masked = (error: unknown, graphQLError: GraphQLError | undefined, original: unknown): GraphQLError => {
    const requestId = currentRequestId();
    const outage = databaseOutage(original);
    if (outage) {
      log.warn({ err: (original as Error)?.message, requestId, path: graphQLError?.path }, 'database unavailable');
      return graphQLErrorFor(outage, graphQLError);
    }
    log.error({ err: original ?? error, requestId, path: graphQLError?.path }, 'unexpected error');
    return new GraphQLError('Unexpected error.', {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
    });
  };
  const mask = (error: unknown): GraphQLError => {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    const original = graphQLError?.originalError ?? (graphQLError ? undefined : error);
    if (original instanceof DomainError) return graphQLErrorFor(original, graphQLError);
    if (graphQLError && (!original || original instanceof GraphQLError)) {
      // A variable that does not coerce keeps graphql-js's outer words, which name the variable.
      const own = original instanceof GraphQLError && !graphQLError.extensions?.code && !isVariableValueError(graphQLError) ? original : graphQLError;
      // GraphQL's own errors (coercion, relay arguments like a bad cursor) are the client's mistakes: say so.
      // Yoga's request-level refusals (BAD_REQUEST: a body that is not JSON, an unsupported method, batching;
      // OPERATION_RESOLUTION_FAILURE: no such operation name) are the client's mistakes; the API promises its own codes.
      const code = own.extensions?.code;
      if (typeof code === 'string' && (CONTRACT_CODES.has(code) || code.startsWith('GRAPHQL_'))) return own;
      return withCode(own, ErrorCode.BAD_USER_INPUT, graphQLError);
    }
    return masked(error, graphQLError, original);
  };
  // The masker is the last word on an error: should reading one fail (a library's error of an odd shape), the client
  // still gets a masked answer, never a 500 from the masker itself.
  return (error: unknown): GraphQLError => {
    try {
      return mask(error);
    } catch (failure) {
      return masked(failure, undefined, error);
    }
  };
}
