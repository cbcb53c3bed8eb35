import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock';
import type { Database } from '../db/client';
import { ROLES, type Role } from '../db/schema';
import type { Selection } from '../db/selection';
import { z } from 'zod';
import { conflict, DomainError, ErrorCode, notFound, rateLimited, unauthenticated, unavailable } from '../errors';
import type { EventBus, LoginEvent } from '../events';
import { parseInput, stringAtMost } from '../input';
import { LoginLog } from './login-log';
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
  database: Database;
  log: Logger;
  events: EventBus;
  tokenTtlMs: number;
  loginMaxFailures: number;
  /** Failed logins per client address (over all usernames) before it is throttled; 0: no per-address rule. */
  loginMaxFailuresPerAddress: number;
  loginFailureWindowMs: number;
  /** Login events older than this many days are deleted in the background; 0 keeps them. */
  loginEventsRetentionDays?: number;
  /** With REDIS_URL: the same budgets counted over every instance, behind this instance's own. */
  sharedLoginThrottle?: SharedLoginThrottle;
  /** argon2id's cost; only tests lower it (see PasswordHashCost). Bun's defaults otherwise. */
  passwordHashCost?: PasswordHashCost;
  /** Where session expiry and the login throttles read the time; tests pass one they can move. */
  clock?: Clock;
  /** Tests only: how often refusals counted while throttled are written to their row (5 s left out). */
  loginLogFlushMs?: number;
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

/** Where instances sharing a PostgreSQL database announce that sessions changed (the payload: the change's id). */
export const SESSIONS_CHANNEL = 'jobgraph_sessions';
/** Live sessions remembered at most (the map is cleared when full). */
const LIVE_SESSION_CACHE_SIZE = 10_000;
/** Session changes remembered by id, so one heard twice (Redis and NOTIFY) is acted on once. */
const RECENT_CHANGES_KEPT = 500;

/** How long a remembered session is trusted without a re-read when several instances share the database. */
const SHARED_SESSION_TRUST_MS = 30_000;

const isActiveAdmin = (user: q.UserRow) => user.role === 'ADMIN' && !user.disabled;

/** Accounts, roles, tokens and the login log. Plain TypeScript: GraphQL, REST or a CLI may call it. */
export class UsersService {
  private readonly usernameThrottle: LoginThrottle;
  // Null when LOGIN_MAX_FAILURES_PER_ADDRESS is 0 (behind a proxy every client shares one address).
  private readonly addressThrottle: LoginThrottle | null;
  // Verified against when the username is unknown, so a miss costs as long as a wrong password.
  private dummyHash: Promise<string> | undefined;

  private readonly liveSessions = new Map<string, { user: AuthUser; rememberedAt: number }>();
  /** Moves on each drop of the cache: a session read that started before a drop is answered but not remembered. */
  private sessionsGeneration = 0;
  /** Session changes made here or heard of lately, by id (see forgetSessions). */
  private readonly recentChanges = new Set<string>();
  private readonly sessionChangeListeners = new Set<() => void>();
  private readonly loginLog: LoginLog;

