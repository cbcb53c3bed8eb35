// `bun run calc <operations-file> [--out results.txt] [--url http://127.0.0.1:4000] [--token T]`
// Submits the file as a calc job (a GraphQL multipart upload), shows a progress bar fed by the jobUpdated
// subscription, and writes one line per input line: the value, or `error: …`.
// The token comes from --token or JOBGRAPH_TOKEN, or --username/--password (JOBGRAPH_PASSWORD) to log in.
// The run is mostly the server's work: the WebSocket handshake overlaps the upload, and the result file comes in
// the subscription's last event (no second request, no read back from the database).
import { isatty } from 'node:tty';
import {
  CliError,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  defaultUrl,
  graphqlEndpoint,
  graphqlRequest,
  parseCommandLine,
  runTool,
  SubscriptionSocket,
  tokenFor,
  UsageError,
} from '../cli/graphql-client';
import { toPythonOutput } from './python-format';

const USAGE = 'usage: bun run calc <operations-file> [--out results.txt] [--format js|python] [--url URL] [--token TOKEN | --username NAME --password PW] [--queue NAME]';

export interface CalcCliOptions {
  file: string;
  out?: string;
  /** The server's base URL or its `/graphql` URL. */
  url: string;
  token?: string;
  username?: string;
  password?: string;
  queue?: string;
  /** How numbers are written: `js` (shortest round-trip, `3819`) or `python` (as the source wrote them, `3819.0`). */
  format?: OutputFormat;
  /** Where the progress bar goes (stderr by default): the bar's line, whether it is the last, and the fraction done. */
  progress?: (line: string, final: boolean, fraction: number) => void;
}

interface JobUpdate {
  status: string;
  progress: number;
  error: string | null;
  result: { count: number; errors: number; output: string } | null;
}

export type OutputFormat = 'js' | 'python';
const FORMATS: readonly OutputFormat[] = ['js', 'python'];

const SUBMIT = 'mutation($file: File!, $queue: String) { submitCalcJob(input: { file: $file, queue: $queue }) { id } }';
// The result (megabytes) is selected too: only the final event of a succeeded job has one.
const WATCH = 'subscription($id: ID!) { jobUpdated(id: $id) { status progress error result { ... on CalcBatchResult { count errors output } } } }';
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

function progressBar(fraction: number, width = 30): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}

// Bun's own stderr writer: touching `process.stderr` loads Node's stream modules, ~25 ms of start-up.
const stderr = Bun.stderr.writer();
const onTerminal = isatty(2);

const drawOnStderr = (line: string, final: boolean) => {
  // A terminal gets a bar redrawn in place; a pipe or file only the final line.
  if (onTerminal) stderr.write(`\r${line}${final ? '\n' : ''}`);
  else if (final) stderr.write(`${line}\n`);
  stderr.flush();
};

/** Runs the whole flow; returns the result's counts. */
export async function runCalcCli(options: CalcCliOptions): Promise<{ jobId: string; count: number; errors: number }> {
  const show = options.progress ?? drawOnStderr;
  const url = graphqlEndpoint(options.url);
  const file = Bun.file(options.file);
  if (!(await file.exists())) throw new CliError(`no such file: ${options.file}`);

  const token = await tokenFor(url, options);
  const socket = new SubscriptionSocket(url, token);
  try {
    // The GraphQL multipart request spec: the operation, a map from file field to variable path, then the file.
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: SUBMIT, variables: { file: null, queue: options.queue ?? null } }));
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', file, options.file.split('/').pop());
    const jobId = (await graphqlRequest<{ submitCalcJob: { id: string } }>(url, token, form)).submitCalcJob.id;

    let last: JobUpdate | undefined;
    await socket.subscribe<{ jobUpdated: JobUpdate }>(WATCH, { id: jobId }, ({ jobUpdated }) => {
      last = jobUpdated;
      const final = FINAL.has(last.status);
      const fraction = final && last.status === 'SUCCEEDED' ? 1 : last.progress;
      show(`job ${jobId} ${progressBar(fraction)} ${last.status.toLowerCase()}`, final, fraction);
    });
    if (!last) throw new CliError('the subscription ended without news of the job');
    if (last.status !== 'SUCCEEDED') throw new CliError(`job ${jobId} ${last.status.toLowerCase()}: ${last.error ?? 'no reason given'}`);
    if (!last.result) throw new CliError(`job ${jobId} succeeded without a result`);

    const { count, errors, output } = last.result;
    await Bun.write(options.out ?? Bun.stdout, options.format === 'python' ? toPythonOutput(output) : output);
    return { jobId, count, errors };
  } finally {
    socket.close();
  }
}

const CALC_OPTIONS = { ...CONNECTION_OPTIONS, out: { type: 'string', short: 'o' }, queue: { type: 'string' }, format: { type: 'string' } } as const;

function calcCommandLine(args: string[]) {
  const { values, positionals } = parseCommandLine(args, CALC_OPTIONS, true);
  if (values.help) return null;
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one operations file, not ${positionals.length}` : 'no operations file given');
  const token = values.token ?? process.env.JOBGRAPH_TOKEN;
  if (!token && !values.username) throw new UsageError('no token: pass --token, set JOBGRAPH_TOKEN, or give --username and --password');
  const url = values.url ?? defaultUrl();
  graphqlEndpoint(url);
  const format = (values.format ?? 'js') as OutputFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format is js or python, not ${values.format}`);
  return {
    file: positionals[0]!,
    out: values.out,
    url,
    token,
    username: values.username,
    password: values.password ?? process.env.JOBGRAPH_PASSWORD,
    queue: values.queue,
    format,
  };
}

if (import.meta.main) {
  await runTool('calc', USAGE, async () => {
    const options = calcCommandLine(Bun.argv.slice(2));
    if (!options) {
      return console.log(`${USAGE}
Submits the file (one arithmetic expression per line) as a calc job, shows its progress, and writes one result
line per input line: the value, or "error: …".
  --out FILE           write the results there (default: stdout)
  --queue NAME         the queue to submit to (default: default)
  --format js|python   numbers as JavaScript writes them (3819, the default) or as the source's Python did (3819.0)${CONNECTION_HELP}`);
    }
    const summary = await runCalcCli(options);
    console.error(
      `${summary.count} expressions, ${summary.errors} errors, job ${summary.jobId}, ${(performance.now() / 1000).toFixed(2)} s` +
        (options.out ? ` → ${options.out}` : ''),
    );
  });
}
