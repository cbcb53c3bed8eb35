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
import type { DocumentCaches } from '../graphql/document-caches';
import type { DirectAnswerType } from './direct-answers';
import type { GraphQLHandler, TransportContext } from './graphql-handler';

/** A document seen before: its parse, and which of its operations passed validation whatever the variables. */
interface KnownDocument {
  schema: GraphQLSchema;
  document: DocumentNode;
  operations: Map<string | null, OperationDefinitionNode>;
  /** Operation names whose validation (limits included) passed and does not depend on the variables. */
  validForAnyVariables: Set<string | null>;
}

const fetchApi = { Response } as unknown as Parameters<typeof processRegularResult>[1];

export interface OperationParams {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

export function createGraphQLFastPath(yoga: GraphQLHandler, users: Pick<UsersService, 'authenticate'>, documentCaches: DocumentCaches) {
  // By text, bounded by bytes (DOCUMENT_CACHE_BYTES); an entry names its schema, so a new schema starts afresh.
  const known = documentCaches.create<KnownDocument>('fast path');

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
    let entry = known.get(params.query);
    if (!entry || entry.schema !== schema) {
      let document: DocumentNode;
      try {
        document = enveloped.parse(params.query);
      } catch {
        return undefined;
      }
      entry = { schema, document, operations: new Map(), validForAnyVariables: new Set() };
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
