// `bun run calc <operations-file> [--out results.txt] [--url http://127.0.0.1:4000/graphql] [--token T]`
// Submits the file as a calc job (a GraphQL multipart upload), shows a progress bar fed by the jobUpdated
// subscription, and writes one line per input line: the value, or `error: …`.
// The token comes from --token or JOBGRAPH_TOKEN, or --username/--password (JOBGRAPH_PASSWORD) to log in.
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import { CliError, defaultUrl, graphqlRequest, tokenFor } from '../cli/graphql-client';

const USAGE = 'usage: bun run calc <operations-file> [--out results.txt] [--url URL] [--token TOKEN | --username NAME --password PW] [--queue NAME]';

export interface CalcCliOptions {
  file: string;
  out?: string;
  url: string;
  token?: string;
  username?: string;
  password?: string;
  queue?: string;
  /** Where the progress bar goes (stderr by default). */
  progress?: (line: string, final: boolean) => void;
}

function progressBar(fraction: number, width = 30): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}

/** Runs the whole flow; returns the result's counts. */
export async function runCalcCli(options: CalcCliOptions): Promise<{ jobId: string; count: number; errors: number }> {
  const show = options.progress ?? ((line, final) => process.stderr.write(process.stderr.isTTY ? `\r${line}${final ? '\n' : ''}` : final ? `${line}\n` : ''));
  const file = Bun.file(options.file);
  if (!(await file.exists())) throw new CliError(`no such file: ${options.file}`);

  const token = await tokenFor(options.url, options);

  // The GraphQL multipart request spec: the operation, a map from file field to variable path, then the file.
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation($file: File!, $queue: String) { submitCalcJob(input: { file: $file, queue: $queue }) { id } }',
      variables: { file: null, queue: options.queue ?? null },
    }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', file, options.file.split('/').pop());
  const submitted = await graphqlRequest(options.url, token, form);
  const jobId = submitted.submitCalcJob.id as string;

  const client = createClient({ url: options.url.replace(/^http/, 'ws'), connectionParams: { authorization: `Bearer ${token}` }, lazy: false, retryAttempts: 0 });
  try {
    const final = await new Promise<{ status: string; error: string | null }>((resolve, reject) => {
      let last: { status: string; error: string | null } | undefined;
      client.subscribe<{ jobUpdated: { status: string; progress: number; error: string | null } }>(
        { query: 'subscription($id: ID!) { jobUpdated(id: $id) { status progress error } }', variables: { id: jobId } },
        {
          next: ({ data, errors }) => {
            if (errors?.length) return reject(new CliError(errors.map((e) => e.message).join('; ')));
            last = data!.jobUpdated;
            const done = ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(last.status);
            show(`job ${jobId} ${progressBar(done && last.status === 'SUCCEEDED' ? 1 : data!.jobUpdated.progress)} ${last.status.toLowerCase()}`, done);
          },
          error: (error) => reject(error instanceof Error ? error : new CliError(`subscription failed: ${JSON.stringify(error)}`)),
          complete: () => (last ? resolve(last) : reject(new CliError('the subscription ended without news of the job'))),
        },
      );
    });
    if (final.status !== 'SUCCEEDED') throw new CliError(`job ${jobId} ${final.status.toLowerCase()}: ${final.error ?? 'no reason given'}`);
  } finally {
    await client.dispose();
  }

  const result = await graphqlRequest(options.url, token, {
    query: 'query($id: ID!) { job(id: $id) { result { ... on CalcBatchResult { count errors output } } } }',
    variables: { id: jobId },
  });
  const { count, errors, output } = result.job.result as { count: number; errors: number; output: string };
  if (options.out) await Bun.write(options.out, output);
  else process.stdout.write(output);
  return { jobId, count, errors };
}

if (import.meta.main) {
  try {
    const { values, positionals } = parseArgs({
      args: Bun.argv.slice(2),
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        url: { type: 'string' },
        token: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        queue: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || positionals.length !== 1) {
      console.error(USAGE);
      process.exit(values.help ? 0 : 2);
    }
    const started = performance.now();
    const summary = await runCalcCli({
      file: positionals[0]!,
      out: values.out,
      url: values.url ?? defaultUrl(),
      token: values.token ?? process.env.JOBGRAPH_TOKEN,
      username: values.username,
      password: values.password ?? process.env.JOBGRAPH_PASSWORD,
      queue: values.queue,
    });
    console.error(
      `${summary.count} expressions, ${summary.errors} errors, job ${summary.jobId}, ${((performance.now() - started) / 1000).toFixed(2)} s` +
        (values.out ? ` → ${values.out}` : ''),
    );
  } catch (error) {
    console.error(`calc: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
