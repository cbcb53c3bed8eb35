// The common GraphQL request — a JSON POST of a query or mutation already known to be valid, from a client with no
// Origin header and a plain Accept — executed without Yoga's HTTP layer (its request parsers, params hooks, result
// processors and server adapter: half the time of a small request, see the README's benchmarks). What it keeps is
// Yoga's own: the same envelop instance parses, validates, builds the context and executes, so every plugin's
// execution hooks (error masking, the operation log, the response cache, the limits) run as they do in Yoga, and the
// answer is written by Yoga's own result processor. Anything else — a first sight that does not parse or validate,
// a refused token, a subscription, another Accept, a CORS request, unknown body keys — goes to Yoga, which answers
// it in its own words.
import { type DocumentNode, type GraphQLSchema, getOperationAST, type OperationDefinitionNode } from 'graphql';
import { isAsyncIterable, processRegularResult } from 'graphql-yoga';
import { costReadsVariables } from '../graphql/limits';
import { VALIDATION_PROBE } from '../graphql/logging';
import type { UsersService } from '../users/service';
import { authenticateRequest } from '../users/auth';
import type { DirectAnswerType } from './direct-answers';
import type { GraphQLHandler, TransportContext } from './graphql-handler';

/** Documents remembered per schema (bounded, least recently used dropped first). */
const KNOWN_DOCUMENTS = 1000;

/** A document seen before: its parse, and which of its operations passed validation whatever the variables. */
interface KnownDocument {
  document: DocumentNode;
  operations: Map<string | null, OperationDefinitionNode>;
  /** Operation names whose validation (limits included) passed and does not depend on the variables. */
  validForAnyVariables: Set<string | null>;
}

/** A Map kept in recency order: a hit moves to the end, the oldest entry leaves when full. */
class BoundedLru<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: K, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as K);
    this.entries.set(key, value);
  }
}

const fetchApi = { Response } as unknown as Parameters<typeof processRegularResult>[1];

export interface OperationParams {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

export function createGraphQLFastPath(yoga: GraphQLHandler, users: Pick<UsersService, 'authenticate'>) {
  const knownBySchema = new WeakMap<GraphQLSchema, BoundedLru<string, KnownDocument>>();

  /**
   * The answer to a JSON POST whose parameters passed operationParamsProblem and whose headers passed the direct
   * answer's gates (direct-answers.ts), or undefined when Yoga must answer it. `serverContext` is what yoga.fetch
   * would have been given.
   */
  async function execute(request: Request, params: OperationParams, serverContext: TransportContext, answerType: DirectAnswerType): Promise<Response | undefined> {
    // A refused token is Yoga's to answer (a 401 from the context factory).
    if ((await authenticateRequest(users, request)).failure) return undefined;

    const enveloped = yoga.getEnveloped({ ...serverContext, request, params, [VALIDATION_PROBE]: true } as never);
    const { schema } = enveloped;
    let known = knownBySchema.get(schema);
    if (!known) knownBySchema.set(schema, (known = new BoundedLru(KNOWN_DOCUMENTS)));
    let entry = known.get(params.query);
    if (!entry) {
      let document: DocumentNode;
      try {
        document = enveloped.parse(params.query);
      } catch {
        return undefined;
      }
      entry = { document, operations: new Map(), validForAnyVariables: new Set() };
      known.set(params.query, entry);
    }
    const operationName = params.operationName ?? null;
    let operation = entry.operations.get(operationName);
    if (!operation) {
      operation = getOperationAST(entry.document, operationName) ?? undefined;
      // Only the document's own operations are remembered, so no client can grow the entry with made-up names.
      if (!operation) return undefined;
      entry.operations.set(operationName, operation);
    }
    if (operation.operation === 'subscription') return undefined;
    if (!entry.validForAnyVariables.has(operationName)) {
      // A rule may throw (the cost rule coercing a bad enum literal); Yoga turns that into the client's error.
      const valid = (() => {
        try {
          return enveloped.validate(schema, entry.document).length === 0;
        } catch {
          return false;
        }
      })();
      if (!valid) return undefined;
      // A cost that reads the variables (a connection's `first: $n`) is validated again for each request's.
      if (!costReadsVariables(schema, entry.document)) entry.validForAnyVariables.add(operationName);
    }

    const contextValue = await enveloped.contextFactory();
    const result = await enveloped.execute({
      schema,
      document: entry.document,
      contextValue,
      variableValues: params.variables ?? undefined,
      operationName: params.operationName ?? undefined,
    });
    // Queries and mutations give one result (the schema has no @defer or @stream).
    if (isAsyncIterable(result)) throw new Error('a query or mutation answered with a stream');
    return processRegularResult(result, fetchApi, answerType);
  }

  return { execute };
}
