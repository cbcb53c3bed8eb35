import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getVariableValues,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  TypeInfo,
  type ValidationContext,
  type ValidationRule,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors';
import { MAX_PAGE_SIZE } from './ids';

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

/** Most fragment definitions in one document (GraphiQL's introspection has 3; recursion follows their chains). */
export const MAX_DOCUMENT_FRAGMENTS = 1000;

/**
 * Most variable definitions in one document (the dashboard's largest operation declares 6). Every rule walks them
 * and each unused one is an error: 6,329 of them kept one request on the event loop for ~45 ms, ~190 ms cold.
 */
export const MAX_DOCUMENT_VARIABLES = 500;

function variablesProblem(document: DocumentNode): GraphQLError | null {
  let defined = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) defined += definition.variableDefinitions?.length ?? 0;
  }
  return defined > MAX_DOCUMENT_VARIABLES ? limitError(`the document defines more than ${MAX_DOCUMENT_VARIABLES} variables`, 'variables') : null;
}

/**
 * Refuses documents whose fragments expand into more fields than the cost limit allows: every field costs at least 1,
 * so nothing acceptable is refused, and `F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } …` (2^n fields from n lines) is
 * stopped before the depth and cost rules walk its expansion. Each fragment is counted once (memoised) and the count
 * stops at the limit, so this is linear in the document.
 */
export function expansionProblem(document: DocumentNode, maxFields: number): GraphQLError | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  if (fragments.size > MAX_DOCUMENT_FRAGMENTS) {
    return limitError(`the document defines more than ${MAX_DOCUMENT_FRAGMENTS} fragments`, 'fragments');
  }
  const counted = new Map<string, number>();
  const visiting = new Set<string>();
  const countSet = (selectionSet: SelectionSetNode): number => {
    let fields = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) fields += 1 + (selection.selectionSet ? countSet(selection.selectionSet) : 0);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fields += countSet(selection.selectionSet);
      else fields += countFragment(selection.name.value);
      if (fields > maxFields) return fields;
    }
    return fields;
  };
  const countFragment = (name: string): number => {
    const known = counted.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // Unknown fragments and cycles are GraphQL's own rules' to report.
    if (!fragment || visiting.has(name)) return 0;
    visiting.add(name);
    const fields = countSet(fragment.selectionSet);
    visiting.delete(name);
    counted.set(name, fields);
    return fields;
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION && countSet(definition.selectionSet) > maxFields) {
      return limitError(`query expands to more than ${maxFields} fields (through its fragments)`, 'complexity');
    }
  }
  return null;
}

const costReadsVariablesByDocument = new WeakMap<DocumentNode, boolean>();

/**
 * Whether the document's cost can change with its variables. Pothos reads arguments only for a field whose
 * complexity is a function (connectionComplexity: `first`/`last`), so only a variable passed to such a field counts;
 * every other document costs the same whatever its variables (an analytics question, a year range…).
 */
export function costReadsVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  let reads = costReadsVariablesByDocument.get(document);
  if (reads !== undefined) return reads;
  reads = false;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const complexity = (typeInfo.getFieldDef()?.extensions as { complexity?: unknown } | undefined)?.complexity;
        if (typeof complexity !== 'function' || !node.arguments?.length) return;
        visit(node, { Variable: () => void (reads = true) });
      },
    }),
  );
  costReadsVariablesByDocument.set(document, reads);
  return reads;
}

/**
 * The cost rule without its verdicts on the variables' values: a value that does not coerce is the one request's
 * mistake, which execution reports to that request alone (BAD_USER_INPUT), never a validation error that a cache
 * keeps for the document. `variables` null: the cost does not read them, and the rule sees the operation without
 * its variable definitions (nothing to coerce). Otherwise an operation whose variables do not coerce is not measured
 * here — execution refuses those same variables before anything runs.
 */
