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
  relay: { cursorType: 'String', clientMutationId: 'omit' },
  drizzle: {
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
