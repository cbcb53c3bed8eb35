// `meanByCategory` and `stateMeanByCategory` (up to ~1,700 groups, ~100 KB of JSON) answered as JSON text written
// straight from the analytics index, for a query that asks nothing else: GraphQL execution built an object per group
// and per field, which the response cache then kept, and a new document paid its compile (docs/benchmarks.md). The
// text is the bytes execution's answer serialises to (test/category-means.test.ts compares them through the API).
// Anything this plugin does not recognise — another field, a fragment, a directive, `__typename`, an anonymous caller
// (the `reader` scope is the resolvers' to decide), a variable or argument that does not coerce, an unknown question
// or state, a bad year range — is left to execution, which answers it (errors included) as it always did.
import { type DocumentNode, type FieldNode, getArgumentValues, getOperationAST, getVariableValues, type GraphQLObjectType, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { GraphQLContext } from './context';

type CategoryMeanField = 'state' | 'category' | 'segment' | 'value';
const LIST_FIELDS: ReadonlySet<string> = new Set(['meanByCategory', 'stateMeanByCategory']);
const GROUP_FIELDS: ReadonlySet<string> = new Set<CategoryMeanField>(['state', 'category', 'segment', 'value']);

/** One list the answer writes: under which key, from which field node, with which group fields. */
interface ListAsk {
  key: string;
  node: FieldNode;
  fields: { key: string; field: CategoryMeanField }[];
}

/** A query of `analytics { <lists> }` alone: the analytics field's key and each list asked. */
interface Plan {
  operation: OperationDefinitionNode;
  analyticsKey: string;
  lists: ListAsk[];
}

const responseKey = (field: FieldNode) => (field.alias ?? field.name).value;

/** The selection's fields when each is a plain field (no directive, fragment or repeated key) named in `names`. */
function plainFields(selectionSet: SelectionSetNode | undefined, names: ReadonlySet<string>): FieldNode[] | null {
  if (!selectionSet) return null;
  const keys = new Set<string>();
  const fields: FieldNode[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || !names.has(selection.name.value) || keys.has(responseKey(selection))) return null;
    keys.add(responseKey(selection));
    fields.push(selection);
  }
  return fields;
}

function planOf(operation: OperationDefinitionNode): Plan | null {
  if (operation.operation !== 'query' || operation.directives?.length) return null;
  const [root] = plainFields(operation.selectionSet, new Set(['analytics'])) ?? [];
  if (!root || operation.selectionSet.selections.length !== 1 || root.arguments?.length) return null;
  const lists = plainFields(root.selectionSet, LIST_FIELDS);
  if (!lists) return null;
  const asks: ListAsk[] = [];
  for (const node of lists) {
    const groupFields = plainFields(node.selectionSet, GROUP_FIELDS);
    if (!groupFields || groupFields.some((field) => field.arguments?.length || field.selectionSet)) return null;
    asks.push({ key: responseKey(node), node, fields: groupFields.map((field) => ({ key: responseKey(field), field: field.name.value as CategoryMeanField })) });
  }
  return { operation, analyticsKey: responseKey(root), lists: asks };
}

/**
 * An answer whose JSON is already written. Yoga writes a result with its `stringify` when it has one; any other
 * writer (graphql-ws, the shared response cache) meets the lists' `toJSON`, which gives the same objects back.
 */
function prewrittenResult(analyticsKey: string, lists: { key: string; json: string }[]) {
  const analytics: Record<string, { toJSON(): unknown }> = {};
  for (const { key, json } of lists) analytics[key] = { toJSON: () => JSON.parse(json) };
  const data = { [analyticsKey]: analytics };
  const text = `{"data":{${JSON.stringify(analyticsKey)}:{${lists.map(({ key, json }) => `${JSON.stringify(key)}:${json}`).join(',')}}}}`;
  return {
    data,
    // Yoga passes the result, or a copy without its internal extensions: only this very answer is the text.
    stringify: (result: { data?: unknown; errors?: unknown; extensions?: unknown }) =>
      result.data === data && result.errors === undefined && result.extensions === undefined ? text : JSON.stringify(result),
  };
}

/** Yoga's plugin; it sits after the response cache (which keeps what it answers) and before compiled execution. */
export function useCategoryMeansAsJson(): Plugin<GraphQLContext & YogaInitialContext> {
  const plans = new WeakMap<DocumentNode, Map<string | null, Plan | null>>();
  const planFor = (document: DocumentNode, operationName: string | null) => {
    let byOperation = plans.get(document);
    if (!byOperation) plans.set(document, (byOperation = new Map()));
    let plan = byOperation.get(operationName);
    if (plan === undefined) {
      const operation = getOperationAST(document, operationName);
      // Only the document's own operations are remembered: a client cannot grow the map with made-up names.
      if (!operation) return null;
      byOperation.set(operationName, (plan = planOf(operation)));
    }
    return plan;
  };

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const plan = planFor(args.document, args.operationName ?? null);
      const context = args.contextValue;
      if (!plan || context.user === null) return;
      const variables = getVariableValues(args.schema, plan.operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
      if (variables.errors) return;
      const analyticsFields = (args.schema.getType('Analytics') as GraphQLObjectType).getFields();
      const lists: { key: string; json: string }[] = [];
      try {
        for (const { key, node, fields } of plan.lists) {
          const { question, state, yearFrom, yearTo } = getArgumentValues(analyticsFields[node.name.value]!, node, variables.variableValues) as Record<string, unknown>;
          const years = context.analytics.checkYears(yearFrom, yearTo);
          const json = context.analytics.meanByCategoryJson(question as string, fields, years, node.name.value === 'stateMeanByCategory' ? (state as string) : undefined);
          lists.push({ key, json });
        }
      } catch {
        // Execution asks again and words the error as it always has.
        return;
      }
      setResultAndStopExecution(prewrittenResult(plan.analyticsKey, lists) as never);
    },
  };
}
