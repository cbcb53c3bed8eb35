#!/usr/bin/env bun
// `bun run jg`: jobgraph from a terminal, for people and scripts — the public GraphQL API over HTTP and graphql-ws,
// plus `admin reset-password` on the database itself. Exit codes: 0 done, 1 refused or failed, 2 a usage error.
// A token is never printed: `login` stores it (config-file.ts), --token/JOBGRAPH_TOKEN override it.
import { Command, CommanderError, Option } from 'commander';
import { configPath, forgetLogin, readSavedLogin, saveLogin } from './config-file';
import { CliError, defaultUrl, graphqlEndpoint, graphqlRequest, UsageError } from './graphql-client';
import { printTable } from './table';

const JOB_FIELDS = 'id kind status queue progress attempts error createdAt finishedAt owner { username }';
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface Connection {
  url: string;
  token: string | undefined;
}

const program = new Command('jg')
  .description('jobgraph from a terminal: submit and follow jobs, list jobs, queues, users and schedules, act on jobs one by one or by filter.')
  .addOption(new Option('--url <url>', "the server's base or /graphql URL").env('JOBGRAPH_URL'))
  .addOption(new Option('--token <token>', 'a login token (overrides the saved login; never printed)').env('JOBGRAPH_TOKEN'))
  .addHelpText('after', `\nThe saved login lives in ${configPath()} (mode 0600).\nExit codes: 0 done, 1 refused or failed (a job that failed, with --wait), 2 a usage error.`)
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

/** Where and as whom: --url/--token (or JOBGRAPH_URL/JOBGRAPH_TOKEN), else the saved login, else the local server. */
function connection(): Connection {
  const { url, token } = program.opts<{ url?: string; token?: string }>();
  const saved = readSavedLogin();
  return { url: graphqlEndpoint(url ?? saved?.url ?? defaultUrl()), token: token ?? (url && saved?.url !== graphqlEndpoint(url) ? undefined : saved?.token) };
}

function api<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const { url, token } = connection();
  return graphqlRequest<T>(url, token, { query, variables });
}

const output = (json: boolean, value: unknown, table: () => void) => (json ? console.log(JSON.stringify(value, null, 2)) : table());

