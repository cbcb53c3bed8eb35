// The documents jobgraph's own clients send (the dashboard's, GraphiQL's examples), with the variables they declare:
// what an attacker would pick to poison, and what the cross-caller test replays.
import { readFileSync } from 'node:fs';
import { GRAPHIQL_EXAMPLES } from '../../src/http/graphiql';

/** A selection the dashboard declares as a constant (its modules need a browser to import), read from its source. */
function dashboardConstant(file: string, name: string): string {
  const source = readFileSync(new URL(`../../dashboard/${file}`, import.meta.url), 'utf8');
  const found = new RegExp(`const ${name} = (['\`])([\\s\\S]*?)\\1;`).exec(source);
  if (!found) throw new Error(`dashboard/${file} no longer declares ${name}`);
  return found[2]!;
}
const JOB_FIELDS = dashboardConstant('ui.ts', 'JOB_FIELDS');
const RESULT_FIELDS = dashboardConstant('views/jobs.ts', 'RESULT_FIELDS');

export interface ClientDocument {
  query: string;
  operationName?: string;
  /** The variables the operation declares, by name, with a value its client would send. */
  variables: Record<string, unknown>;
}

export const OBESITY = 'Percent of adults aged 18 years and older who have obesity';

export const DASHBOARD_DOCUMENTS: ClientDocument[] = [
  { query: '{ me { id username role } }', variables: {} },
  {
    query: `query Jobs($first: Int, $after: String, $status: JobStatus, $kind: JobKind, $queue: String, $owner: ID) {
  jobs(first: $first, after: $after, status: $status, kind: $kind, queue: $queue, owner: $owner) {
    totalCount edges { node { ${JOB_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`,
    variables: { first: 20, status: 'SUCCEEDED' },
  },
  { query: `query($id: ID!) { job(id: $id) { input error attempts maxAttempts events { type at payload } ${RESULT_FIELDS} } }`, variables: { id: '1' } },
  {
    query: `query($question: String!, $yearFrom: Int, $yearTo: Int) { analytics {
  statesMean(question: $question, yearFrom: $yearFrom, yearTo: $yearTo) { state value }
  best5(question: $question, yearFrom: $yearFrom, yearTo: $yearTo) { state value }
  worst5(question: $question, yearFrom: $yearFrom, yearTo: $yearTo) { state value }
  globalMean(question: $question, yearFrom: $yearFrom, yearTo: $yearTo)
} }`,
    variables: { question: OBESITY, yearFrom: 2011, yearTo: 2021 },
  },
  { query: '{ analytics { questions { text direction } } }', variables: {} },
  { query: '{ loginStats { username loginCount lastLoginAt } }', variables: {} },
  { query: '{ queues { name concurrency maxLength paused counts { queued running succeeded failed } } }', variables: {} },
  { query: 'mutation($name: String!) { pauseQueue(name: $name) { paused } }', variables: { name: 'default' } },
  { query: `mutation($input: DiagnosticJobInput!, $count: Int) { submitDiagnosticJobs(input: $input, count: $count) { ${JOB_FIELDS} } }`, variables: { input: { behavior: 'SUCCEED' }, count: 1 } },
  // The repro.
  { query: 'query P($id:ID!){job(id:$id){id status}}', variables: { id: '1' } },
];

/** GraphiQL's example operations that answer at once (no long computation, no upstream, no subscription). */
export const GRAPHIQL_DOCUMENTS: ClientDocument[] = ['Me', 'RecentJobs', 'Queues', 'WorkerPool', 'Forecast', 'Evaluate', 'Questions', 'Best5', 'Users'].map((operationName) => ({
  query: GRAPHIQL_EXAMPLES,
  operationName,
  variables: {},
}));
