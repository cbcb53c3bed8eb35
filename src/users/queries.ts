// The users domain's reads and writes over ./sql.ts's statements, on whichever database (or transaction) runs them:
// each turns a row, as either driver gives it, into the shape the service returns.
import type { Database } from '../db/client';
import type { Role, users } from '../db/schema';
import { type Selection, withSelection } from '../db/selection';
import { booleanOf, dateOf, dateOrNull, numberOf, type Statements } from '../db/statements';
import * as sql from './sql';

export type UserRow = typeof users.$inferSelect;

/** The database, or a transaction on it (see Database.transaction). */
export type Access = Statements;

type Time = number | string;
interface UserSqlRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  disabled: number | boolean;
  login_count: number;
  last_login_at: Time | null;
  created_at: Time;
}

const toUser = (row: UserSqlRow): UserRow => ({
  id: row.id,
  username: row.username,
  passwordHash: row.password_hash,
  role: row.role,
  disabled: booleanOf(row.disabled),
  loginCount: row.login_count,
  lastLoginAt: dateOrNull(row.last_login_at),
  createdAt: dateOf(row.created_at),
});
const userOrUndefined = (row: UserSqlRow | undefined) => (row ? toUser(row) : undefined);

export const findUserById = async (db: Access, id: number): Promise<UserRow | undefined> => userOrUndefined(await db.first<UserSqlRow>(sql.userById, { id }));

export const findUserByUsername = async (db: Access, username: string): Promise<UserRow | undefined> =>
  userOrUndefined(await db.first<UserSqlRow>(sql.userByUsername, { username }));

export const countUsers = async (db: Access): Promise<number> => numberOf((await db.first<{ n: number | string }>(sql.countUsers))!.n);

export const countActiveAdmins = async (db: Access): Promise<number> => numberOf((await db.first<{ n: number | string }>(sql.countActiveAdmins))!.n);

export const insertUser = async (db: Access, values: { username: string; passwordHash: string; role: Role }): Promise<UserRow> =>
  toUser((await db.first<UserSqlRow>(sql.insertUser, values))!);

export const updateUserRow = async (db: Access, id: number, values: Partial<Pick<UserRow, 'role' | 'passwordHash' | 'disabled'>>): Promise<UserRow | undefined> =>
  userOrUndefined(await db.first<UserSqlRow>(sql.updateUser, { id, role: values.role ?? null, passwordHash: values.passwordHash ?? null, disabled: values.disabled ?? null }));

export const deleteUserRow = (db: Access, id: number) => db.exec(sql.deleteUser, { id });

export const recordSuccessfulLogin = (db: Access, id: number, at: Date) => db.exec(sql.recordSuccessfulLogin, { id, at: at.getTime() });

export const insertSession = async (db: Access, values: { userId: number; tokenHash: string; expiresAt: Date; clientAddress: string | null }): Promise<{ id: number }> =>
  (await db.first<{ id: number }>(sql.insertSession, { ...values, expiresAt: values.expiresAt.getTime() }))!;

export interface LiveSession {
  sessionId: number;
  userId: number;
  username: string;
  role: Role;
  expiresAt: Date;
}

/** The live session behind a token hash, with its user (see sql.liveSession). */
export async function findLiveSession(db: Access, tokenHash: string, now: Date): Promise<LiveSession | undefined> {
  const row = await db.first<{ session_id: number; user_id: number; username: string; role: Role; expires_at: Time }>(sql.liveSession, { tokenHash, now: now.getTime() });
  return row && { sessionId: row.session_id, userId: row.user_id, username: row.username, role: row.role, expiresAt: dateOf(row.expires_at) };
}

export const revokeSession = (db: Access, sessionId: number, at: Date) => db.exec(sql.revokeSession, { id: sessionId, at: at.getTime() });

export const revokeUserSessions = (db: Access, userId: number, at: Date, exceptSessionId?: number) =>
  db.exec(sql.revokeUserSessions, { userId, at: at.getTime(), except: exceptSessionId ?? null });

export const insertLoginEvent = async (
  db: Access,
  values: { username: string; userId: number | null; success: boolean; reason: string | null; clientAddress: string | null; at: Date },
): Promise<number> => {
  const { username, userId, success, reason, clientAddress, at } = values;
  return (await db.first<{ id: number }>(sql.insertLoginEvent, { username, userId, success, reason, clientAddress, at: at.getTime() }))!.id;
};

/** Refusals counted into an existing row (see LoginLog). */
export const addLoginEventAttempts = (db: Access, id: number, attempts: number) => db.exec(sql.addLoginEventAttempts, { id, attempts });

/** Deletes at most `limit` rows older than `before`, the oldest first; returns how many. */
export const deleteLoginEventsBefore = async (db: Access, before: Date, limit: number): Promise<number> =>
  (await db.all(sql.deleteLoginEventsBefore, { before: before.getTime(), limit })).length;

export const listLoginStats = async (db: Access): Promise<{ username: string; loginCount: number; lastLoginAt: Date | null }[]> =>
  (await db.all<{ username: string; login_count: number; last_login_at: Time | null }>(sql.loginStats)).map((row) => ({
    username: row.username,
    loginCount: row.login_count,
    lastLoginAt: dateOrNull(row.last_login_at),
  }));

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
export async function listLoginEvents(db: Access, filter: LoginHistoryFilter, page: { after?: number; before?: number; limit: number; inverted: boolean }) {
  const given = <T>(value: T | undefined) => value !== undefined;
  const statement = sql.loginEventsPage({
    username: given(filter.username),
    success: given(filter.success),
    address: given(filter.address),
    since: Boolean(filter.since),
    until: Boolean(filter.until),
    after: given(page.after),
    before: given(page.before),
    inverted: page.inverted,
  });
  const params = {
    ...(given(filter.username) && { username: filter.username }),
    ...(given(filter.success) && { success: filter.success }),
    ...(given(filter.address) && { address: filter.address }),
    ...(filter.since && { since: filter.since.getTime() }),
    ...(filter.until && { until: filter.until.getTime() }),
    ...(given(page.after) && { after: page.after }),
    ...(given(page.before) && { before: page.before }),
    limit: page.limit,
  };
  const rows = await db.all<{ id: number; username: string; success: number | boolean; reason: string | null; client_address: string | null; at: Time }>(statement, params);
  return rows.map((row) => ({ id: row.id, username: row.username, success: booleanOf(row.success), reason: row.reason, address: row.client_address, at: dateOf(row.at) }));
}

// The reads a caller selects (GraphQL's planner): Drizzle relational queries, built once as plain configurations and
// run on each dialect's own Drizzle, typed as itself (as the job store's selectJob).

/** The account as the reader selects it. */
export function selectUser(database: Database, id: number, select?: Selection) {
  const query = withSelection({ where: { id } }, select);
  return database.dialect === 'sqlite' ? database.sqliteDb.query.users.findFirst(query) : database.pg.query.users.findFirst(query);
}

/** Every account, oldest first, as the reader selects and pages them. */
export function selectUsers(database: Database, select?: Selection) {
  const query = withSelection({ orderBy: { id: 'asc' as const } }, select);
  return database.dialect === 'sqlite' ? database.sqliteDb.query.users.findMany(query) : database.pg.query.users.findMany(query);
}
