import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
}

const limitError = (message: string, limit: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, limit, http: { status: 400 } } });

/** Rejects documents with more than `max` aliased fields (alias flooding multiplies work without depth). */
function maxAliasesRule(max: number): ValidationRule {
  return (context: ValidationContext) => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias && ++aliases === max + 1) {
          context.reportError(limitError(`query has more than ${max} aliases`, 'aliases'));
        }
      },
    };
  };
}

/**
 * Rejects operations nested deeper than `max` fields, introspection included (`__type { fields { type {
 * fields … } } }` recurses too). Fragments are followed; a fragment cycle is left to GraphQL's own rule.
 */
function maxDepthRule(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const depthOf = (selectionSet: SelectionSetNode, visiting: Set<string>): number => {
      let deepest = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          deepest = Math.max(deepest, 1 + (selection.selectionSet ? depthOf(selection.selectionSet, visiting) : 0));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue;
          visiting.add(name);
          deepest = Math.max(deepest, depthOf(fragment.selectionSet, visiting));
          visiting.delete(name);
        }
        if (deepest > max) return deepest;
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) context.reportError(limitError(`query depth exceeds the limit of ${max}`, 'depth'));
      },
    };
  };
}

/**
 * Depth, cost and alias limits checked during validation, so an over-limit query is a 400 with a code
 * before any resolver runs. Cost comes from Pothos' complexity plugin (fields 1, lists ×10 by default).
 */
export function useQueryLimits(limits: QueryLimits): Plugin {
  return {
    onValidate({ addValidationRule, context }) {
      const params = (context as { params?: { variables?: Record<string, unknown>; operationName?: string } }).params;
      addValidationRule(maxAliasesRule(limits.maxAliases));
      addValidationRule(maxDepthRule(limits.maxDepth));
      const complexityRule = createComplexityRule({
        context: context as object,
        variableValues: params?.variables ?? {},
        operationName: params?.operationName ?? undefined,
        validate: (measured, report) => {
          if (measured.complexity > limits.maxComplexity) {
            report(limitError(`query cost ${measured.complexity} exceeds the limit of ${limits.maxComplexity}`, 'complexity'));
          }
        },
      });
      // Yoga caches validation per document and per the rules' names. A query's cost depends on its variables
      // (list sizes, `first:`), so the cost rule's name carries them: same document and variables → cached result.
      const variablesKey = Bun.hash(JSON.stringify([params?.variables ?? null, params?.operationName ?? null])).toString(36);
      Object.defineProperty(complexityRule, 'name', { value: `complexity_${variablesKey}` });
      addValidationRule(complexityRule);
    },
  };
}

/**
 * A connection's cost follows its page size (`first` or `last`; default 20, at most 100 — Pothos relay's bounds).
 * Its `edges` list already multiplies by the default 10, so the connection contributes page size / 10.
 */
export const connectionComplexity = (args: { first?: number | null; last?: number | null }) => ({
  field: 1,
  multiplier: Math.min(Math.max(args.first ?? args.last ?? 20, 1), 100) / 10,
});
