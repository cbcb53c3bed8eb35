import { Cron } from 'croner';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../clock';
import type { Database } from '../db/client';
import type { Role, schedules } from '../db/schema';
import { type Selection, withSelection } from '../db/selection';
import { badInput, conflict, notFound } from '../errors';
import { checkLength, parseInput } from '../input';
import { type Actor, requireWriter } from '../jobs/model';
import type { JobRequest, JobsService } from '../jobs/service';
import * as sql from './sql';

/** Who may create a schedule, and whose schedules still run (createSchedule's rule). */
const SCHEDULER_ROLES: readonly Role[] = ['MANAGER', 'ADMIN'];

export type Schedule = typeof schedules.$inferSelect;
export const SCHEDULE_OVERLAPS = ['ALLOW', 'SKIP'] as const;
export type ScheduleOverlap = (typeof SCHEDULE_OVERLAPS)[number];

/**
 * A tick found more than this late was missed (no instance ran at its time): it is not run, only passed over.
 * Longer than the lateness of a busy instance's timer, shorter than a restart.
 */
export const MISSED_TICK_GRACE_MS = 2000;
/** Every instance reads the schedules at least this often: one created or resumed elsewhere is then seen here. */
const RELOAD_MS = 5000;

const NAME_RULE = "schedule name must be 1 to 64 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit";
const createInput = z.object({
  name: z.string({ error: NAME_RULE }).trim().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, { error: NAME_RULE }),
  cron: z.string({ error: 'invalid field cron: a string' }).trim().min(1, { error: 'invalid field cron: it is empty' }).max(200, { error: 'cron must be at most 200 characters' }),
  timezone: z.string({ error: 'invalid field timezone: a string' }).trim().max(64, { error: 'timezone must be at most 64 characters' }).nullish(),
  overlap: z.enum(SCHEDULE_OVERLAPS).nullish(),
});

/** A cron expression of 5 fields, or 6 with seconds first, in an IANA zone (croner reads it; DST as croner documents). */
export function parseCron(expression: string, timezone: string): Cron {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw badInput(`timezone "${timezone}" is not an IANA time zone (e.g. "Europe/Paris", "UTC")`, { field: 'timezone' });
  }
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw badInput(`cron "${expression}" must have 5 fields, or 6 with a leading seconds field; it has ${fields}`, { field: 'cron' });
  try {
    return new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
  } catch (error) {
    throw badInput(`cron "${expression}" is not a valid expression: ${(error as Error).message.replace(/^CronPattern: /, '')}`, { field: 'cron' });
  }
}

/** The first tick of a schedule strictly after `after` (ms), or null when there is none (Feb 30th). */
function nextTick(cron: Cron, after: number): number | null {
  return cron.nextRun(new Date(after))?.getTime() ?? null;
}

export interface SchedulesServiceOptions {
  database: Database;
  jobs: JobsService;
  log: Logger;
  clock: Clock;
}

/**
 * Cron schedules: each due tick submits its job once across every instance. Every instance keeps a timer to the
 * earliest next_run_at it knows (and reads the list again at least every few seconds); at a tick it asks the job
 * store to take it — a compare-and-set on next_run_at in the transaction that inserts the job — so however many
 * instances wake for it, one job is made.
 */
