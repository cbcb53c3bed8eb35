import { and, count, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { loginEvents, type Role, sessions, users } from '../db/schema';

export type UserRow = typeof users.$inferSelect;

export const findUserById = (db: Db, id: number) => db.select().from(users).where(eq(users.id, id)).get();

export const findUserByUsername = (db: Db, username: string) =>
  db.select().from(users).where(eq(users.username, username)).get();

export const countActiveAdmins = (db: Db) =>
  db.select({ n: count() }).from(users).where(and(eq(users.role, 'ADMIN'), eq(users.disabled, false))).get()!.n;

export const insertUser = (db: Db, values: { username: string; passwordHash: string; role: Role }) =>
  db.insert(users).values(values).returning().get();

export const updateUserRow = (db: Db, id: number, values: Partial<Pick<UserRow, 'role' | 'passwordHash' | 'disabled'>>) =>
  db.update(users).set(values).where(eq(users.id, id)).returning().get();

export const deleteUserRow = (db: Db, id: number) => db.delete(users).where(eq(users.id, id)).returning({ id: users.id }).get();

export const recordSuccessfulLogin = (db: Db, id: number, at: Date) =>
  db
    .update(users)
    .set({ loginCount: sql`${users.loginCount} + 1`, lastLoginAt: at })
    .where(eq(users.id, id))
    .run();

export const insertSession = (
  db: Db,
  values: { userId: number; tokenHash: string; expiresAt: Date; clientAddress: string | null },
) => db.insert(sessions).values(values).returning({ id: sessions.id }).get();

/** The live session behind a token hash, with its user; revoked, expired and disabled-user sessions don't match. */
function prepareLiveSession(db: Db) {
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
    .where(
      and(
        eq(sessions.tokenHash, sql.placeholder('tokenHash')),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql.placeholder('now')),
        eq(users.disabled, false),
      ),
    )
    .prepare();
}
const liveSessionStatements = new WeakMap<Db, ReturnType<typeof prepareLiveSession>>();

/** Runs on every request: prepared once per database (compiling it each time cost more than running it). */
export function findLiveSession(db: Db, tokenHash: string, now: Date) {
  let statement = liveSessionStatements.get(db);
  if (!statement) liveSessionStatements.set(db, (statement = prepareLiveSession(db)));
  return statement.get({ tokenHash, now: now.getTime() });
}

export const revokeSession = (db: Db, sessionId: number, at: Date) =>
  db.update(sessions).set({ revokedAt: at }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))).run();

export const revokeUserSessions = (db: Db, userId: number, at: Date, exceptSessionId?: number) =>
  db
    .update(sessions)
    .set({ revokedAt: at })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId === undefined ? undefined : sql`${sessions.id} <> ${exceptSessionId}`,
      ),
    )
    .run();

export const insertLoginEvent = (db: Db, values: typeof loginEvents.$inferInsert) =>
  db.insert(loginEvents).values(values).run();

export const listLoginStats = (db: Db) =>
  db
    .select({ username: users.username, loginCount: users.loginCount, lastLoginAt: users.lastLoginAt })
    .from(users)
    .orderBy(desc(users.loginCount), users.username)
    .all();
