import { type DocumentNode, getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { type Authentication, type AuthUser, authenticateRequest, settledAuthentication, type UsersService } from '../services';
import type { GraphQLContext } from './context';
import { isVariableValueError } from './errors';

/** Where each finished operation's measure goes too (src/http/metrics.ts), so one hook serves the log and metrics. */
export interface OperationMetrics {
  observeOperation(type: string, name: string | null, outcome: 'ok' | 'error', seconds: number): void;
  subscriptionStarted(name: string | null): void;
  /** A document refused by validation (never executed). */
  rejected(): void;
}

type ExecutionResultLike = { errors?: readonly GraphQLError[] };

/** A code per error; execution results are logged before masking, so a domain error's code sits on its original error. */
const codeOf = (error: GraphQLError) =>
  String(error.extensions?.code ?? (error.originalError as { code?: string })?.code ?? (isVariableValueError(error) ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR'));

function summarize(result: unknown) {
  const errors = (result as ExecutionResultLike | undefined)?.errors ?? [];
  const codes = [...new Set(errors.map(codeOf))];
  // The messages the client was told (an unexpected error's own message stays with its 'unexpected error' line).
  const messages = errors.filter((error) => codeOf(error) !== 'INTERNAL_SERVER_ERROR').map((error) => withoutEchoedValue(error.message));
  return { outcome: errors.length ? ('error' as const) : ('ok' as const), errorCodes: codes.length ? codes : undefined, errors: messages.length ? messages : undefined };
}

/**
 * Set on the initial context of a validation whose failure is not an answer: the HTTP fast path validates first and,
 * on a failure, hands the request to Yoga, which validates again and answers — that second pass logs and counts it.
 */
export const VALIDATION_PROBE = Symbol('validation probe');

/** Requests whose refusal a line of this plugin already logged (the HTTP layer logs the others: see routes.ts). */
const refusalLogged = new WeakSet<object>();
export const isRefusalLogged = (request: Request) => refusalLogged.has(request);


/**
 * A message for the log without the value graphql-js echoes when it cannot coerce one ("String cannot represent a
 * non string value: 12345678"): a password sent as a number must not reach the log. The client's answer keeps it.
 */
export const withoutEchoedValue = (message: string) =>
  message
    .replace(/^(Variable "\$[^"]*" got invalid value) [\s\S]*$/, '$1 (value not logged)')
    .replace(/(cannot represent [^:]*value): [\s\S]*$/, '$1: (value not logged)')
    .replace(/(Expected value of type [^,]*), found [\s\S]*$/, '$1, found (value not logged)');

/**
 * One log line per operation (name, type, duration, user, outcome) and one per rejected document or input, with
 * the client's address, the username and the messages, so the server log answers "who did what, how long did it
 * take, and what went wrong".
 */
export function useOperationLog(log: Logger, users: Pick<UsersService, 'authenticate'>, metrics?: OperationMetrics): Plugin<GraphQLContext> {
  /**
   * Who asked, on every line about a refusal: the client's address and the username when known (as the source's
   * serverinfo.log). Validation runs before the resolver context exists, so the user may come from the transport;
   * where the request's token check has not settled yet, the line is written once it has.
   */
  const askedBy = (
    ctx: Partial<GraphQLContext> & { request?: Request; authentication?: Authentication },
    write: (who: { requestId?: string; address: string | null; userId: number | null; username: string | null }) => void,
  ) => {
    if (ctx.request) refusalLogged.add(ctx.request);
    const line = (user: AuthUser | null | undefined) =>
      write({ requestId: ctx.requestId, address: ctx.clientAddress ?? null, userId: user?.id ?? null, username: user?.username ?? null });
    if (ctx.user !== undefined || ctx.authentication || !ctx.request?.headers) return line(ctx.user ?? ctx.authentication?.user);
    const settled = settledAuthentication(ctx.request);
    if (settled) return line(settled.user);
    authenticateRequest(users, ctx.request).then(
      (authentication) => line(authentication.user),
      () => line(null),
    );
  };
  return {
    onValidate({ context }) {
      return ({ valid, result }) => {
        if (!valid && !(context as Record<symbol, unknown>)[VALIDATION_PROBE]) {
          metrics?.rejected();
          const errors = result.map((error) => withoutEchoedValue(error.message));
          askedBy(context as Partial<GraphQLContext>, (who) => log.warn({ ...who, errors }, 'rejected query'));
        }
      };
    },
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      const ctx = args.contextValue as GraphQLContext;
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in Object(result)) return;
          const summary = summarize(result);
          const elapsedMs = performance.now() - started;
          const name = operation?.name?.value ?? null;
          metrics?.observeOperation(operation?.operation ?? 'unknown', name, summary.outcome, elapsedMs / 1000);
          const entry = {
            requestId: ctx.requestId,
            operation: name,
            type: operation?.operation,
            userId: ctx.user?.id ?? null,
            durationMs: Math.round(elapsedMs * 1000) / 1000,
            ...summary,
          };
          if (summary.errorCodes?.includes('BAD_USER_INPUT')) askedBy(ctx, (who) => log.warn({ ...entry, ...who }, 'operation rejected input'));
          else log.info(entry, 'operation');
        },
      };
    },
    onSubscribe({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const ctx = args.contextValue as GraphQLContext;
      metrics?.subscriptionStarted(operation?.name?.value ?? null);
      const entry = { requestId: ctx.requestId, operation: operation?.name?.value ?? null, type: 'subscription', userId: ctx.user?.id ?? null };
      return {
        onSubscribeResult({ result }) {
          if (Symbol.asyncIterator in Object(result)) {
            log.info(entry, 'subscription started');
            return;
          }
          // Refused before its first event (an invalid argument, not allowed…).
          const summary = summarize(result);
          askedBy(ctx, (who) => log.warn({ ...entry, ...summary, ...who }, 'subscription refused'));
        },
      };
    },
  };
}

/** The log line of a subscription that starts (here, and for the subscriptions src/http/fan-out.ts groups). */
export function logSubscriptionStarted(
  log: Logger,
  args: { document: DocumentNode; operationName?: string | null; contextValue?: unknown },
  metrics?: OperationMetrics,
): void {
  const operation = getOperationAST(args.document, args.operationName);
  const ctx = args.contextValue as GraphQLContext;
  metrics?.subscriptionStarted(operation?.name?.value ?? null);
  log.info({ requestId: ctx.requestId, operation: operation?.name?.value ?? null, type: 'subscription', userId: ctx.user?.id ?? null }, 'subscription started');
}
