import { type AuthFailure, AuthScopeFailureType } from '@pothos/plugin-scope-auth';
import type { GraphQLResolveInfo } from 'graphql';
import { ROLES, type Role, WRITER_ROLES } from '../db/schema';

/** The roles each role scope admits: the scope rules (builder.ts) read it, and a refusal names them (requiredRoles). */
export const SCOPE_ROLES = {
  loggedIn: ROLES,
  manager: ['MANAGER', 'ADMIN'],
  admin: ['ADMIN'],
  /** Those who see every job, queue and account: the read-only SECRETARY too. */
  readAll: ['SECRETARY', 'MANAGER', 'ADMIN'],
  /** Those who may change anything: everyone but the read-only SECRETARY. */
  writer: WRITER_ROLES,
} as const satisfies Record<string, readonly Role[]>;
export type RoleScope = keyof typeof SCOPE_ROLES;

export const hasRole = (user: { role: Role } | null, scope: RoleScope): boolean =>
  user !== null && (SCOPE_ROLES[scope] as readonly Role[]).includes(user.role);

/** The roles a set of allowed-role lists all admit; `null` entries (rules read only at run time) constrain nothing. */
function intersect(lists: (readonly Role[] | null)[]): readonly Role[] | null {
  const known = lists.filter((list): list is readonly Role[] => list !== null);
  if (!known.length) return null;
  return ROLES.filter((role) => known.every((list) => list.includes(role)));
}

function union(lists: (readonly Role[] | null)[]): readonly Role[] | null {
  if (lists.some((list) => list === null)) return null;
  return ROLES.filter((role) => lists.some((list) => list!.includes(role)));
}

const rolesOfScope = (scope: string): readonly Role[] | null => (scope in SCOPE_ROLES ? SCOPE_ROLES[scope as RoleScope] : scope === 'public' ? ROLES : null);

/** The roles a failed check would have let through. */
function rolesOfFailure(failure: AuthFailure): readonly Role[] | null {
  switch (failure.kind) {
    case AuthScopeFailureType.AuthScope:
      return rolesOfScope(failure.scope);
    case AuthScopeFailureType.AnyAuthScopes:
      return union(failure.failures.map(rolesOfFailure));
    case AuthScopeFailureType.AllAuthScopes:
      return intersect(failure.failures.map(rolesOfFailure));
    default:
      return null;
  }
}

/** The roles a static rule (`{ admin: true }`, `{ $any: … }`, `{ $all: … }`) admits; null for a rule decided at run time. */
function rolesOfRule(rule: unknown): readonly Role[] | null {
  if (!rule || typeof rule !== 'object') return null;
  const parts = Object.entries(rule as Record<string, unknown>).map(([key, value]) => {
    if (key === '$any') return rolesOfRule(value);
    if (key === '$all') return intersect(Object.entries(value as object).map(([scope, on]) => rolesOfRule({ [scope]: on })));
    return value === true ? rolesOfScope(key) : null;
  });
  // Scope-auth's default strategy: any one scope of a map suffices.
  return union(parts);
}

type WithRule = { extensions?: { pothosOptions?: { authScopes?: unknown; skipTypeScopes?: boolean } } | null };

/**
 * The roles that may run the refused field: those the failed check admits, narrowed by the field's own rule and, on
 * a root type, the type's rule (a SECRETARY refused by Mutation's rule on an admin-only field is told ADMIN).
 * Empty when the rule is decided at run time (no role would do).
 */
export function requiredRoles(failure: AuthFailure, info: GraphQLResolveInfo): readonly Role[] {
  const field = info.parentType.getFields()[info.fieldName] as WithRule | undefined;
  const fieldRule = field?.extensions?.pothosOptions;
  const typeRule = fieldRule?.skipTypeScopes ? undefined : (info.parentType as WithRule).extensions?.pothosOptions?.authScopes;
  const isRoot = info.parentType === info.schema.getMutationType() || info.parentType === info.schema.getQueryType() || info.parentType === info.schema.getSubscriptionType();
  return intersect([rolesOfFailure(failure), rolesOfRule(fieldRule?.authScopes), isRoot ? rolesOfRule(typeRule) : null]) ?? [];
}
