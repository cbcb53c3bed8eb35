import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock';
import type { Db } from '../db/client';
import { ROLES, type Role, users } from '../db/schema';
import { type Selection, withSelection } from '../db/selection';
import { z } from 'zod';
import { conflict, DomainError, ErrorCode, notFound, rateLimited, unauthenticated, unavailable } from '../errors';
import type { EventBus, LoginEvent } from '../events';
import { parseInput, stringAtMost } from '../input';
import * as q from './queries';
import { LoginThrottle, type ReservedAttempt, type SharedLoginThrottle, type SharedReservedAttempt } from './throttle';
import { generatePassword, generateToken, hashToken } from './tokens';

/** Who is making a request, once their token has been checked. */
export interface AuthUser {
  id: number;
  username: string;
  role: Role;
  sessionId: number;
  /** When the token stops working (ms since the epoch); open streams are ended then. */
  expiresAt: number;
}

export interface UsersServiceOptions {
  db: Db;
  log: Logger;
  events: EventBus;
  tokenTtlMs: number;
  loginMaxFailures: number;
  /** Failed logins per client address (over all usernames) before it is throttled; 0: no per-address rule. */
  loginMaxFailuresPerAddress: number;
  loginFailureWindowMs: number;
  /** With REDIS_URL: the same budgets counted over every instance, behind this instance's own. */
  sharedLoginThrottle?: SharedLoginThrottle;
  /** argon2id's cost; only tests lower it (see PasswordHashCost). Bun's defaults otherwise. */
  passwordHashCost?: PasswordHashCost;
  /** Where session expiry and the login throttles read the time; tests pass one they can move. */
  clock?: Clock;
}

/**
 * argon2id's memory (KiB) and passes. Production never sets it: Bun's defaults (64 MiB, 2 passes) apply. Tests
 * lower it because every throwaway user costs a hash and a login; verify() reads the cost from the hash itself.
 */
export interface PasswordHashCost {
  memoryCost: number;
  timeCost: number;
}

const USERNAME_PATTERN = /^[a-z0-9_.@-]{3,64}$/;
const USERNAME_RULE = "username must be 3 to 64 characters: letters, digits, '.', '_', '-' or '@'";
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 256;

/** Usernames are kept (and compared) trimmed and in lowercase. */
const username = z.string({ error: USERNAME_RULE }).trim().toLowerCase().regex(USERNAME_PATTERN, { error: USERNAME_RULE });
/** A password being set; `field` names it in the message (`newPassword`, `ADMIN_PASSWORD`). */
const newPassword = (field: string) => {
  const rule = `${field} must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long`;
  return z.string({ error: rule }).min(PASSWORD_MIN, { error: rule }).max(PASSWORD_MAX, { error: rule });
};
const role = z.enum(ROLES, { error: (issue) => `unknown role "${String(issue.input)}"` });

// A name or password no account can have is a malformed request (the rules are public), not a guess: a login
// refuses it before any throttle key, hash check or login event is spent on it.
export const loginInput = z.object({ username, password: stringAtMost('password', PASSWORD_MAX) });
/** The first admin, from ADMIN_USERNAME and ADMIN_PASSWORD (or a generated password). */
export const firstAdminInput = z.object({ username, password: newPassword('ADMIN_PASSWORD') });
export const createUserInput = z.object({ username, password: newPassword('password'), role });
export const updateUserInput = z.object({ role: role.nullish(), password: newPassword('password').nullish(), disabled: z.boolean().nullish() });
// Both are checked before the current password is verified: a request that cannot succeed costs no hash.
export const changePasswordInput = z.object({ currentPassword: stringAtMost('currentPassword', PASSWORD_MAX), newPassword: newPassword('newPassword') });

/** Accounts, roles, tokens and the login log. Plain TypeScript: GraphQL, REST or a CLI may call it. */
/** Live sessions remembered at most (the map is cleared when full). */
const LIVE_SESSION_CACHE_SIZE = 10_000;

export class UsersService {
  private readonly usernameThrottle: LoginThrottle;
  // Null when LOGIN_MAX_FAILURES_PER_ADDRESS is 0 (behind a proxy every client shares one address).
  private readonly addressThrottle: LoginThrottle | null;
  // Verified against when the username is unknown, so a miss costs as long as a wrong password.
  private dummyHash: Promise<string> | undefined;

  private readonly liveSessions = new Map<string, AuthUser>();
  private readonly sessionChangeListeners = new Set<() => void>();