export class SchedulesService {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: SchedulesServiceOptions) {}

  private get db() {
    return this.options.database;
  }

  // ---- reads -------------------------------------------------------------------------------------------

  /** Every schedule by name, as the reader selects it (its runs with it: one statement). */
  list(select?: Selection): Promise<Schedule[]> {
    const query = withSelection({ orderBy: { name: 'asc' as const } }, select);
    return this.db.dialect === 'sqlite' ? this.db.sqliteDb.query.schedules.findMany(query) : this.db.pg.query.schedules.findMany(query);
  }

  async find(name: string, select?: Selection): Promise<Schedule | null> {
    checkLength(name, 64, 'name');
    const query = withSelection({ where: { name } }, select);
    return (await (this.db.dialect === 'sqlite' ? this.db.sqliteDb.query.schedules.findFirst(query) : this.db.pg.query.schedules.findFirst(query))) ?? null;
  }

  async get(name: string): Promise<Schedule> {
    const schedule = await this.find(name);
    if (!schedule) throw notFound(`no schedule named "${name}"`);
    return schedule;
  }

  // ---- commands ----------------------------------------------------------------------------------------

  /** A new schedule; `submission` is the JobSubmission as given (what Schedule.job shows), `request` what it submits. */
  async create(
    actor: Actor,
    input: { name: string; cron: string; timezone?: string | null; overlap?: ScheduleOverlap | null },
    submission: unknown,
    request: JobRequest,
  ): Promise<Schedule> {
    requireWriter(actor);
    const { name, cron: expression, timezone: zone, overlap } = parseInput(createInput, input);
    const timezone = zone || 'UTC';
    const cron = parseCron(expression, timezone);
    const options = request.options ?? {};
    if (options.runAt != null) throw badInput('a scheduled job cannot have runAt: each run starts at its tick (delayMs may follow the tick)', { field: 'runAt' });
    if (options.idempotencyKey != null) throw badInput('a scheduled job cannot have an idempotencyKey: every tick makes a new job', { field: 'idempotencyKey' });
    // The job is checked now as a submission would be (kind, queue, options, input): a bad one is refused here.
    const queue = this.options.jobs.checkRequest(actor, request);
    const now = this.options.clock.now();
    const nextRunAt = nextTick(cron, now);
    const row = await this.db.first<sql.ScheduleSqlRow>(sql.insertSchedule, {
      name,
      cron: expression,
      timezone,
      job: JSON.stringify(submission),
      request: JSON.stringify({ kind: request.kind, input: request.input, options: options }),
      queue,
      overlap: overlap ?? 'ALLOW',
      nextRunAt,
      ownerId: actor.id,
    });
    if (!row) throw conflict(`schedule "${name}" already exists`);
    this.options.log.info({ name, cron: expression, timezone, queue, by: actor.id }, 'schedule created');
    this.wake();
    return sql.toSchedule(row);
  }

  async pause(actor: Actor, name: string): Promise<Schedule> {
    requireWriter(actor);
    await this.get(name);
    const row = await this.db.first<sql.ScheduleSqlRow>(sql.pauseSchedule, { name });
    if (!row) throw notFound(`no schedule named "${name}"`);
    this.options.log.info({ name, by: actor.id }, 'schedule paused');
    return sql.toSchedule(row);
  }

  /** Runs again from the next tick after now: the ticks passed while it was paused are not made up. */
  async resume(actor: Actor, name: string): Promise<Schedule> {
    requireWriter(actor);
    const schedule = await this.get(name);
    const next = nextTick(parseCron(schedule.cron, schedule.timezone), this.options.clock.now());
    const row = await this.db.first<sql.ScheduleSqlRow>(sql.resumeSchedule, { name, nextRunAt: next });
    this.options.log.info({ name, by: actor.id }, 'schedule resumed');
    this.wake();
    return row ? sql.toSchedule(row) : await this.get(name);
  }

  /** Deletes a schedule; the jobs it made stay (their `schedule` still names it). */
  async delete(actor: Actor, name: string): Promise<boolean> {
    requireWriter(actor);
    await this.get(name);
    await this.db.exec(sql.deleteSchedule, { name });
    this.options.log.info({ name, by: actor.id }, 'schedule deleted');
    return true;
  }

  // ---- the ticks ---------------------------------------------------------------------------------------

  start(): void {
    this.stopped = false;
    this.wake();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Reads the schedules now and fires what is due (a change here, or the timer). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.fireDue()
      .catch((error) => {
        if (!this.stopped) this.options.log.error({ err: error }, 'firing schedules failed');
        return this.options.clock.now() + 1000;
      })
      .then((earliest) => {
        this.running = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          return this.wake();
        }
        const now = this.options.clock.now();
        this.timer = setTimeout(() => this.wake(), Math.max(0, Math.min(earliest ?? Infinity, now + RELOAD_MS) - now));
      });
  }

  /** Fires every schedule due now; the earliest next tick among them all. */
  private async fireDue(): Promise<number | null> {
    const rows = (await this.db.all<sql.ScheduleSqlRow>(sql.runningSchedules)).map(sql.toSchedule);
    let earliest: number | null = null;
    const sooner = (at: number | null) => {
      if (at !== null && (earliest === null || at < earliest)) earliest = at;
    };
    for (const schedule of rows) {
      const due = schedule.nextRunAt!.getTime();
      const now = this.options.clock.now();
      if (due > now) {
        sooner(due);
        continue;
      }
      sooner(await this.fire(schedule, due, now));
    }
    return earliest;
  }

  /**
   * The schedule's owner as they are now: a tick submits with their current rights, so an account deleted, or made
   * USER or the read-only SECRETARY since (who may not create schedules), makes no more jobs; null then.
   */
  private async ownerNow(ownerId: number | null): Promise<Actor | null> {
    if (ownerId === null) return null;
    const owner = await this.db.first<{ id: number; role: Role }>(sql.ownerRole, { id: ownerId });
    return owner && SCHEDULER_ROLES.includes(owner.role) ? owner : null;
  }

  /** Takes one due tick (if no other instance has): its job, unless the tick was missed; the next tick. */
  private async fire(schedule: Schedule, due: number, now: number): Promise<number | null> {
    let next: number | null;
    try {
      next = nextTick(parseCron(schedule.cron, schedule.timezone), now);
    } catch (error) {
      this.options.log.error({ err: error, schedule: schedule.name }, 'a stored schedule no longer parses');
      return null;
    }
    const missed = now - due > MISSED_TICK_GRACE_MS;
    const owner = await this.ownerNow(schedule.ownerId);
    const request = missed || !owner ? null : (schedule.request as JobRequest);
    const tick = { name: schedule.name, due, next, skipIfUnfinished: schedule.overlap === 'SKIP' };
    const fired = await this.options.jobs.fireSchedule(owner, request, tick);
    if (fired.advanced) {
      if (fired.job) this.options.log.info({ schedule: schedule.name, jobId: fired.job.id, tick: new Date(due).toISOString() }, 'schedule ran');
      else this.options.log.info({ schedule: schedule.name, tick: new Date(due).toISOString(), why: missed ? 'missed' : owner ? 'previous run unfinished' : 'owner deleted, or no longer a manager or admin' }, 'schedule tick skipped');
    }
    return next;
  }
}
