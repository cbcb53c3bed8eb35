import { resolveCursorConnection } from '@pothos/plugin-relay';
import { type FieldNode, Kind } from 'graphql';
import { ROLES, type users } from '../db/schema';
import { builder, describedValues } from '../graphql/builder';
import { fanOutExtension, sameForTheRole } from '../graphql/fan-out';
import { connectionComplexity } from '../graphql/limits';
import { checkPaging, parseId } from '../graphql/ids';
import { badInput } from '../errors';
import { checkLength } from '../input';
import type { AuthUser, UsersService } from './service';

export const RoleEnum = builder.enumType('Role', {
  description: 'What an account may do; ADMIN ⊃ MANAGER ⊃ USER each may do what the one below may; SECRETARY only reads.',
  values: describedValues(ROLES, {
    ADMIN: 'Everything: users, queues (create, edit, delete), diagnostics, login events and shutdown.',
    MANAGER: 'Sees every job and its owner; pauses and resumes queues; pulls and completes jobs by hand.',
    USER: 'Submits jobs and sees, cancels, retries and deletes only their own.',
    SECRETARY: 'Read-only: sees every job, queue, result and job owner; changes nothing but its own session and password.',
  }),
});

export const UserType = builder.drizzleObject('users', {
  name: 'User',
  description: 'An account. Admins, managers and secretaries (who see job owners) see everyone; users see only themselves.',
  authScopes: (user, ctx) => ctx.user?.id === user.id || { readAll: true },
  // Plain resolvers, not `t.expose…`: a planned User row always holds every column (the type selects them all), so a
  // column's own selection only made each field ask the planner whether the row was planned — and a row from the
  // session (`me`) or from a service (createUser) was loaded again. Read as they are, any User row answers.
  fields: (t) => ({
    id: t.id({ description: 'Stable and unique; what updateUser, deleteUser and the `owner` filter take.', resolve: (user) => user.id }),
    username: t.string({ description: 'What the account logs in with; unique.', resolve: (user) => user.username }),
    role: t.field({ type: RoleEnum, description: 'What the account may do.', resolve: (user) => user.role }),
    disabled: t.boolean({ description: 'A disabled account cannot log in, and its tokens stopped working.', resolve: (user) => user.disabled }),
    loginCount: t.int({ description: 'Successful logins so far.', resolve: (user) => user.loginCount }),
    lastLoginAt: t.field({ type: 'DateTime', nullable: true, description: 'The last successful login; null if never.', resolve: (user) => user.lastLoginAt }),
    createdAt: t.field({ type: 'DateTime', description: 'When the account was created.', resolve: (user) => user.createdAt }),
  }),
});

const LoginStat = builder.simpleObject('LoginStat', {
  description: "A user's login statistics: how often and when they last logged in.",
  fields: (t) => ({
    username: t.string({ description: 'The account.' }),
    loginCount: t.int({ description: 'Successful logins so far.' }),
    lastLoginAt: t.field({ type: 'DateTime', nullable: true, description: 'The last successful login; null if never.' }),
  }),
});

const LoginEventType = builder.simpleObject('LoginEvent', {
  description: 'One login attempt, as written to the server log.',
  fields: (t) => ({
    username: t.string({ description: 'The username tried (the account may not exist).' }),
    success: t.boolean({ description: 'Whether the attempt got a token.' }),
    reason: t.string({ nullable: true, description: 'Why a failed attempt failed; null on success.' }),
    address: t.string({ nullable: true, description: "The client's IP address." }),
    at: t.field({ type: 'DateTime', description: 'When the attempt was made.' }),
  }),
});