const jobRows = (jobs: any[]) =>
  jobs.map((job) => ({
    id: job.id,
    kind: job.kind,
    status: job.status,
    queue: job.queue,
    owner: job.owner?.username ?? '—',
    progress: `${Math.round(job.progress * 100)}%`,
    created: new Date(job.createdAt).toLocaleString(),
  }));

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** An ISO 8601 instant as the API takes it; anything Date cannot read is a usage error. */
function instantOf(text: string, flag: string): string {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new UsageError(`${flag} is not a date and time: ${text} (try 2026-12-24T18:00:00Z)`);
  return at.toISOString();
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "500ms", "30s", "5m", "2h", "1d" or a bare number of milliseconds. */
function durationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--delay is not a duration: ${text} (try 500ms, 30s, 5m, 2h or 1d)`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!);
}

async function readStdin(): Promise<string> {
  return (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, '');
}

program
  .command('login')
  .description('Log in and save the token for the other commands')
  .requiredOption('-u, --username <name>', 'the account')
  .option('--password-stdin', 'read the password from standard input (else JOBGRAPH_PASSWORD)')
  .action(async (options: { username: string; passwordStdin?: boolean }) => {
    const password = options.passwordStdin ? await readStdin() : process.env.JOBGRAPH_PASSWORD;
    if (!password) throw new UsageError('no password: pipe it with --password-stdin or set JOBGRAPH_PASSWORD');
    const url = connection().url;
    const data = await graphqlRequest<any>(url, undefined, {
      query: 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token user { username role } } }',
      variables: { u: options.username, p: password },
    });
    const path = saveLogin({ url, token: data.login.token, username: data.login.user.username });
    console.log(`Logged in to ${url} as ${data.login.user.username} (${data.login.user.role}); token saved in ${path}`);
  });

program
  .command('logout')
  .description('Revoke the saved token and forget it')
  .action(async () => {
    if (connection().token) await api('mutation { logout }').catch(() => {});
    forgetLogin();
    console.log('Logged out.');
  });

program
  .command('submit')
  .description('Submit a job of any kind: jg submit pi --input \'{"simulations":1000000}\' (or --file input.json)')
  .argument('<kind>', 'the kind as JobSubmission names it: pi, forecast, calc, analytics, diagnostic, or your own kind')
  .option('-i, --input <json>', "the kind's input as JSON")
  .option('-f, --file <path>', "a JSON file with the kind's input")
  .option('-q, --queue <name>', 'the queue (else the input’s, else default)')
  .option('-n, --count <n>', 'how many such jobs', '1')
  .option('--run-at <instant>', 'not started before this ISO 8601 instant (2026-12-24T18:00:00Z)')
  .option('--delay <duration>', 'not started before now + this: 500ms, 30s, 5m, 2h, 1d (a bare number: ms)')
  .option('--idempotency-key <key>', 'the same key returns the job it first made (with --count N: <key>-1 … <key>-N)')
  .option('-w, --wait', 'follow the job(s) to the end with a progress bar; exit 1 unless every one succeeded')
  .option('--json', 'print the jobs as JSON')
  .action(async (kind: string, options: { input?: string; file?: string; queue?: string; count: string; runAt?: string; delay?: string; idempotencyKey?: string; wait?: boolean; json?: boolean }) => {
    if (options.input && options.file) throw new UsageError('give --input or --file, not both');
    const input = (options.file ? parseJson(await Bun.file(options.file).text().catch(() => { throw new UsageError(`cannot read ${options.file}`); }), options.file) : parseJson(options.input ?? '{}', '--input')) as Record<string, unknown>;
    if (options.queue) input.queue = options.queue;
    if (options.runAt && options.delay) throw new UsageError('give --run-at or --delay, not both');
    if (options.runAt) input.runAt = instantOf(options.runAt, '--run-at');
    if (options.delay) input.delayMs = durationMs(options.delay);
    const count = Number(options.count);
    if (!Number.isInteger(count) || count < 1) throw new UsageError('--count must be a whole number from 1');
    const key = options.idempotencyKey;
    // One key names one job: each of the N gets its own.
    const jobs = Array.from({ length: count }, (_, i) => ({ [kind]: key ? { ...input, idempotencyKey: count > 1 ? `${key}-${i + 1}` : key } : input }));
    const data = await api('mutation($jobs: [JobSubmission!]!) { submitJobs(jobs: $jobs) { ' + JOB_FIELDS + ' } }', { jobs });
    const submitted: any[] = data.submitJobs;
    if (!options.wait) return output(!!options.json, submitted, () => printTable(jobRows(submitted)));
    const finished = await follow(submitted.map((job) => job.id), true);
    output(!!options.json, finished, () => printTable(jobRows(finished)));
    if (finished.some((job) => job.status !== 'SUCCEEDED')) process.exitCode = 1;
  });

program
  .command('watch')
  .description('Follow jobs live (jobUpdated over graphql-ws) until each has finished')
  .argument('<ids...>', 'job ids')
  .option('--json', 'print the final jobs as JSON')
  .action(async (ids: string[], options: { json?: boolean }) => {
    const finished = await follow(ids, true);
    output(!!options.json, finished, () => printTable(jobRows(finished)));
    if (finished.some((job) => job.status !== 'SUCCEEDED')) process.exitCode = 1;
  });

/** Follows each job to its final state over one graphql-ws connection; with `bar`, a progress bar on stderr (redrawn in place on a terminal, a line per change otherwise). */
async function follow(ids: string[], bar: boolean): Promise<any[]> {
  const { url, token } = connection();
  // Loaded where used: most commands are one HTTP request, and a start is paid at every run of a script.
  const { createClient } = await import('graphql-ws');
  const client = createClient({ url: url.replace(/^http/, 'ws'), connectionParams: token ? { authorization: `Bearer ${token}` } : {}, webSocketImpl: WebSocket, retryAttempts: 0 });
  const latest = new Map<string, any>();
  const draw = () => {
    if (!bar) return;
    const jobs = [...latest.values()];
    const progress = jobs.reduce((sum, job) => sum + (job.status === 'SUCCEEDED' ? 1 : job.progress), 0) / Math.max(ids.length, 1);
    const done = jobs.filter((job) => FINAL.has(job.status)).length;
    const width = 30;
    const filled = Math.round(progress * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(progress * 100)).padStart(3)}% · ${done}/${ids.length} finished${ids.length === 1 && jobs[0] ? ` · ${jobs[0].status}` : ''}`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  };
  try {
    await Promise.all(
      ids.map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            client.subscribe(
              { query: `subscription($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`, variables: { id } },
              {
                next: (result) => {
                  if (result.errors?.length) return reject(new CliError(result.errors.map((e) => e.message).join('; ')));
                  const job = (result.data as any).jobUpdated;
                  const before = latest.get(id);
                  latest.set(id, job);
                  if (!before || before.status !== job.status || Math.round(before.progress * 100) !== Math.round(job.progress * 100)) draw();
                },
                error: (error) => reject(new CliError(Array.isArray(error) ? error.map((e: any) => e.message).join('; ') : `the subscription failed: ${(error as any)?.message ?? (error as any)?.reason ?? error}`)),
                complete: resolve,
              },
            );
          }),
      ),
    );
  } finally {
    if (bar && process.stderr.isTTY) process.stderr.write('\n');
    await client.dispose();
  }
  return ids.map((id) => latest.get(id));
}

