// Compiled execution (graphql-jit) for the queries where the interpreter's per-field cost is the answer's whole cost:
// `analytics` answers up to ~1,700 objects (meanByCategory), each field of each one resolved, checked and wrapped by
// graphql's executor — ~3 ms of a first ask's ~4, against 0.5 ms to compute it. Compiled once per document, the same
// answer is built and serialised several times faster. Only queries that select nothing but `analytics` or `me`
// compile: their types need no Drizzle planner (a User's fields read the row as it is), and their rules run inside
// the resolvers, which compiled code calls as the interpreter does; every other query keeps the interpreter. For
// `me`, the executor's per-field machinery was ~10% of an authenticated request. Execution errors, masking, the
// operation log and the response cache are the same plugins' either way.
//
// A document's first use runs interpreted and its compile waits for its second, outside any request: compiling is
// 1–7 ms here, the whole of an unannounced document's first ask beyond parse and validation (docs/benchmarks.md).
// The compiled query is kept per document AND operation name (envelop's graphql-jit plugin kept one per document, so
// a second operation of the same text ran the first one's compiled query).
import {
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  visit,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors';
import { isVariableValueError } from './errors';

/** Root fields whose queries compile (docs/benchmarks.md: `me` ~10% less server CPU per request compiled). */
const COMPILED_ROOT_FIELDS: ReadonlySet<string> = new Set(['analytics', '__typename', 'me']);

const compiledByDocument = new WeakMap<DocumentNode, Map<string | null, boolean>>();

/**
 * Whether the operation is a query that selects only `analytics` or `me` (fields directly under the root), every argument
 * a variable and no directive: graphql-jit reads literal scalars with a warning on stderr for each, and those
 * documents stay interpreted.
 */
export function compiles(document: DocumentNode, operationName: string | null | undefined): boolean {
  let byOperation = compiledByDocument.get(document);
  if (!byOperation) compiledByDocument.set(document, (byOperation = new Map()));
  const name = operationName ?? null;
  let compiled = byOperation.get(name);
  if (compiled === undefined) {
    const operation = getOperationAST(document, name);
    // Only the document's own operations are remembered: a client cannot grow the map with made-up names.
    if (!operation) return false;
    compiled =
      operation.operation === 'query' &&
      !operation.directives?.length &&
      operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && COMPILED_ROOT_FIELDS.has(selection.name.value)) &&
      onlyVariableArguments(document);
    byOperation.set(name, compiled);
  }
  return compiled;
}

function onlyVariableArguments(document: DocumentNode): boolean {
  let only = true;
  visit(document, {
    Argument(node) {
      if (node.value.kind !== Kind.VARIABLE) only = false;
    },
    Directive() {
      only = false;
    },
  });
  return only;
}

/** The field a response path names in the operation (aliases, inline fragments and fragment spreads followed). */
function fieldAt(document: DocumentNode, operation: OperationDefinitionNode, path: readonly (string | number)[]): FieldNode | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const find = (selectionSet: SelectionSetNode, key: string): FieldNode | undefined => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD && (selection.alias ?? selection.name).value === key) return selection;
      const inner = selection.kind === Kind.INLINE_FRAGMENT ? selection.selectionSet : selection.kind === Kind.FRAGMENT_SPREAD ? fragments.get(selection.name.value)?.selectionSet : undefined;
      const found = inner && find(inner, key);
      if (found) return found;
    }
    return undefined;
  };
  let field: FieldNode | undefined;
  let selectionSet: SelectionSetNode | undefined = operation.selectionSet;
  for (const key of path) {
    if (typeof key === 'number') continue;
    field = selectionSet && find(selectionSet, key);
    if (!field) return undefined;
    selectionSet = field.selectionSet;
  }
  return field;
}

/**
 * graphql-jit's errors carry `locations` but no nodes, and Yoga rebuilds each error from its nodes when it writes the
 * answer: so each gets its field's node back, and a client sees the same error compiled or not.
 */
function withNodes(document: DocumentNode, operationName: string | null | undefined, errors: readonly GraphQLError[]): GraphQLError[] {
  const operation = getOperationAST(document, operationName ?? null);
  return errors.map((error) => {
    // A variable graphql-jit could not coerce (no path, no code): the client's mistake, as the interpreter says it.
    if (isVariableValueError(error) && !error.extensions?.code) {
      return new GraphQLError(error.message, { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } });
    }
    if (error.nodes?.length || !error.path || !operation) return error;
    const node = fieldAt(document, operation, error.path);
    if (!node) return error;
    return new GraphQLError(error.message, { nodes: [node], path: error.path, originalError: error.originalError ?? undefined, extensions: error.extensions });
  });
}

/** graphql-jit's compile of one operation, or why it failed (what it throws included). */
function compileOperation(schema: GraphQLSchema, document: DocumentNode, name: string | null): CompiledQuery | readonly GraphQLError[] {
  try {
    const compiled = compileQuery(schema, document, name ?? undefined);
    return isCompiledQuery(compiled) ? compiled : (compiled.errors ?? []);
  } catch (error) {
    return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
  }
}

/** How a document's operation runs: interpreted until compiled; a compile that failed leaves it interpreted. */
interface Compilation {
  uses: number;
  state: 'interpreted' | 'compiling' | 'failed' | CompiledQuery;
}

/** The use of a document's operation that schedules its compile (after that use's answer, not in its way). */
export const COMPILE_AT_USE = 2;

/**
 * Yoga's plugin: `analytics` and `me` queries run compiled from their document's second use (a document that fails
 * to compile runs interpreted, and is logged). `schedule` runs a compile later: tests pass their own.
 */
export function useCompiledAnalytics(log: Logger, schedule: (compile: () => void) => void = (compile) => setTimeout(compile, 0)): Plugin {
  const byDocument = new WeakMap<DocumentNode, Map<string | null, Compilation>>();
  return {
    onExecute({ args, setExecuteFn }) {
      const { schema, document, operationName } = args;
      if (!compiles(document, operationName)) return;
      let byOperation = byDocument.get(document);
      if (!byOperation) byDocument.set(document, (byOperation = new Map()));
      // `compiles` said the operation exists: the map holds only the document's own operation names.
      const name = operationName ?? null;
      let compilation = byOperation.get(name);
      if (!compilation) byOperation.set(name, (compilation = { uses: 0, state: 'interpreted' }));
      const { state } = compilation;
      if (typeof state !== 'object') {
        if (state === 'interpreted' && ++compilation.uses >= COMPILE_AT_USE) scheduleCompile(compilation);
        return;
      }
      setExecuteFn(((execution: ExecutionArgs) => state.query(execution.rootValue, execution.contextValue, execution.variableValues)) as never);
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result) || !result.errors?.length) return;
          setResult({ ...result, errors: withNodes(document, operationName, result.errors) });
        },
      };

      function scheduleCompile(pending: Compilation) {
        pending.state = 'compiling';
        const compile = () => {
          const compiled = compileOperation(schema, document, name);
          pending.state = Array.isArray(compiled) ? 'failed' : (compiled as CompiledQuery);
          if (Array.isArray(compiled)) log.warn({ errors: compiled.map((error) => error.message) }, 'query did not compile');
        };
        // The start-up warm-up (src/http/warm-up.ts; session 0, which no token has) compiles at once: nobody waits on
        // it, and its next ask runs the compiled code once (a compiled query's first run is JavaScriptCore's first
        // sight of its code: 3–25 ms here, which the next ask would pay).
        if ((args.contextValue as { user?: { sessionId?: number } | null } | undefined)?.user?.sessionId === 0) compile();
        else schedule(compile);
      }
    },
  };
}
