// The schema assembler, above the core: it imports each domain's GraphQL types (src/<domain>/graphql.ts) onto the
// one builder (src/graphql/builder.ts) and builds the schema. The core (src/graphql/) never imports a domain.
import { type GraphQLSchema, isObjectType } from 'graphql';
import { builder } from './graphql/builder';
import './users/graphql';
import './queues/graphql';
import './jobs/graphql';
import './jobs/events/graphql';
import './schedules/graphql';
import './diagnostics/graphql';
import './simulations/graphql';
import './calculator/graphql';
import './analytics/graphql';
import './quotes/graphql';
import './relay/graphql';
import './flows/graphql';
import { registerKindFiles } from './kinds/graphql';
import type { KindFile } from './kinds/load';

builder.queryType({});
// Every mutation is for roles that may change things (not the read-only SECRETARY), unless it says otherwise
// (`skipTypeScopes`: login, logout, changePassword): a new mutation is refused to SECRETARY by default.
builder.mutationType({ authScopes: { writer: true } });
builder.subscriptionType({});

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);
// Relay's plumbing only wraps objects whose own rules already ran.
const isRelayPlumbing = (name: string) => name === 'PageInfo' || name.endsWith('Connection') || name.endsWith('Edge');

type PothosExtensions = { pothosOptions?: { authScopes?: unknown; skipTypeScopes?: boolean } };

/**
 * Every root field must state its rule (`authScopes`, `{ public: true }` for open ones), and every other
 * object type must have a type-level rule or one on each field. A forgotten rule fails the build, not a pen test.
 */
export function assertEveryFieldHasAuthRule(schema: GraphQLSchema): void {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || isRelayPlumbing(type.name)) continue;
    const typeRule = (type.extensions as PothosExtensions).pothosOptions?.authScopes;
    const isRoot = ROOT_TYPES.has(type.name);
    const simpleObject = !isRoot && !typeRule && Object.values(type.getFields()).every((f) => !f.resolve);
    for (const field of Object.values(type.getFields())) {
      const fieldRule = (field.extensions as PothosExtensions).pothosOptions?.authScopes;
      if (fieldRule || (!isRoot && typeRule)) continue;
      // Plain data objects (simpleObject) are only reachable through a root field that carries a rule.
      if (simpleObject) continue;
      missing.push(`${type.name}.${field.name}`);
    }
  }
  if (missing.length) throw new Error(`fields without an authorization rule: ${missing.join(', ')}`);
}

/** The Drizzle plugin adds a connection's `totalCount` without a way to describe it; this one says what it counts. */
function describeConnectionCounts(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || !type.name.endsWith('Connection')) continue;
    const count = type.getFields().totalCount;
    if (count && !count.description) count.description = 'How many rows the whole list holds, over all its pages.';
  }
}

let built: { schema: GraphQLSchema; kindFiles: string } | undefined;

/**
 * The schema, built once per process (the builder is module-global), with the types of the kind files (JOB_KINDS_DIR):
 * one process serves one set of kind files.
 */
export function buildSchema(kindFiles: readonly KindFile[] = []): GraphQLSchema {
  const files = kindFiles.map(({ file }) => file).join('\n');
  if (built && built.kindFiles !== files) throw new Error(`this process built its schema with other kind files (${built.kindFiles || 'none'})`);
  if (!built) {
    registerKindFiles(kindFiles);
    const schema = builder.toSchema({ sortSchema: true });
    assertEveryFieldHasAuthRule(schema);
    describeConnectionCounts(schema);
    built = { schema, kindFiles: files };
  }
  return built.schema;
}
