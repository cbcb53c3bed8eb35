import { getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { GraphQLContext } from './context';

/** Where each finished operation's measure goes too (src/http/metrics.ts), so one hook serves the log and metrics. */
export interface OperationMetrics {
  observeOperation(type: string, name: string | null, outcome: 'ok' | 'error', seconds: number): void;
  subscriptionStarted(name: string | null): void;
  /** A document refused by validation (never executed). */
  rejected(): void;
}

type ExecutionResultLike = { errors?: readonly GraphQLError[] };

function summarize(result: unknown) {
  const errors = (result as ExecutionResultLike | undefined)?.errors ?? [];
  // Execution results are logged before masking, so a domain error's code sits on its original error.
  const codes = [
    ...new Set(errors.map((error) => String(error.extensions?.code ?? (error.originalError as { code?: string })?.code ?? 'INTERNAL_SERVER_ERROR'))),
  ];
  return { outcome: errors.length ? ('error' as const) : ('ok' as const), errorCodes: codes.length ? codes : undefined };
}

/**
 * One log line per operation (name, type, duration, user, outcome) and one per rejected document, so the
 * server log answers "who did what, how long did it take, and what went wrong".
 */
export function useOperationLog(log: Logger, metrics?: OperationMetrics): Plugin<GraphQLContext> {
  return {
    onValidate({ context }) {
      return ({ valid, result }) => {
        if (!valid) {
          metrics?.rejected();
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
          if (summary.errorCodes?.includes('BAD_USER_INPUT')) log.warn(entry, 'operation rejected input');
          else log.info(entry, 'operation');
        },
      };
    },
    onSubscribe({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const ctx = args.contextValue as GraphQLContext;
      metrics?.subscriptionStarted(operation?.name?.value ?? null);
      log.info(
        { requestId: ctx.requestId, operation: operation?.name?.value ?? null, type: 'subscription', userId: ctx.user?.id ?? null },
        'subscription started',
      );
    },
  };
}