program
  .command('jobs')
  .description('List jobs, newest first (a USER sees only their own)')
  .option('-s, --status <status>', 'QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED')
  .option('-k, --kind <kind>', 'PI, CALC, …')
  .option('-q, --queue <name>', 'one queue')
  .option('--search <text>', 'id, owner, queue, kind, status or text in the input')
  .option('--first <n>', 'how many (1..100)', '20')
  .option('--json', 'print JSON')
  .action(async (options: { status?: string; kind?: string; queue?: string; search?: string; first: string; json?: boolean }) => {
    const data = await api(
      `query($status: JobStatus, $kind: JobKind, $queue: String, $search: String, $first: Int) { jobs(status: $status, kind: $kind, queue: $queue, search: $search, first: $first) { totalCount edges { node { ${JOB_FIELDS} } } } }`,
      { status: options.status?.toUpperCase(), kind: options.kind?.toUpperCase(), queue: options.queue, search: options.search, first: Number(options.first) },
    );
    const jobs = data.jobs.edges.map((edge: any) => edge.node);
    output(!!options.json, jobs, () => {
      printTable(jobRows(jobs));
      console.log(`${jobs.length} of ${data.jobs.totalCount}`);
    });
  });

program
  .command('queues')
  .description('List queues')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const data = await api('{ queues { name concurrency maxLength paused } }');
    output(!!options.json, data.queues, () => printTable(data.queues));
  });

program
  .command('users')
  .description('List accounts (admins)')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const data = await api('{ users(first: 100) { edges { node { id username role disabled loginCount lastLoginAt } } } }');
    const users = data.users.edges.map((edge: any) => edge.node);
    output(!!options.json, users, () => printTable(users.map((u: any) => ({ ...u, lastLoginAt: u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : '—' }))));
  });

program
  .command('pull')
  .description('Claim the oldest queued job of a queue (managers, admins); prints it, or nothing and exit 1 when the queue is empty')
  .argument('<queue>', 'the queue')
  .action(async (queue: string) => {
    const data = await api('mutation($queue: String!) { pullJob(queue: $queue) { id kind queue input } }', { queue });
    if (!data.pullJob) throw new CliError(`queue "${queue}" has no queued job`);
    console.log(JSON.stringify(data.pullJob, null, 2));
  });

program
  .command('complete')
  .description('Complete a job you pulled, with its result as JSON')
  .argument('<id>', 'the job')
  .requiredOption('-r, --result <json>', "the result, in the shape of the job kind's result")
  .action(async (id: string, options: { result: string }) => {
    const data = await api('mutation($id: ID!, $result: JSON!) { completeJob(id: $id, result: $result) { id status } }', { id, result: parseJson(options.result, '--result') });
    console.log(`${data.completeJob.id} ${data.completeJob.status}`);
  });

