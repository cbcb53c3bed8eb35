import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DrizzlePlugin from '@pothos/plugin-drizzle';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { AnonymousDomain } from '../config';
import { relations } from '../db/relations';
import { badInput, forbiddenFor, unauthenticated } from '../errors';
import { type GraphQLContext, plannerDatabase, type SignedInContext } from './context';
import { hasRole, requiredRoles } from './roles';
import { MAX_PAGE_SIZE } from './ids';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DrizzleRelations: typeof relations;
  AuthScopes: {
    /** Anyone, logged in or not: used to say so explicitly, since every root field must carry a rule. */
    public: boolean;
    loggedIn: boolean;
    /** Signed in, or anyone when ANONYMOUS_ACCESS lists this domain: its reads (queries, subscriptions) only. */
    reader: AnonymousDomain;
    manager: boolean;
    admin: boolean;
    /** Sees every job, queue and account (MANAGER, ADMIN, and the read-only SECRETARY). */
    readAll: boolean;
    /** May change anything: every role but the read-only SECRETARY (Mutation's type rule). */
    writer: boolean;
  };
  // `t.withAuth({ loggedIn: true })` (or manager, admin) hands its resolver a context whose user is not null.
  AuthContexts: {
    loggedIn: SignedInContext;
    manager: SignedInContext;
    admin: SignedInContext;
    readAll: SignedInContext;
    writer: SignedInContext;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: File; Output: never };
    ID: { Input: string; Output: string | number };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, DrizzlePlugin, SimpleObjectsPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      public: true,
      loggedIn: ctx.user !== null,
      reader: (domain) => ctx.user !== null || ctx.anonymousAccess.has(domain),
      manager: hasRole(ctx.user, 'manager'),
      admin: hasRole(ctx.user, 'admin'),
      readAll: hasRole(ctx.user, 'readAll'),
      writer: hasRole(ctx.user, 'writer'),
    }),
    // A refusal names the roles that would pass (`extensions.requiredRoles`).
    unauthorizedError: (_parent, ctx, info, result) => (ctx.user ? forbiddenFor(requiredRoles(result.failure, info)) : unauthenticated()),
  },
  relay: {
    cursorType: 'String',
    clientMutationId: 'omit',
    firstArgOptions: { description: `Rows from the start (or after \`after\`): 0 to ${MAX_PAGE_SIZE}; 20 when neither first nor last is given.` },
    lastArgOptions: { description: `Rows from the end (or before \`before\`): 0 to ${MAX_PAGE_SIZE}. Not with \`first\`.` },
    afterArgOptions: { description: 'A cursor from a previous page (`pageInfo.endCursor`): the rows after it.' },
    beforeArgOptions: { description: 'A cursor from a previous page (`pageInfo.startCursor`): the rows before it.' },
    pageInfoTypeOptions: { description: 'Where a page sits in its list, and the cursors to page on from.' },
    hasNextPageFieldOptions: { description: 'More rows follow this page (ask again with `after: endCursor`).' },
    hasPreviousPageFieldOptions: { description: 'More rows precede this page (ask again with `before: startCursor`).' },
    startCursorFieldOptions: { description: 'The first row’s cursor; null on an empty page.' },
    endCursorFieldOptions: { description: 'The last row’s cursor; null on an empty page.' },
    edgesFieldOptions: { description: 'The page’s rows, in the list’s order, each with its cursor.' },
    pageInfoFieldOptions: { description: 'Whether there are more rows, and the cursors to ask for them.' },
    nodeFieldOptions: { description: 'The row itself.' },
    cursorFieldOptions: { description: 'Where this row is in the list: pass it as `after` or `before`.' },
  },
  drizzle: {
    maxConnectionSize: MAX_PAGE_SIZE,
    // Per request (one process may run several apps), and not on the context's face: see plannerDatabase.
    client: plannerDatabase,
    getTableConfig,
    relations,
  },
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.scalarType('File', {
  description: 'A file sent with the request as a GraphQL multipart upload (input only).',
  serialize: () => {
    throw new Error('File is an input type');
  },
  parseValue: (value) => {
    if (!(value instanceof File)) throw badInput('expected a file sent as a multipart upload');
    return value;
  },
});

/**
 * An enum's values, each with its description: the record names every value, so a value added to the list cannot
 * go undescribed (the type checker says which is missing).
 */
export function describedValues<T extends string>(values: readonly T[], descriptions: Record<T, string>) {
  return Object.fromEntries(values.map((value) => [value, { value, description: descriptions[value] }])) as { [K in T]: { value: K; description: string } };
}
