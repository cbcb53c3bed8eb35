import { ROLES } from '../db/schema';
import { builder } from '../graphql/builder';
import { connectionComplexity } from '../graphql/limits';
import { checkCursors, parseId } from '../graphql/ids';

export const RoleEnum = builder.enumType('Role', { values: ROLES });

export const UserType = builder.drizzleObject('users', {
  name: 'User',
  description: 'An account. Admins and managers (who see job owners) see everyone; users see only themselves.',
  authScopes: (user, ctx) => ctx.user?.role === 'ADMIN' || ctx.user?.role === 'MANAGER' || ctx.user?.id === user.id,
  fields: (t) => ({
    id: t.exposeID('id'),
    username: t.exposeString('username'),
    role: t.expose('role', { type: RoleEnum }),
    disabled: t.exposeBoolean('disabled'),
    loginCount: t.exposeInt('loginCount'),
    lastLoginAt: t.expose('lastLoginAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const LoginStat = builder.simpleObject('LoginStat', {
  description: "A user's login statistics: how often and when they last logged in.",
  fields: (t) => ({
    username: t.string(),
    loginCount: t.int(),
    lastLoginAt: t.field({ type: 'DateTime', nullable: true }),
  }),
});

const LoginEventType = builder.simpleObject('LoginEvent', {
  description: 'One login attempt, as written to the server log.',
  fields: (t) => ({
    username: t.string(),
    success: t.boolean(),
    reason: t.string({ nullable: true, description: 'Why a failed attempt failed; null on success.' }),
    address: t.string({ nullable: true, description: "The client's IP address." }),
    at: t.field({ type: 'DateTime' }),
  }),
});

const AuthPayload = builder.objectRef<{ token: string; user: { id: number } }>('AuthPayload').implement({
  description: 'A new bearer token and the user it belongs to. Send it as `Authorization: Bearer <token>`.',
  // Only `login` returns one, and only to the person who just proved their password.
  authScopes: { public: true },
  fields: (t) => ({
    token: t.exposeString('token'),
    user: t.drizzleField({
      type: 'users',
      resolve: async (query, payload, _args, ctx) => (await ctx.users.findUser(payload.user.id, query))!,
    }),
  }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    password: t.string({ required: true }),
    role: t.field({ type: RoleEnum, required: true }),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: 'Only the fields given change. Resetting the password or disabling the account revokes its tokens.',
  fields: (t) => ({
    role: t.field({ type: RoleEnum }),
    password: t.string(),
    disabled: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  me: t.drizzleField({
    type: 'users',
    nullable: true,
    description: 'The signed-in user; null when the request carries no token.',
    authScopes: { public: true },
    resolve: (query, _root, _args, ctx) => (ctx.user ? ctx.users.findUser(ctx.user.id, query) : null),
  }),
  users: t.drizzleConnection(
    {
      type: 'users',
      authScopes: { admin: true },
      description: 'Every account, oldest first.',
      complexity: connectionComplexity,
      totalCount: (_root, _args, ctx) => ctx.users.countUsers(),
      resolve: (query, _root, args, ctx) => {
        checkCursors(args);
        return ctx.users.listUsers(query);
      },
    },
    { name: 'UserConnection' },
    { name: 'UserEdge' },
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
    args: { username: t.arg.string({ required: true }), password: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const session = await ctx.users.login(args.username, args.password, ctx.clientAddress);
      // The rest of this request acts as the user who just logged in (so `user { … }` passes its rule).
      ctx.user = session.authUser;
      return session;
    },
  }),
  logout: t.withAuth({ loggedIn: true }).boolean({
    description: 'Revokes the token this request was made with.',
    resolve: async (_root, _args, ctx) => {
      await ctx.users.logout(ctx.user);
      return true;
    },
  }),
  createUser: t.drizzleField({
    type: 'users',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: async (_query, _root, { input }, ctx) => ctx.users.createUser(input),
  }),
  updateUser: t.drizzleField({
    type: 'users',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateUserInput, required: true }) },
    resolve: async (_query, _root, { id, input }, ctx) => ctx.users.updateUser(parseId(id, 'user'), input),
  }),
  deleteUser: t.boolean({
    authScopes: { admin: true },
    description: "Deletes the account and revokes all of its tokens. The last active admin can't be deleted.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.users.deleteUser(parseId(id, 'user')),
  }),
  changePassword: t.withAuth({ loggedIn: true }).boolean({
    description: "Changes the caller's password and revokes their other tokens.",
    args: { currentPassword: t.arg.string({ required: true }), newPassword: t.arg.string({ required: true }) },
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
  }),
}));
