import { type DocumentNode, getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { GraphQLContext } from './context';

type ExecutionResultLike = { errors?: readonly GraphQLError[] };

function summarize(result: unknown) {
  const errors = (result as ExecutionResultLike | undefined)?.errors ?? [];
  // Execution results are logged before masking, so a domain error's code sits on its original error.
  const codes = [
    ...new Set(errors.map((error) => String(error.extensions?.code ?? (error.originalError as { code?: string })?.code ?? 'INTERNAL_SERVER_ERROR'))),
  ];
  return { outcome: errors.length ? 'error' : 'ok', errorCodes: codes.length ? codes : undefined };
}

/**
 * One log line per operation (name, type, duration, user, outcome) and one per rejected document, so the
 * server log answers "who did what, how long did it take, and what went wrong".
 */
export function useOperationLog(log: Logger): Plugin<GraphQLContext> {
  return {
    onValidate({ context }) {
      return ({ valid, result }) => {
        if (!valid) {
          const ctx = context as Partial<GraphQLContext>;
          log.warn(
            { requestId: ctx.requestId, userId: ctx.user?.id, errors: result.map((error) => error.message) },
            'rejected query',
          );
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
          const entry = {
            requestId: ctx.requestId,
            operation: operation?.name?.value ?? null,
            type: operation?.operation,
            userId: ctx.user?.id ?? null,
            durationMs: Math.round((performance.now() - started) * 1000) / 1000,
            ...summary,
          };
          if (summary.errorCodes?.includes('BAD_USER_INPUT')) log.warn(entry, 'operation rejected input');
          else log.info(entry, 'operation');
        },
      };
    },
    onSubscribe({ args }) {
      logSubscriptionStarted(log, args);
    },
  };
}

/** The log line of a subscription that starts (here, and for the subscriptions src/http/fan-out.ts groups). */
export function logSubscriptionStarted(log: Logger, args: { document: DocumentNode; operationName?: string | null; contextValue?: unknown }): void {
  const operation = getOperationAST(args.document, args.operationName);
  const ctx = args.contextValue as GraphQLContext;
  log.info({ requestId: ctx.requestId, operation: operation?.name?.value ?? null, type: 'subscription', userId: ctx.user?.id ?? null }, 'subscription started');
}