function variableSafeCostRule(rule: ValidationRule, variables: Record<string, unknown> | null): ValidationRule {
  return (context: ValidationContext) => {
    const visitor = rule(context) as { OperationDefinition?: { enter?: (node: OperationDefinitionNode) => void; leave?: (node: OperationDefinitionNode) => void } };
    const inner = visitor.OperationDefinition;
    if (!inner?.enter) return visitor as ReturnType<ValidationRule>;
    let skipped = false;
    return {
      ...visitor,
      OperationDefinition: {
        enter(node: OperationDefinitionNode) {
          skipped = variables !== null && 'errors' in getVariableValues(context.getSchema(), node.variableDefinitions ?? [], variables);
          if (!skipped) inner.enter!(variables === null ? { ...node, variableDefinitions: [] } : node);
        },
        leave(node: OperationDefinitionNode) {
          if (!skipped) inner.leave?.(node);
        },
      },
    } as ReturnType<ValidationRule>;
  };
}

/**
 * Depth, cost and alias limits checked during validation, so an over-limit query is a 400 with a code
 * before any resolver runs. Cost comes from Pothos' complexity plugin (fields 1, lists ×10 by default).
 */
export function useQueryLimits(limits: QueryLimits): Plugin {
  return {
    // HTTP requests (GET, POST, multipart) are checked here; WebSocket operations call operationParamsProblem.
    onParams({ params }) {
      // Thrown, not set as the result: later onParams hooks (the response cache's key) must not see such params.
      const problem = operationParamsProblem(params);
      if (problem) throw problem;
    },
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, { ...options, maxTokens: MAX_DOCUMENT_TOKENS });
        } catch (error) {
          // The code belongs to the error itself: Yoga caches it and serves it to HTTP and WebSocket alike.
          if (error instanceof GraphQLError && !error.extensions.code) {
            throw new GraphQLError(error.message, { source: error.source, positions: error.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
          }
          throw error;
        }
      });
    },
    onValidate({ addValidationRule, context, params: { documentAST, schema }, setResult }) {
      // Fragments can multiply a small document into an exponential one; measured first, linearly, or no rule runs.
      const tooLarge = variablesProblem(documentAST) ?? expansionProblem(documentAST, limits.maxComplexity);
      if (tooLarge) {
        setResult([tooLarge]);
        return;
      }
      const params = (context as { params?: { variables?: Record<string, unknown>; operationName?: string } }).params;
      addValidationRule(maxAliasesRule(limits.maxAliases));
      addValidationRule(maxDepthRule(limits.maxDepth));
      // The cost rule measures with the request's variables only where the cost reads them (a connection's `first:`);
      // otherwise it sees the operation without its variable definitions, so its verdict holds for any variables.
      const readsVariables = costReadsVariables(schema, documentAST);
      const variables = readsVariables ? (params?.variables ?? {}) : {};
      const complexityRule = variableSafeCostRule(
        createComplexityRule({
          context: context as object,
          variableValues: variables,
          operationName: params?.operationName ?? undefined,
          validate: (measured, report) => {
            if (measured.complexity > limits.maxComplexity) {
              report(limitError(`query cost ${measured.complexity} exceeds the limit of ${limits.maxComplexity}`, 'complexity'));
            }
          },
        }),
        readsVariables ? variables : null,
      );
      // Yoga caches validation per document and per the rules' names. A cost that reads the variables makes the cost
      // rule's name carry them: same document and variables → cached result. Otherwise one name for all, so new
      // variables (a first ask of each analytics year range) skip validation.
      const variablesKey = Bun.hash(JSON.stringify([readsVariables ? variables : 'any', params?.operationName ?? null])).toString(36);
      Object.defineProperty(complexityRule, 'name', { value: `complexity_${variablesKey}` });
      addValidationRule(complexityRule);
      return ({ result, setResult }) => {
        // graphql-js stops validating a document whose repeated fields or fragments would cost too much to compare.
        if (result.some((error) => error.message === 'Validation aborted.')) {
          setResult([limitError('validation aborted: the document repeats too many fields or fragments to check; send a smaller one', 'validation')]);
        }
      };
    },
  };
}

/**
 * A connection's cost follows its page size (`first` or `last`; default 20, at most MAX_PAGE_SIZE).
 * Its `edges` list already multiplies by the default 10, so the connection contributes page size / 10.
 */
export const connectionComplexity = (args: { first?: number | null; last?: number | null }) => ({
  field: 1,
  multiplier: Math.min(Math.max(args.first ?? args.last ?? 20, 1), MAX_PAGE_SIZE) / 10,
});

/**
 * Deepest nesting of `{`, `[` and `(` a document may have. graphql-js parses, validates and executes recursively,
 * so a document nested thousands of levels overflows the stack; this bound is checked by a flat scan before
 * anything recursive sees the text. Legitimate documents stay far below it (selection depth is capped at
 * MAX_QUERY_DEPTH anyway).
 */