  constructor(private readonly options: UsersServiceOptions) {
    const now = () => this.clock.now();
    this.usernameThrottle = new LoginThrottle(options.loginMaxFailures, options.loginFailureWindowMs, now);
    this.addressThrottle = options.loginMaxFailuresPerAddress
      ? new LoginThrottle(options.loginMaxFailuresPerAddress, options.loginFailureWindowMs, now)
      : null;
    // Another instance changed users or sessions, or its messages may have been missed: drop what is cached here.
    options.events.onRemote('sessionsChanged', () => this.dropCachedSessions());
    options.events.onRemoteGap(() => this.dropCachedSessions());
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  private hashPassword(password: string): Promise<string> {
    return Bun.password.hash(password, { algorithm: 'argon2id', ...this.options.passwordHashCost });
  }

  private get db() {
    return this.options.db;
  }

  /**
   * Makes sure an enabled admin exists. With no password configured, one is generated and returned so the
   * caller can show it once; it is never stored in clear or logged.
   */
  async bootstrapAdmin(username: string, configuredPassword: string | undefined) {
    if (q.countActiveAdmins(this.db) > 0) return { created: false as const };
    const { username: name, password } = parseInput(firstAdminInput, { username, password: configuredPassword ?? generatePassword() });
    const passwordHash = await this.hashPassword(password);
    const existing = q.findUserByUsername(this.db, name);
    this.forgetSessions();
    if (existing) q.updateUserRow(this.db, existing.id, { role: 'ADMIN', disabled: false, passwordHash });
    else q.insertUser(this.db, { username: name, passwordHash, role: 'ADMIN' });
    this.options.log.info({ username: name, passwordSource: configuredPassword ? 'ADMIN_PASSWORD' : 'generated' }, 'first admin created');
    return { created: true as const, username: name, generatedPassword: configuredPassword ? undefined : password };
  }

  /**
   * Checks a password, throttled per username and per client address (see LoginThrottle). Both budgets are
   * reserved before the hash check is awaited, so at most `loginMaxFailures` wrong passwords are ever checked
   * per username per window, however many attempts run at once. A success gives its slot back but erases no
   * failure: otherwise an attempt that succeeds while guesses are in flight would open a fresh budget for them.
   */
  async login(usernameInput: string, passwordInput: string, clientAddress: string | null) {
    return this.startSession(await this.verifyPassword(usernameInput, passwordInput, clientAddress), clientAddress);
  }

  /**
   * A login without a session, for the source's REST clients that send their credentials with every request
   * (`POST /pi`, `POST /quote`): the same throttles, login statistics, login events and log lines as `login`.
   */
  async loginOnce(usernameInput: string, passwordInput: string, clientAddress: string | null): Promise<{ id: number; username: string; role: Role }> {
    const user = await this.verifyPassword(usernameInput, passwordInput, clientAddress);
    const at = new Date(this.clock.now());
    q.recordSuccessfulLogin(this.db, user.id, at);
    this.recordLogin({ username: user.username, success: true, reason: null, clientAddress, at }, user.id);
    return { id: user.id, username: user.username, role: user.role };
  }

  /** The account these credentials prove, or UNAUTHENTICATED (`user info error`); throttled, failures recorded. */
  private async verifyPassword(usernameInput: string, passwordInput: string, clientAddress: string | null) {
    const { username, password } = parseInput(loginInput, { username: usernameInput, password: passwordInput });
    const address = clientAddress ?? 'unknown';
    const wait = Math.max(this.usernameThrottle.retryAfterSeconds(username), this.addressThrottle?.retryAfterSeconds(address) ?? 0);
    if (wait > 0) {
      this.recordLogin({ username, success: false, reason: 'throttled', clientAddress, at: new Date() });
      throw rateLimited(`too many failed logins; try again in ${wait} s`, wait);
    }
    // No await between the check above and these reservations: that is what makes the budget hold.
    const attempts = { username: this.usernameThrottle.reserve(username), address: this.addressThrottle?.reserve(address) };
    let shared: SharedReservedAttempt | undefined;

    try {
      shared = await this.reserveShared(username, address, clientAddress);
      const user = q.findUserByUsername(this.db, username);
      const passwordMatches = user
        ? await Bun.password.verify(password, user.passwordHash)
        : await Bun.password.verify(password, await (this.dummyHash ??= this.hashPassword(generatePassword())));
      const failure = !user ? 'unknown user' : !passwordMatches ? 'wrong password' : user.disabled ? 'account disabled' : null;
      if (failure || !user) {
        await this.recordFailedAttempt(attempts, shared, username, address);
        this.recordLogin({ username, success: false, reason: failure, clientAddress, at: new Date() }, user?.id);
        throw unauthenticated('user info error');
      }
      return user;
    } finally {
      // A success, or an error before any verdict, gives the slots back; after failed() this does nothing.
      attempts.username.release();
      attempts.address?.release();
      shared?.release();
    }
  }

  /**
   * With REDIS_URL, the attempt is also reserved on the budgets every instance shares. Fails closed: while Redis
   * cannot be reached no password is checked, since no instance could then know how many guesses the others let in.
   */
  private async reserveShared(username: string, address: string, clientAddress: string | null): Promise<SharedReservedAttempt | undefined> {
    const throttle = this.options.sharedLoginThrottle;
    if (!throttle) return undefined;
    let reserved: Awaited<ReturnType<SharedLoginThrottle['reserve']>>;
    try {
      reserved = await throttle.reserve(username, address);
    } catch (error) {
      this.options.log.error({ username, err: (error as Error).message }, 'login refused: the shared login throttle (Redis) is unreachable');
      throw unavailable('logins are unavailable for a moment (the shared login throttle cannot be reached); try again shortly');
    }
    if ('attempt' in reserved) return reserved.attempt;
    this.recordLogin({ username, success: false, reason: 'throttled', clientAddress, at: new Date() });
    throw rateLimited(`too many failed logins; try again in ${reserved.wait} s`, reserved.wait);
  }

  private async recordFailedAttempt(
    attempts: { username: ReservedAttempt; address?: ReservedAttempt },
    shared: SharedReservedAttempt | undefined,
    username: string,
    address: string,
  ) {
    const local = { username: attempts.username.failed(), address: attempts.address?.failed() ?? false };
    // Over several instances the shared count says when a budget was used up; a lost Redis leaves the reservation
    // to run out by itself (counted as a failure meanwhile: the safe side).
    const usedUp = shared ? await shared.failed().catch(() => local) : local;
    // OWASP: every lockout is logged, once, when it starts.
    if (usedUp.username) this.options.log.warn({ username }, 'login locked for this username');
    if (usedUp.address) this.options.log.warn({ address }, 'login locked for this address');
  }

  private startSession(user: NonNullable<ReturnType<typeof q.findUserByUsername>>, clientAddress: string | null) {
    const token = generateToken();
    const at = new Date(this.clock.now());
    const session = this.db.transaction((tx) => {
      q.recordSuccessfulLogin(tx as unknown as Db, user.id, at);
      return q.insertSession(tx as unknown as Db, {
        userId: user.id,
        tokenHash: hashToken(token),
        expiresAt: new Date(at.getTime() + this.options.tokenTtlMs),
        clientAddress,
      });
    });
    this.recordLogin({ username: user.username, success: true, reason: null, clientAddress, at }, user.id);
    const authUser: AuthUser = { id: user.id, username: user.username, role: user.role, sessionId: session.id, expiresAt: at.getTime() + this.options.tokenTtlMs };
    return { token, user: q.findUserById(this.db, user.id)!, authUser };
  }

  /** The user behind a bearer token, or null when the token is unknown, revoked, expired or its user disabled. */
  authenticate(token: string): AuthUser | null {
    const tokenHash = hashToken(token);
    const now = this.clock.now();
    // While Redis is unreachable another instance's logout could go unheard: every check reads the database then.
    const cacheable = !this.options.events.missingRemoteEvents;
    const known = cacheable ? this.liveSessions.get(tokenHash) : undefined;
    if (known && known.expiresAt > now) return known;
    const session = q.findLiveSession(this.db, tokenHash, new Date(now));
    if (!session) return null;
    const user: AuthUser = {
      id: session.userId,
      username: session.username,
      role: session.role,
      sessionId: session.sessionId,
      expiresAt: session.expiresAt.getTime(),
    };
    if (!cacheable) return user;
    if (this.liveSessions.size >= LIVE_SESSION_CACHE_SIZE) this.liveSessions.clear();
    this.liveSessions.set(tokenHash, user);
    return user;
  }

  /**
   * Every request authenticates, so live sessions are remembered in memory. Any change to users or sessions
   * (logout, a role, a password, a disabled or deleted account) forgets them all, here and (through the event bus,
   * with REDIS_URL) on every other instance. The event leaves at the end of the current tick, after the synchronous
   * transaction that made the change committed, so no instance re-reads the session before the change.
   */
  private forgetSessions(): void {
    this.dropCachedSessions();
    this.options.events.publish('sessionsChanged', { reason: 'users or sessions changed' });
  }

  /** Forgets the cached sessions and has open streams check their tokens again. */
  private dropCachedSessions(): void {
    this.liveSessions.clear();
    for (const listener of this.sessionChangeListeners) listener();
  }

  /**
   * Called (synchronously, possibly inside the transaction that makes it) on every change that may end sessions:
   * the transports use it to end the streams opened with a token that no longer works.
   */
  onSessionsChanged(listener: () => void): void {
    this.sessionChangeListeners.add(listener);
  }

  logout(user: AuthUser): void {
    this.forgetSessions();
    q.revokeSession(this.db, user.sessionId, new Date());
    this.options.log.info({ userId: user.id, username: user.username }, 'logout');
  }

  getUser(id: number) {
    const user = q.findUserById(this.db, id);
    if (!user) throw notFound(`no user with id ${id}`);
    return user;
  }

  /** The account as the reader selects it (see Selection); null when there is none. */
  async findUser(id: number, select?: Selection) {
    return (await this.db.query.users.findFirst(withSelection({ where: { id } }, select))) ?? null;
  }

  /** Every account, oldest first, as the reader selects and pages them. */
  listUsers(select?: Selection) {
    return this.db.query.users.findMany(withSelection({ orderBy: { id: 'asc' as const } }, select));
  }

  countUsers(): Promise<number> {
    return this.db.$count(users);
  }

  /** Every login attempt from now on, as it is logged (for admins watching live). */
  loginEvents(): AsyncIterable<LoginEvent> {
    return this.options.events.subscribe('loginEvents');
  }

  async createUser(input: z.input<typeof createUserInput>) {
    const { username, password, role } = parseInput(createUserInput, input);
    if (q.findUserByUsername(this.db, username)) throw conflict(`username "${username}" is taken`);
    const user = q.insertUser(this.db, { username, passwordHash: await this.hashPassword(password), role });
    this.options.log.info({ userId: user.id, username, role }, 'user created');
    return user;
  }

  async updateUser(id: number, input: z.input<typeof updateUserInput>) {
    const user = this.getUser(id);
    const { role, disabled, password } = parseInput(updateUserInput, input);
    const changes: Parameters<typeof q.updateUserRow>[2] = {};
    if (role != null) changes.role = role;
    if (disabled != null) changes.disabled = disabled;
    if (password != null) changes.passwordHash = await this.hashPassword(password);
    const losesAdmin = user.role === 'ADMIN' && !user.disabled && ((changes.role && changes.role !== 'ADMIN') || changes.disabled);
    if (losesAdmin && q.countActiveAdmins(this.db) <= 1) throw conflict('cannot demote or disable the last active admin');
    const updated = this.db.transaction((tx) => {
      this.forgetSessions();
      const row = q.updateUserRow(tx as unknown as Db, id, changes)!;
      // A password reset or a disabled account must not leave old tokens working.
      if (changes.passwordHash || changes.disabled) q.revokeUserSessions(tx as unknown as Db, id, new Date());
      return row;
    });
    this.options.log.info(
      { userId: id, role: changes.role, disabled: changes.disabled, passwordReset: Boolean(changes.passwordHash) },
      'user updated',
    );
    return updated;
  }

  deleteUser(id: number): boolean {
    const user = this.getUser(id);
    if (user.role === 'ADMIN' && !user.disabled && q.countActiveAdmins(this.db) <= 1) {
      throw conflict('cannot delete the last active admin');
    }
    // Sessions go with the user (ON DELETE CASCADE), so every token of theirs stops working at once.
    this.forgetSessions();
    q.deleteUserRow(this.db, id);
    this.options.log.info({ userId: id, username: user.username }, 'user deleted');
    return true;
  }

  async changePassword(actor: AuthUser, currentPasswordInput: string, newPasswordInput: string): Promise<boolean> {
    const { currentPassword, newPassword } = parseInput(changePasswordInput, { currentPassword: currentPasswordInput, newPassword: newPasswordInput });
    const user = this.getUser(actor.id);
    if (!(await Bun.password.verify(currentPassword, user.passwordHash))) {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'current password is wrong', { field: 'currentPassword' });
    }
    const passwordHash = await this.hashPassword(newPassword);
    this.db.transaction((tx) => {
      this.forgetSessions();
      q.updateUserRow(tx as unknown as Db, actor.id, { passwordHash });
      // Other devices must log in again; the session that changed the password stays.
      q.revokeUserSessions(tx as unknown as Db, actor.id, new Date(), actor.sessionId);
    });
    this.options.log.info({ userId: actor.id }, 'password changed');
    return true;
  }

  loginStats() {
    return q.listLoginStats(this.db);
  }

  private recordLogin(event: LoginEvent, userId?: number): void {
    q.insertLoginEvent(this.db, { ...event, userId: userId ?? null });
    const entry = { username: event.username, address: event.clientAddress, reason: event.reason ?? undefined };
    if (event.success) this.options.log.info(entry, 'login succeeded');
    else this.options.log.warn(entry, 'login failed');
    this.options.events.publish('loginEvents', event);
  }
}