const AuthPayload = builder.objectRef<{ token: string; user: { id: number } }>('AuthPayload').implement({
  description: 'A new bearer token and the user it belongs to. Send it as `Authorization: Bearer <token>`.',
  // Only `login` returns one, and only to the person who just proved their password.
  authScopes: { public: true },
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The bearer token: send it as `Authorization: Bearer <token>` (or in graphql-ws connectionParams).' }),
    user: t.drizzleField({
      description: 'The account that logged in.',
      type: 'users',
      resolve: async (query, payload, _args, ctx) => (await ctx.users.findUser(payload.user.id, query))!,
    }),
  }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  description: 'A new account (admins only).',
  fields: (t) => ({
    username: t.string({ required: true, description: "3 to 64 characters: letters, digits, '.', '_', '-' or '@'; unique." }),
    password: t.string({ required: true, description: '8 to 256 characters; stored only as an argon2id hash.' }),
    role: t.field({ type: RoleEnum, required: true, description: 'What the account may do.' }),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: 'Only the fields given change. Resetting the password or disabling the account revokes its tokens.',
  fields: (t) => ({
    role: t.field({ type: RoleEnum, description: 'The new role; its tokens then carry it (open streams end).' }),
    password: t.string({ description: 'A new password (8 to 256 characters); revokes the account’s tokens.' }),
    disabled: t.boolean({ description: 'True stops the account logging in and revokes its tokens; false lets it in again.' }),
  }),
});

/** The User fields a signed-in request's session already knows (see UsersService.authenticate). */
const SESSION_USER_FIELDS: ReadonlySet<string> = new Set(['id', 'username', 'role', '__typename']);

/** Whether every node of a field selects only `fields`, plainly (no fragments, so no other type's fields). */
function selectsOnly(fieldNodes: readonly FieldNode[], fields: ReadonlySet<string>): boolean {
  return fieldNodes.every((node) => node.selectionSet?.selections.every((selection) => selection.kind === Kind.FIELD && fields.has(selection.name.value)));
}

/** A User row with what the session knows; the other columns are never read (selectsOnly). */
const sessionUser = (user: AuthUser) => ({ id: user.id, username: user.username, role: user.role }) as typeof users.$inferSelect;

type LoginHistoryRow = Awaited<ReturnType<UsersService['loginHistory']>>[number];

/** A loginHistory cursor (the helper has already decoded it to the row id it was made from). */
function loginCursor(cursor: string | undefined, field: string): number | undefined {
  if (cursor === undefined) return undefined;
  if (!/^\d{1,15}$/.test(cursor)) throw badInput(`${field}: not a cursor of this list`, { field });
  return Number(cursor);
}

builder.queryFields((t) => ({
  // A plain field, not a drizzleField: the planner would plan the selection on every ask (~16 µs of a ~175 µs request),
  // and a User needs no plan (every column, no relation: see UserType).
  me: t.field({
    type: UserType,
    nullable: true,
    description: 'The signed-in user; null when the request carries no token.',
    authScopes: { public: true },
    resolve: (_root, _args, ctx, info) => {
      if (!ctx.user) return null;
      // The session already holds these (forgotten on any change to the user), so asking for them costs no query.
      if (selectsOnly(info.fieldNodes, SESSION_USER_FIELDS)) return sessionUser(ctx.user);
      return ctx.users.findUser(ctx.user.id);
    },
  }),
  users: t.drizzleConnection(
    {
      type: 'users',
      authScopes: { admin: true },
      description: 'Every account, oldest first.',
      complexity: connectionComplexity,
      // Asked alone, the count skips `resolve`: the page arguments are still checked, as with the page.
      totalCount: (_root, args, ctx) => {
        checkPaging(args);
        return ctx.users.countUsers();
      },
      resolve: (query, _root, args, ctx) => {
        checkPaging(args);
        return ctx.users.listUsers(query);
      },
    },
    { name: 'UserConnection', description: 'A page of accounts (see `first`, `after`, `last`, `before`).' },
    { name: 'UserEdge', description: 'One account of a page, with its cursor.' },
  ),
  loginHistory: t.connection(
    {
      type: LoginEventType,
      authScopes: { admin: true },
      description: 'Recorded login attempts (successes, failures, throttled refusals), newest first; every filter given must match.',
      complexity: connectionComplexity,
      args: {
        username: t.arg.string({ description: 'Only attempts at this username (exactly as tried).' }),
        success: t.arg.boolean({ description: 'Only successes (true) or only failures (false).' }),
        address: t.arg.string({ description: 'Only attempts from this client address.' }),
        since: t.arg({ type: 'DateTime', description: 'Only attempts at or after this instant.' }),
        until: t.arg({ type: 'DateTime', description: 'Only attempts at or before this instant.' }),
      },
      resolve: (_root, args, ctx) => {
        checkPaging(args);
        for (const field of ['username', 'address'] as const) if (args[field] != null) checkLength(args[field], 256, field);
        const filter = {
          username: args.username ?? undefined,
          success: args.success ?? undefined,
          address: args.address ?? undefined,
          since: args.since ?? undefined,
          until: args.until ?? undefined,
        };
        return resolveCursorConnection<Promise<LoginHistoryRow[]>>({ args, toCursor: (event) => String(event.id) }, ({ after, before, limit, inverted }) =>
          ctx.users.loginHistory(filter, { after: loginCursor(after, 'after'), before: loginCursor(before, 'before'), limit, inverted }),
        );
      },
    },
    { name: 'LoginEventConnection', description: 'A page of recorded login attempts (see `first`, `after`, `last`, `before`).' },
    { name: 'LoginEventEdge', description: 'One login attempt of a page, with its cursor.' },
  ),
  loginStats: t.field({
    type: [LoginStat],
    authScopes: { admin: true },
    description: 'Per-user login counts and last login times, most active first.',
    resolve: (_root, _args, ctx) => ctx.users.loginStats(),
  }),
}));

builder.mutationFields((t) => ({
  login: t.field({
    type: AuthPayload,
    authScopes: { public: true },
    skipTypeScopes: true,
    description:
      'Exchanges a username and password for a bearer token (valid TOKEN_TTL_SECONDS). Wrong credentials are UNAUTHENTICATED without saying which part was wrong; too many failures per username or address are RATE_LIMITED for a while.',
    args: {
      username: t.arg.string({ required: true, description: 'The account’s username.' }),
      password: t.arg.string({ required: true, description: 'Its password; never logged.' }),
    },
    resolve: async (_root, args, ctx) => {
      const session = await ctx.users.login(args.username, args.password, ctx.clientAddress);
      // The rest of this request acts as the user who just logged in (so `user { … }` passes its rule).
      ctx.user = session.authUser;
      return session;
    },
  }),
  logout: t.withAuth({ loggedIn: true }).boolean({
    // Every role, the read-only SECRETARY included, ends its own session and changes its own password.
    skipTypeScopes: true,
    description: 'Revokes the token this request was made with.',
    resolve: async (_root, _args, ctx) => {
      await ctx.users.logout(ctx.user);
      return true;
    },
  }),
  createUser: t.drizzleField({
    type: 'users',
    authScopes: { admin: true },
    description: 'Admin: creates an account; a username already taken is a CONFLICT.',
    args: { input: t.arg({ type: CreateUserInput, required: true, description: 'Its username, password and role.' }) },
    resolve: async (_query, _root, { input }, ctx) => ctx.users.createUser(input),
  }),
  updateUser: t.drizzleField({
    type: 'users',
    authScopes: { admin: true },
    description: 'Admin: changes an account’s role, password or disabled flag. The last active admin cannot be demoted or disabled.',
    args: {
      id: t.arg.id({ required: true, description: 'The account to change (`User.id`).' }),
      input: t.arg({ type: UpdateUserInput, required: true, description: 'The fields to change; those left out stay.' }),
    },
    resolve: async (_query, _root, { id, input }, ctx) => ctx.users.updateUser(parseId(id, 'user'), input),
  }),
  deleteUser: t.boolean({
    authScopes: { admin: true },
    description: "Deletes the account and revokes all of its tokens. The last active admin can't be deleted.",
    args: { id: t.arg.id({ required: true, description: 'The account to delete (`User.id`); its jobs stay, without an owner.' }) },
    resolve: (_root, { id }, ctx) => ctx.users.deleteUser(parseId(id, 'user')),
  }),
  unlockUsername: t.boolean({
    authScopes: { admin: true },
    description: 'Admin: ends a username’s login lockout now (its recorded failures are forgotten on every instance); the address limits stay. True when done.',
    args: { username: t.arg.string({ required: true, description: 'The username that failed too often (it need not exist).' }) },
    resolve: (_root, { username }, ctx) => ctx.users.unlockUsername(username),
  }),
  changePassword: t.withAuth({ loggedIn: true }).boolean({
    skipTypeScopes: true,
    description: "Changes the caller's password and revokes their other tokens.",
    args: {
      currentPassword: t.arg.string({ required: true, description: 'The password now, to prove it is the account holder asking.' }),
      newPassword: t.arg.string({ required: true, description: 'The new password: 8 to 256 characters.' }),
    },
    resolve: (_root, args, ctx) => ctx.users.changePassword(ctx.user, args.currentPassword, args.newPassword),
  }),
}));

builder.subscriptionFields((t) => ({
  loginEvents: t.field({
    type: LoginEventType,
    authScopes: { admin: true },
    description: 'Every login success and failure, live.',
    subscribe: (_root, _args, ctx) => ctx.users.loginEvents(),
    resolve: (event) => ({ ...event, address: event.clientAddress }),
    extensions: fanOutExtension({ audience: sameForTheRole }),
  }),
}));
