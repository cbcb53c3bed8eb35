// How long GraphQL's phases take (parse, validate, execute), and every error an operation answers, by its code:
// measured in Yoga's own hooks and handed to the metrics (src/http/metrics.ts). Parse and validate run only for a
// document not seen before (Yoga and the fast path keep both), so their counts are first sights (twice for a document
// the fast path looked at and handed to Yoga).
import type { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { DomainError } from '../errors';
import { VALIDATION_PROBE } from './logging';

export type GraphQLPhase = 'parse' | 'validate' | 'execute';

export interface PhaseMetrics {
  observePhase(phase: GraphQLPhase, seconds: number): void;
  /** One error of an answer, by its `extensions.code` (parse and validation failures by GraphQL's codes). */
  countError(code: string): void;
}

/** An error's code; one without any is `fallback` (GraphQL's own validation errors, or what the masker will hide). */
const codeOf = (error: GraphQLError, fallback = 'INTERNAL_SERVER_ERROR'): string =>
  (typeof error.extensions?.code === 'string' && error.extensions.code) || (error.originalError instanceof DomainError ? error.originalError.code : fallback);

export function usePhaseMetrics(metrics: PhaseMetrics): Plugin {
  const timed = (phase: GraphQLPhase) => {
    const started = performance.now();
    return () => metrics.observePhase(phase, (performance.now() - started) / 1000);
  };
  return {
    onParse() {
      const done = timed('parse');
      return ({ result }) => {
        done();
        if (result instanceof Error) metrics.countError('GRAPHQL_PARSE_FAILED');
      };
    },
    onValidate({ context }) {
      const done = timed('validate');
      // The fast path's first look at a document hands a failure to Yoga, which validates again: its errors count there.
      const probe = Boolean((context as Record<symbol, unknown>)[VALIDATION_PROBE]);
      return ({ valid, result }) => {
        done();
        if (!valid && !probe) for (const error of result) metrics.countError(codeOf(error, 'GRAPHQL_VALIDATION_FAILED'));
      };
    },
    onExecute() {
      const done = timed('execute');
      return {
        onExecuteDone({ result }) {
          done();
          // A stream's (defer) errors are counted as they come.
          if (isAsyncIterable(result)) return { onNext: ({ result: part }) => part.errors?.forEach((error) => metrics.countError(codeOf(error))) };
          for (const error of result.errors ?? []) metrics.countError(codeOf(error));
          return undefined;
        },
      };
    },
  };
}
