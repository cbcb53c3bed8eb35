// The users domain's statements (accounts, sessions, the login log), both databases side by side (see
// src/db/statements.ts). Most read the same on both: SQLite knows TRUE/FALSE, and times are millisecond parameters.
import type { Statement } from '../db/statements';

/** The same text on both databases. */
const both = (text: string): Statement => ({ sqlite: text, postgres: text });

export const userById = both(`SELECT * FROM users WHERE id = $id`);

export const userByUsername = both(`SELECT * FROM users WHERE username = $username`);

export const countUsers = both(`SELECT count(*) AS n FROM users`);

export const countActiveAdmins = both(`SELECT count(*) AS n FROM users WHERE role = 'ADMIN' AND disabled = FALSE`);

export const insertUser = both(`INSERT INTO users (username, password_hash, role) VALUES ($username, $passwordHash, $role) RETURNING *`);

/** A column left NULL keeps its value. */
export const updateUser = {
  sqlite: `
    UPDATE users SET role = coalesce($role, role), password_hash = coalesce($passwordHash, password_hash), disabled = coalesce($disabled, disabled)
    WHERE id = $id RETURNING *`,
  postgres: `
    UPDATE users SET role = coalesce($role::text, role), password_hash = coalesce($passwordHash::text, password_hash),
      disabled = coalesce($disabled::boolean, disabled)
    WHERE id = $id RETURNING *`,
} satisfies Statement;

export const deleteUser = both(`DELETE FROM users WHERE id = $id`);

export const recordSuccessfulLogin = both(`UPDATE users SET login_count = login_count + 1, last_login_at = $at WHERE id = $id`);

export const insertSession = both(`
  INSERT INTO sessions (user_id, token_hash, expires_at, client_address) VALUES ($userId, $tokenHash, $expiresAt, $clientAddress)
  RETURNING id`);

/**
 * The live session behind a token hash, with its user; revoked, expired and disabled-user sessions don't match.
 * Runs on every request not answered from memory: on SQLite prepared once (compiling it each time cost more than running it).
 */
export const liveSession = both(`
  SELECT sessions.id AS session_id, users.id AS user_id, users.username, users.role, sessions.expires_at
  FROM sessions INNER JOIN users ON users.id = sessions.user_id
  WHERE sessions.token_hash = $tokenHash AND sessions.revoked_at IS NULL AND sessions.expires_at > $now AND users.disabled = FALSE`);

export const revokeSession = both(`UPDATE sessions SET revoked_at = $at WHERE id = $id AND revoked_at IS NULL`);

/** Every live session of a user but `$except` (NULL: every one). */
export const revokeUserSessions = {
  sqlite: `UPDATE sessions SET revoked_at = $at WHERE user_id = $userId AND revoked_at IS NULL AND ($except IS NULL OR id <> $except)`,
  postgres: `UPDATE sessions SET revoked_at = $at WHERE user_id = $userId AND revoked_at IS NULL AND ($except::int IS NULL OR id <> $except::int)`,
} satisfies Statement;

export const insertLoginEvent = both(`
  INSERT INTO login_events (username, user_id, success, reason, client_address, at)
  VALUES ($username, $userId, $success, $reason, $clientAddress, $at) RETURNING id`);

/** Refusals counted into an existing row (see LoginLog). */
export const addLoginEventAttempts = both(`UPDATE login_events SET attempts = attempts + $attempts WHERE id = $id`);

/** At most `$limit` rows older than `$before`, the oldest first. */
export const deleteLoginEventsBefore = both(`
  DELETE FROM login_events WHERE id IN (SELECT id FROM login_events WHERE at < $before ORDER BY at LIMIT $limit) RETURNING id`);

export const loginStats = both(`SELECT username, login_count, last_login_at FROM users ORDER BY login_count DESC, username`);

/** Which conditions a page of the login log is read under: each present adds one (see loginEventsPage). */
export interface LoginEventsConditions {
  username: boolean;
  success: boolean;
  address: boolean;
  since: boolean;
  until: boolean;
  after: boolean;
  before: boolean;
  inverted: boolean;
}

/**
 * A page of the login log by id (one indexed range read): only the conditions given are in the text, so each
 * combination is its own statement (prepared once on SQLite), and no `$x IS NULL OR …` hides the range from the planner.
 */
export function loginEventsPage(given: LoginEventsConditions): Statement {
  const conditions = [
    given.username && 'username = $username',
    given.success && 'success = $success',
    given.address && 'client_address = $address',
    given.since && 'at >= $since',
    given.until && 'at <= $until',
    given.after && 'id < $after',
    given.before && 'id > $before',
  ].filter(Boolean);
  return both(`
    SELECT id, username, success, reason, client_address, at FROM login_events
    ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
    ORDER BY id ${given.inverted ? 'ASC' : 'DESC'} LIMIT $limit`);
}