// Whole documents, never assembled at run time: persisted-operations.json lists each (PERSISTED_ONLY).
const BULK_COMMANDS = [
  {
    name: 'cancel',
    perJob: 'mutation($id: ID!) { cancelJob(id: $id) { id status } }',
    byFilter: 'mutation($filter: JobFilter!) { count: cancelJobs(filter: $filter) }',
    mutation: 'cancelJobs',
    done: 'cancelled',
    description: 'Cancel queued or running jobs',
  },
  {
    name: 'retry',
    perJob: 'mutation($id: ID!) { retryJob(id: $id) { id status } }',
    byFilter: 'mutation($filter: JobFilter!) { count: retryJobs(filter: $filter) }',
    mutation: 'retryJobs',
    done: 'queued again',
    description: 'Queue failed or cancelled jobs (the dead letters) again',
  },
  {
    name: 'delete',
    perJob: 'mutation($id: ID!) { deleteJob(id: $id) }',
    byFilter: 'mutation($filter: JobFilter!) { count: deleteJobs(filter: $filter) }',
    mutation: 'deleteJobs',
    done: 'deleted',
    description: 'Delete finished jobs',
  },
] as const;

interface FilterOptions {
  queue?: string;
  status?: string;
  kind?: string;
  owner?: string;
  all?: boolean;
}

for (const command of BULK_COMMANDS) {
  program
    .command(command.name)
    .description(`${command.description}: by id (one request each), or every job a filter matches (${command.mutation}: one request)`)
    .argument('[ids...]', 'job ids (with a filter flag: only these, if they match)')
    .option('-q, --queue <name>', 'every matching job of this queue')
    .option('-s, --status <status>', 'only jobs in this state (among those the action takes)')
    .option('-k, --kind <kind>', 'only jobs of this kind (PI, CALC, …)')
    .option('--owner <id>', "only this user's jobs (a user id; managers and admins)")
    .option('--all', 'every job you may act on (no other filter)')
    .option('--json', 'print {"count": N} (filter) or the ids done (by id) as JSON')
    .addHelpText('after', `\nExamples:\n  jg ${command.name} 12 13\n  jg ${command.name} --queue emails${command.name === 'retry' ? ' --status failed' : ''}\n  jg ${command.name} --all`)
    .action(async (ids: string[], options: FilterOptions & { json?: boolean }) => {
      const filtered = Boolean(options.queue || options.status || options.kind || options.owner || options.all);
      if (!filtered && ids.length === 0) throw new UsageError(`give job ids, a filter (--queue, --status, --kind, --owner) or --all`);
      if (filtered) {
        const filter = {
          ...(ids.length ? { ids } : {}),
          queue: options.queue,
          status: options.status?.toUpperCase(),
          kind: options.kind?.toUpperCase(),
          ownerId: options.owner,
        };
        const data = await api(command.byFilter, { filter });
        return output(!!options.json, { count: data.count }, () => console.log(`${data.count} job${data.count === 1 ? '' : 's'} ${command.done}`));
      }
      let failed = 0;
      const done: string[] = [];
      for (const id of ids) {
        try {
          await api(command.perJob, { id });
          done.push(id);
          if (!options.json) console.log(`${id} ${command.done}`);
        } catch (error) {
          failed += 1;
          console.error(`${id}: ${(error as Error).message}`);
        }
      }
      if (options.json) console.log(JSON.stringify(done));
      if (failed) process.exitCode = 1;
    });
}

const SCHEDULE_FIELDS = 'name cron timezone queue paused overlap nextRunAt lastRunAt owner { username } runs(first: 5) { totalCount edges { node { id status } } }';
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');
const scheduleRow = (schedule: any) => ({
  name: schedule.name,
  cron: schedule.cron,
  timezone: schedule.timezone,
  queue: schedule.queue,
  state: schedule.paused ? 'paused' : 'active',
  overlap: schedule.overlap.toLowerCase(),
  next: when(schedule.nextRunAt),
  last: when(schedule.lastRunAt),
  runs: schedule.runs.totalCount,
});