export const MAX_DOCUMENT_NESTING = 128;
/** Deepest nesting of arrays and objects in `variables` and `extensions` (JSON.stringify and coercion recurse). */
export const MAX_VALUE_NESTING = 64;
/** Most lexical tokens graphql-js will read in one document (10,000 inline list items fit; field floods do not). */
export const MAX_DOCUMENT_TOKENS = 50_000;

/**
 * How deeply `{`, `[` and `(` nest in a GraphQL document, skipping strings, block strings and comments.
 * Stops as soon as `max` is passed, so its cost is linear and bounded.
 */
export function documentNestingExceeds(source: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const char = source.charCodeAt(i);
    if (char === 0x7b || char === 0x5b || char === 0x28) {
      if (++depth > max) return true;
    } else if (char === 0x7d || char === 0x5d || char === 0x29) {
      if (depth > 0) depth--;
    } else if (char === 0x23) {
      // A comment runs to the end of the line.
      while (i < source.length && source.charCodeAt(i) !== 0x0a && source.charCodeAt(i) !== 0x0d) i++;
    } else if (char === 0x22) {
      if (source.startsWith('"""', i)) {
        // A block string ends at the first """ not escaped as \""".
        let end = source.indexOf('"""', i + 3);
        while (end !== -1 && source.charCodeAt(end - 1) === 0x5c) end = source.indexOf('"""', end + 3);
        if (end === -1) return false;
        i = end + 2;
      } else {
        for (i++; i < source.length; i++) {
          const inner = source.charCodeAt(i);
          if (inner === 0x5c) i++;
          else if (inner === 0x22 || inner === 0x0a) break;
        }
      }
    }
  }
  return false;
}

/**
 * Whether JSON text nests arrays/objects deeper than `max`, read as text (strings skipped) before anything parses it:
 * for messages whose parsed value would reach recursive code we do not own (graphql-ws echoes a ping's payload).
 */
export function jsonTextNestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (char === 0x7b || char === 0x5b) {
      if (++depth > max) return true;
    } else if (char === 0x7d || char === 0x5d) {
      depth--;
    } else if (char === 0x22) {
      for (i++; i < text.length; i++) {
        const inner = text.charCodeAt(i);
        if (inner === 0x5c) i++;
        else if (inner === 0x22) break;
      }
    }
  }
  return false;
}

/** Whether a JSON value nests arrays/objects deeper than `max`; iterative, so any depth is safe to ask about. */
export function valueNestingExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The shape every GraphQL request must have before any recursive work touches it: a JSON object with a string
 * `query`, object (or absent) `variables` and `extensions`, a string (or absent) `operationName`, values nested
 * at most MAX_VALUE_NESTING deep and a document nested at most MAX_DOCUMENT_NESTING deep. Shared by HTTP (GET,
 * POST, multipart) and WebSocket, so no transport can hand the parser something it cannot survive.
 */
export function operationParamsProblem(params: unknown): GraphQLError | null {
  const bad = (message: string, limit?: string) =>
    new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, ...(limit ? { limit } : {}), http: { status: 400 } } });
  if (!isPlainObject(params)) {
    return bad('the request must be a JSON object: {"query": "…", "variables": {…}, "operationName": "…"}');
  }
  const { query, variables, extensions, operationName } = params;
  if (typeof query !== 'string') return bad('"query" must be a string holding a GraphQL document');
  if (variables != null && !isPlainObject(variables)) return bad('"variables" must be a JSON object');
  if (extensions != null && !isPlainObject(extensions)) return bad('"extensions" must be a JSON object');
  if (operationName != null && typeof operationName !== 'string') return bad('"operationName" must be a string');
  if (valueNestingExceeds(variables, MAX_VALUE_NESTING) || valueNestingExceeds(extensions, MAX_VALUE_NESTING)) {
    return bad(`variables nest deeper than the limit of ${MAX_VALUE_NESTING} levels`, 'nesting');
  }
  if (documentNestingExceeds(query, MAX_DOCUMENT_NESTING)) {
    return bad(`the document nests deeper than the limit of ${MAX_DOCUMENT_NESTING} levels`, 'nesting');
  }
  return null;
}