  constructor(private readonly options: UsersServiceOptions) {
    const now = () => this.clock.now();
    this.loginLog = new LoginLog(options.database, {
      windowMs: options.loginFailureWindowMs,
      retentionDays: options.loginEventsRetentionDays ?? 30,
      log: options.log,
      clock: { now },
      flushMs: options.loginLogFlushMs,
    });
    this.usernameThrottle = new LoginThrottle(options.loginMaxFailures, options.loginFailureWindowMs, now);
    this.addressThrottle = options.loginMaxFailuresPerAddress
      ? new LoginThrottle(options.loginMaxFailuresPerAddress, options.loginFailureWindowMs, now)
      : null;
    // Another instance changed users or sessions, or its messages may have been missed: drop what is cached here.
    options.events.onRemote('sessionsChanged', ({ change }) => this.sessionsChangedElsewhere(change));
    options.events.onRemoteGap(() => this.dropCachedSessions());
    options.events.onRemote('loginUnlocked', ({ username }) => this.usernameThrottle.forget(username));
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  private hashPassword(password: string): Promise<string> {
    return Bun.password.hash(password, { algorithm: 'argon2id', ...this.options.passwordHashCost });
  }

  private get db() {
    return this.options.database;
  }

  /**
   * Makes sure an enabled admin exists. With no password configured, one is generated and returned so the
   * caller can show it once; it is never stored in clear or logged.
   */
  bootstrapAdmin(username: string, configuredPassword: string | undefined) {
    // Instances starting together on one PostgreSQL database: the first makes the admin, the others find it.
    return this.db.exclusively('bootstrap-admin', () => this.bootstrapAdminNow(username, configuredPassword));
  }

  private async bootstrapAdminNow(username: string, configuredPassword: string | undefined) {
    if ((await q.countActiveAdmins(this.db)) > 0) {
      // Said once per start: otherwise an operator who set it to recover a lost password wonders why it did nothing.
      if (configuredPassword) this.options.log.warn('ADMIN_PASSWORD is set but ignored: an active admin exists (to reset a password: bun run jg admin reset-password <username>)');
      return { created: false as const };
    }
    const { username: name, password } = parseInput(firstAdminInput, { username, password: configuredPassword ?? generatePassword() });
    const passwordHash = await this.hashPassword(password);
    const existing = await q.findUserByUsername(this.db, name);
    if (existing) await q.updateUserRow(this.db, existing.id, { role: 'ADMIN', disabled: false, passwordHash });
    else await q.insertUser(this.db, { username: name, passwordHash, role: 'ADMIN' });
    this.forgetSessions();
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
    await q.recordSuccessfulLogin(this.db, user.id, at);
    await this.recordLogin({ username: user.username, success: true, reason: null, clientAddress, at }, user.id);
    return { id: user.id, username: user.username, role: user.role };
  }

  /** The account these credentials prove, or UNAUTHENTICATED (`user info error`); throttled, failures recorded. */
  private async verifyPassword(usernameInput: string, passwordInput: string, clientAddress: string | null) {
    const { username, password } = parseInput(loginInput, { username: usernameInput, password: passwordInput });
    const address = clientAddress ?? 'unknown';
    const wait = Math.max(this.usernameThrottle.retryAfterSeconds(username), this.addressThrottle?.retryAfterSeconds(address) ?? 0);
    if (wait > 0) {
      // Counted under the budget that refused: an address trying other usernames still adds to one row.
      const addressRefused = (this.addressThrottle?.retryAfterSeconds(address) ?? 0) > 0;
      await this.recordRefusal({ username, success: false, reason: 'throttled', clientAddress, at: new Date() }, addressRefused ? `address:${address}` : `username:${username}`);
      throw rateLimited(`too many failed logins; try again in ${wait} s`, wait);
    }
    // No await between the check above and these reservations: that is what makes the budget hold.
    const attempts = { username: this.usernameThrottle.reserve(username), address: this.addressThrottle?.reserve(address) };
    let shared: SharedReservedAttempt | undefined;

    try {
      shared = await this.reserveShared(username, address, clientAddress);
      const user = await q.findUserByUsername(this.db, username);
      const passwordMatches = user
        ? await Bun.password.verify(password, user.passwordHash)
        : await Bun.password.verify(password, await (this.dummyHash ??= this.hashPassword(generatePassword())));
      const failure = !user ? 'unknown user' : !passwordMatches ? 'wrong password' : user.disabled ? 'account disabled' : null;
      if (failure || !user) {
        await this.recordFailedAttempt(attempts, shared, username, address);
        await this.recordLogin({ username, success: false, reason: failure, clientAddress, at: new Date() }, user?.id);
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
    await this.recordRefusal({ username, success: false, reason: 'throttled', clientAddress, at: new Date() }, `username:${username}`);
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

  private async startSession(user: q.UserRow, clientAddress: string | null) {
    const token = generateToken();
    const at = new Date(this.clock.now());
    const session = await this.db.transaction(async (tx) => {
      await q.recordSuccessfulLogin(tx, user.id, at);
      return q.insertSession(tx, {
        userId: user.id,
        tokenHash: hashToken(token),
        expiresAt: new Date(at.getTime() + this.options.tokenTtlMs),
        clientAddress,
      });
    });
    await this.recordLogin({ username: user.username, success: true, reason: null, clientAddress, at }, user.id);
    const authUser: AuthUser = { id: user.id, username: user.username, role: user.role, sessionId: session.id, expiresAt: at.getTime() + this.options.tokenTtlMs };
    return { token, user: (await q.findUserById(this.db, user.id))!, authUser };
  }

  /** The user behind a bearer token, or null when the token is unknown, revoked, expired or its user disabled. */
  async authenticate(token: string): Promise<AuthUser | null> {
    const tokenHash = hashToken(token);
    const now = this.clock.now();
    // While Redis is unreachable another instance's logout could go unheard: every check reads the database then —
    // except on PostgreSQL, whose NOTIFY tells every instance sharing the sessions' table, Redis or not.
    const cacheable = this.db.dialect === 'postgres' || !this.options.events.missingRemoteEvents;
    const known = cacheable ? this.liveSessions.get(tokenHash) : undefined;
    // Where other instances share the sessions (PostgreSQL), a change they announced could go unheard (a dropped
    // LISTEN connection, a Redis gap): a remembered session is trusted for SHARED_SESSION_TRUST_MS at most.
    const trusted = known && (this.db.dialect !== 'postgres' || now - known.rememberedAt < SHARED_SESSION_TRUST_MS);
    if (known && trusted && known.user.expiresAt > now) return known.user;
    const generation = this.sessionsGeneration;
    const session = await q.findLiveSession(this.db, tokenHash, new Date(now));
    if (!session) return null;
    const user: AuthUser = {
      id: session.userId,
      username: session.username,
      role: session.role,
      sessionId: session.sessionId,
      expiresAt: session.expiresAt.getTime(),
    };
    // Sessions changed while it was read (another instance's logout committed meanwhile, say): not remembered.
    if (!cacheable || generation !== this.sessionsGeneration) return user;
    if (this.liveSessions.size >= LIVE_SESSION_CACHE_SIZE) this.liveSessions.clear();
    this.liveSessions.set(tokenHash, { user, rememberedAt: now });
    return user;
  }

  /**
   * Every request authenticates, so live sessions are remembered in memory. Any change to users or sessions
   * (logout, a role, a password, a disabled or deleted account) forgets them all, here and on every other instance,
   * so nothing revokes a token behind an instance's back: through the event bus (REDIS_URL) and, where instances
   * share a PostgreSQL database, through the database itself (NOTIFY; Redis or not). Each change has an id: an
   * instance that hears it both ways acts once. Called only once the change is committed (awaited), so no instance
   * re-reads a session before the change and caches it again.
   */
  private forgetSessions(): void {
    const change = crypto.randomUUID();
    this.heardChange(change);
    this.dropCachedSessions();
    this.options.events.publish('sessionsChanged', { reason: 'users or sessions changed', change });
    if (this.db.dialect === 'postgres') {
      this.db.broadcast(SESSIONS_CHANNEL, change).catch((error) => this.options.log.error({ err: error }, 'telling other instances of a session change failed'));
    }
  }

  /** Another instance changed users or sessions (told through Redis or PostgreSQL); a change already heard is not acted on again. */
  sessionsChangedElsewhere(change: string | undefined): void {
    if (change !== undefined && !this.heardChange(change)) return;
    this.dropCachedSessions();
  }

  /** Whether `change` is news (remembered from now on: the last few hundred). */
  private heardChange(change: string): boolean {
    if (this.recentChanges.has(change)) return false;
    this.recentChanges.add(change);
    if (this.recentChanges.size > RECENT_CHANGES_KEPT) this.recentChanges.delete(this.recentChanges.values().next().value!);
    return true;
  }

  /** Forgets the cached sessions and has open streams check their tokens again. */
  private dropCachedSessions(): void {
    // A session read still in flight may predate the change: authenticate will not cache it (see there).
    this.sessionsGeneration++;
    this.liveSessions.clear();
    for (const listener of this.sessionChangeListeners) listener();
  }

  /**
   * Called (synchronously, once the change is committed) on every change that may end sessions:
   * the transports use it to end the streams opened with a token that no longer works.
   */
  onSessionsChanged(listener: () => void): void {
    this.sessionChangeListeners.add(listener);
  }

  async logout(user: AuthUser): Promise<void> {
    await q.revokeSession(this.db, user.sessionId, new Date());
    this.forgetSessions();
    this.options.log.info({ userId: user.id, username: user.username }, 'logout');
  }

  async getUser(id: number) {
    const user = await q.findUserById(this.db, id);
    if (!user) throw notFound(`no user with id ${id}`);
    return user;
  }

  /** The account as the reader selects it (see Selection); null when there is none. */
  async findUser(id: number, select?: Selection) {
    return (await q.selectUser(this.db, id, select)) ?? null;
  }

  /** Every account, oldest first, as the reader selects and pages them. */
  listUsers(select?: Selection) {
    return q.selectUsers(this.db, select);
  }

  countUsers(): Promise<number> {
    return q.countUsers(this.db);
  }

  /** Every login attempt from now on, as it is logged (for admins watching live). */
  loginEvents(): AsyncIterable<LoginEvent> {
    return this.options.events.subscribe('loginEvents');
  }

  async createUser(input: z.input<typeof createUserInput>) {
    const { username, password, role } = parseInput(createUserInput, input);
    if (await q.findUserByUsername(this.db, username)) throw conflict(`username "${username}" is taken`);
    const user = await q.insertUser(this.db, { username, passwordHash: await this.hashPassword(password), role });
    this.options.log.info({ userId: user.id, username, role }, 'user created');
    return user;
  }

  async updateUser(id: number, input: z.input<typeof updateUserInput>) {
    await this.getUser(id);
    const { role, disabled, password } = parseInput(updateUserInput, input);
    const changes: Parameters<typeof q.updateUserRow>[2] = {};
    if (role != null) changes.role = role;
    if (disabled != null) changes.disabled = disabled;
    if (password != null) changes.passwordHash = await this.hashPassword(password);
    const losesAdmin = (user: q.UserRow) => isActiveAdmin(user) && Boolean((changes.role && changes.role !== 'ADMIN') || changes.disabled);
    const updated = await this.unlessLastAdmin(id, losesAdmin, 'cannot demote or disable the last active admin', async (access) => {
      const row = (await q.updateUserRow(access, id, changes))!;
      // A password reset or a disabled account must not leave old tokens working.
      if (changes.passwordHash || changes.disabled) await q.revokeUserSessions(access, id, new Date());
      return row;
    });
    this.forgetSessions();
    this.options.log.info(
      { userId: id, role: changes.role, disabled: changes.disabled, passwordReset: Boolean(changes.passwordHash) },
      'user updated',
    );
    return updated;
  }

  async deleteUser(id: number): Promise<boolean> {
    // Sessions go with the user (ON DELETE CASCADE), so every token of theirs stops working at once.
    const user = await this.unlessLastAdmin(id, isActiveAdmin, 'cannot delete the last active admin', async (access, row) => {
      await q.deleteUserRow(access, id);
      return row;
    });
    this.forgetSessions();
    this.options.log.info({ userId: id, username: user.username }, 'user deleted');
    return true;
  }

  /**
   * Runs `change` on user `id` in a transaction, unless it would leave no active admin (CONFLICT with `refusal`).
   * The user is read again and the admins counted inside it, under one lock: two such changes made at once (here or
   * on another instance) take turns, so they cannot both see two admins and remove both. A refusal is thrown once
   * the transaction has ended, so nothing is rolled back for it.
   */
  private async unlessLastAdmin<T>(id: number, losesAdmin: (user: q.UserRow) => boolean, refusal: string, change: (access: q.Access, user: q.UserRow) => Promise<T>): Promise<T> {
    const outcome = await this.db.transaction(
      async (tx): Promise<{ refused: DomainError } | { value: T }> => {
          const user = await q.findUserById(tx, id);
        if (!user) return { refused: notFound(`no user with id ${id}`) };
        if (losesAdmin(user) && (await q.countActiveAdmins(tx)) <= 1) return { refused: conflict(refusal) };
        return { value: await change(tx, user) };
      },
      { lock: 'admins' },
    );
    if ('refused' in outcome) throw outcome.refused;
    return outcome.value;
  }

  async changePassword(actor: AuthUser, currentPasswordInput: string, newPasswordInput: string): Promise<boolean> {
    const { currentPassword, newPassword } = parseInput(changePasswordInput, { currentPassword: currentPasswordInput, newPassword: newPasswordInput });
    const user = await this.getUser(actor.id);
    if (!(await Bun.password.verify(currentPassword, user.passwordHash))) {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'current password is wrong', { field: 'currentPassword' });
    }
    const passwordHash = await this.hashPassword(newPassword);
    await this.db.transaction(async (tx) => {
      await q.updateUserRow(tx, actor.id, { passwordHash });
      // Other devices must log in again; the session that changed the password stays.
      await q.revokeUserSessions(tx, actor.id, new Date(), actor.sessionId);
    });
    this.forgetSessions();
    this.options.log.info({ userId: actor.id }, 'password changed');
    return true;
  }

  loginStats() {
    return q.listLoginStats(this.db);
  }

  /** A page of the recorded login attempts (successes, failures, throttled refusals), newest first. */
  async loginHistory(filter: q.LoginHistoryFilter, page: Parameters<typeof q.listLoginEvents>[2]) {
    return await q.listLoginEvents(this.db, filter, page);
  }

  /**
   * Ends a username's lockout now (an admin vouched for the person): its failures are forgotten here, in the
   * shared throttle (REDIS_URL) and, through the event bus, on every other instance. The address budgets stay.
   */
  async unlockUsername(usernameInput: string): Promise<boolean> {
    const { username } = parseInput(loginInput.pick({ username: true }), { username: usernameInput });
    this.usernameThrottle.forget(username);
    await this.options.sharedLoginThrottle?.forget(username);
    this.options.events.publish('loginUnlocked', { username });
    this.options.log.info({ username }, 'login unlocked for this username');
    return true;
  }

  private async recordLogin(event: LoginEvent, userId?: number): Promise<void> {
    await this.loginLog.record(event, userId);
    const entry = { username: event.username, address: event.clientAddress, reason: event.reason ?? undefined };
    if (event.success) this.options.log.info(entry, 'login succeeded');
    else this.options.log.warn(entry, 'login failed');
    this.options.events.publish('loginEvents', event);
  }

  /**
   * An attempt refused while throttled: the first of its window is a row and a log line; the next ones are counted
   * into that row (see LoginLog). Every one still reaches the live stream and the metrics.
   */
  private async recordRefusal(event: LoginEvent, key: string): Promise<void> {
    const refusal = this.loginLog.recordRefusal(event, key);
    await refusal.done;
    if (refusal.stored) this.options.log.warn({ username: event.username, address: event.clientAddress, reason: event.reason }, 'login failed');
    this.options.events.publish('loginEvents', event);
  }

  /** Starts the login log's background pruning (LOGIN_EVENTS_RETENTION_DAYS). */
  start(): void {
    this.loginLog.start();
  }

  /** Stops the background work and writes the refusals counted so far. */
  stop(): Promise<void> {
    return this.loginLog.stop();
  }

  /** Deletes login events past the retention now (the background pruning's step); returns how many. */
  pruneLoginEvents(): Promise<number> {
    return this.loginLog.prune();
  }
}