const schedules = program.command('schedules').description('Cron schedules: list them (managers, admins, secretaries), create, pause, resume or delete one (managers, admins)');
schedules
  .command('list', { isDefault: true })
  .description('List schedules with their next and last run')
  .option('--json', 'print JSON (with the five latest runs of each)')
  .action(async (options: { json?: boolean }) => {
    const data = await api(`{ schedules { ${SCHEDULE_FIELDS} } }`);
    output(!!options.json, data.schedules, () => printTable(data.schedules.map(scheduleRow)));
  });
schedules
  .command('create')
  .description('Create a schedule: jg schedules create nightly --cron "0 2 * * *" --tz Europe/Paris pi --input \'{"simulations":1000000}\'')
  .argument('<name>', '1 to 64 letters, digits, ".", "_", ":" or "-"')
  .argument('<kind>', 'the kind of job each tick submits, as JobSubmission names it: pi, forecast, calc, analytics, or your own')
  .requiredOption('-c, --cron <expression>', '5 fields, or 6 with seconds first')
  .option('--tz <zone>', 'an IANA time zone', 'UTC')
  .option('-i, --input <json>', "the kind's input as JSON", '{}')
  .option('-q, --queue <name>', 'the queue its jobs go to')
  .option('--skip-overlap', 'no new run while the previous one is unfinished (overlap: SKIP)')
  .option('--json', 'print the schedule as JSON')
  .action(async (name: string, kind: string, options: { cron: string; tz: string; input: string; queue?: string; skipOverlap?: boolean; json?: boolean }) => {
    const input = parseJson(options.input, '--input') as Record<string, unknown>;
    if (options.queue) input.queue = options.queue;
    const data = await api(`mutation($input: CreateScheduleInput!) { createSchedule(input: $input) { ${SCHEDULE_FIELDS} } }`, {
      input: { name, cron: options.cron, timezone: options.tz, overlap: options.skipOverlap ? 'SKIP' : 'ALLOW', job: { [kind]: input } },
    });
    output(!!options.json, data.createSchedule, () => console.log(`Schedule ${name} created; next run ${when(data.createSchedule.nextRunAt)}`));
  });
// Whole documents, never assembled at run time: persisted-operations.json lists each (PERSISTED_ONLY).
for (const [verb, document, done] of [
  ['pause', 'mutation($name: String!) { pauseSchedule(name: $name) { name } }', 'paused'],
  ['resume', 'mutation($name: String!) { resumeSchedule(name: $name) { name nextRunAt } }', 'resumed'],
  ['delete', 'mutation($name: String!) { deleteSchedule(name: $name) }', 'deleted (its jobs stay)'],
] as const) {
  schedules
    .command(verb)
    .description(`${verb[0]!.toUpperCase()}${verb.slice(1)} a schedule`)
    .argument('<name>', 'the schedule')
    .action(async (name: string) => {
      await api(document, { name });
      console.log(`Schedule ${name} ${done}`);
    });
}

const admin = program.command('admin').description('Work on the database directly (the server need not run; on SQLite it must not)');
admin
  .command('reset-password')
  .description('Set a new password for an account (and enable it), ending its sessions; for when nobody can log in. Reads DATABASE_PATH / DATABASE_URL like the server.')
  .argument('<username>', 'the account')
  .option('--password-stdin', 'read the new password from standard input (else one is generated and printed once)')
  .action(async (username: string, options: { passwordStdin?: boolean }) => {
    // The database layer is loaded only here: every other command speaks HTTP.
    const { resetPassword } = await import('./admin');
    const { generated } = await resetPassword(username, options.passwordStdin ? await readStdin() : undefined);
    console.log(generated ? `New password for ${username} (shown once): ${generated}` : `Password of ${username} reset.`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  const message = error instanceof Error ? error.message : String(error);
  console.error(`jg: ${message.split('\n')[0]}`);
  process.exit(error instanceof UsageError ? 2 : 1);
}
// Nothing left to wait for (keep-alive sockets).
process.exit(process.exitCode ?? 0);
