import { and, asc, count, desc, eq, gt, gte, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import type { Database, Db, Tables } from '../db/client';
import type { loginEvents, Role, users } from '../db/schema';

export type UserRow = typeof users.$inferSelect;

/** Drizzle and this dialect's tables: the database, or a transaction on it (see Database.transaction). */
export type Access = { db: Db; tables: Tables };

export const findUserById = async ({ db, tables: { users } }: Access, id: number): Promise<UserRow | undefined> =>
  (await db.select().from(users).where(eq(users.id, id)))[0];

export const findUserByUsername = async ({ db, tables: { users } }: Access, username: string): Promise<UserRow | undefined> =>
  (await db.select().from(users).where(eq(users.username, username)))[0];

export const countActiveAdmins = async ({ db, tables: { users } }: Access): Promise<number> =>
  (await db.select({ n: count() }).from(users).where(and(eq(users.role, 'ADMIN'), eq(users.disabled, false))))[0]!.n;

export const insertUser = async ({ db, tables: { users } }: Access, values: { username: string; passwordHash: string; role: Role }) =>
  (await db.insert(users).values(values).returning())[0]!;

export const updateUserRow = async (
  { db, tables: { users } }: Access,
  id: number,
  values: Partial<Pick<UserRow, 'role' | 'passwordHash' | 'disabled'>>,
): Promise<UserRow | undefined> => (await db.update(users).set(values).where(eq(users.id, id)).returning())[0];

export const deleteUserRow = async ({ db, tables: { users } }: Access, id: number) => {
  await db.delete(users).where(eq(users.id, id));
};

export const recordSuccessfulLogin = async ({ db, tables: { users } }: Access, id: number, at: Date) => {
  await db
    .update(users)
    .set({ loginCount: sql`${users.loginCount} + 1`, lastLoginAt: at })
    .where(eq(users.id, id));
};

export const insertSession = async (
  { db, tables: { sessions } }: Access,
  values: { userId: number; tokenHash: string; expiresAt: Date; clientAddress: string | null },
) => (await db.insert(sessions).values(values).returning({ id: sessions.id }))[0]!;

/** The live session behind a token hash, with its user; revoked, expired and disabled-user sessions don't match. */
function liveSessionQuery({ db, tables: { sessions, users } }: Access, tokenHash: unknown, now: unknown) {
  return db
    .select({
      sessionId: sessions.id,
      userId: users.id,
      username: users.username,
      role: users.role,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, tokenHash as string), isNull(sessions.revokedAt), gt(sessions.expiresAt, now as Date), eq(users.disabled, false)));
}
type LiveSession = Awaited<ReturnType<typeof liveSessionQuery>>[number];
const liveSessionStatements = new WeakMap<Db, ReturnType<ReturnType<typeof liveSessionQuery>['prepare']>>();

/** Runs on every request not answered from memory: on SQLite prepared once (compiling it each time cost more than running it). */
export async function findLiveSession(database: Database, tokenHash: string, now: Date): Promise<LiveSession | undefined> {
  if (database.dialect === 'postgres') return (await liveSessionQuery(database, tokenHash, now))[0];
  let statement = liveSessionStatements.get(database.db);
  if (!statement) {
    statement = liveSessionQuery(database, sql.placeholder('tokenHash'), sql.placeholder('now')).prepare();
    liveSessionStatements.set(database.db, statement);
  }
  return statement.get({ tokenHash, now: now.getTime() });
}

export const revokeSession = async ({ db, tables: { sessions } }: Access, sessionId: number, at: Date) => {
  await db.update(sessions).set({ revokedAt: at }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
};

export const revokeUserSessions = async ({ db, tables: { sessions } }: Access, userId: number, at: Date, exceptSessionId?: number) => {
  await db
    .update(sessions)
    .set({ revokedAt: at })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId === undefined ? undefined : sql`${sessions.id} <> ${exceptSessionId}`,
      ),
    );
};

export const insertLoginEvent = async ({ db, tables: { loginEvents } }: Access, values: typeof loginEvents.$inferInsert): Promise<number> =>
  (await db.insert(loginEvents).values(values).returning({ id: loginEvents.id }))[0]!.id;

/** Refusals counted into an existing row (see LoginLog). */
export const addLoginEventAttempts = async ({ db, tables: { loginEvents } }: Access, id: number, attempts: number) => {
  await db.update(loginEvents).set({ attempts: sql`${loginEvents.attempts} + ${attempts}` }).where(eq(loginEvents.id, id));
};

/** Deletes at most `limit` rows older than `before`, the oldest first; returns how many. */
export const deleteLoginEventsBefore = async ({ db, tables: { loginEvents } }: Access, before: Date, limit: number): Promise<number> => {
  const oldest = db.select({ id: loginEvents.id }).from(loginEvents).where(lt(loginEvents.at, before)).orderBy(loginEvents.at).limit(limit);
  return (await db.delete(loginEvents).where(inArray(loginEvents.id, oldest)).returning({ id: loginEvents.id })).length;
};

export const listLoginStats = ({ db, tables: { users } }: Access) =>
  db
    .select({ username: users.username, loginCount: users.loginCount, lastLoginAt: users.lastLoginAt })
    .from(users)
    .orderBy(desc(users.loginCount), users.username);

/** Which recorded login attempts a history shows; a filter left out matches every attempt. */
export interface LoginHistoryFilter {
  username?: string;
  success?: boolean;
  address?: string;
  since?: Date;
  until?: Date;
}

/**
 * One page of the login log, newest first (`inverted`: oldest first, for `last`/`before`), by id: `after` and
 * `before` are ids. One indexed range read over login_events, whatever the throttle recorded in it.
 */
export const listLoginEvents = (
  { db, tables: { loginEvents } }: Access,
  filter: LoginHistoryFilter,
  page: { after?: number; before?: number; limit: number; inverted: boolean },
) =>
  db
    .select({ id: loginEvents.id, username: loginEvents.username, success: loginEvents.success, reason: loginEvents.reason, address: loginEvents.clientAddress, at: loginEvents.at })
    .from(loginEvents)
    .where(
      and(
        filter.username !== undefined ? eq(loginEvents.username, filter.username) : undefined,
        filter.success !== undefined ? eq(loginEvents.success, filter.success) : undefined,
        filter.address !== undefined ? eq(loginEvents.clientAddress, filter.address) : undefined,
        filter.since ? gte(loginEvents.at, filter.since) : undefined,
        filter.until ? lte(loginEvents.at, filter.until) : undefined,
        page.after !== undefined ? lt(loginEvents.id, page.after) : undefined,
        page.before !== undefined ? gt(loginEvents.id, page.before) : undefined,
      ),
    )
    .orderBy(page.inverted ? asc(loginEvents.id) : desc(loginEvents.id))
    .limit(page.limit);
