// Actions on many jobs. A target is either the ids ticked on screen (one request per job, so each refusal is told)
// or a filter ({ filter }: every job a JobFilter matches, through cancelJobs/retryJobs/deleteJobs: one request).
import { type ApiError, gql } from './api';
import { isFinal, type JobStatus } from './ui';

export interface BulkAction {
  name: 'cancel' | 'retry' | 'delete';
  label: string;
  /** "Cancelled 3 of 3 jobs". */
  past: string;
  /** Said in the confirmation, after how many. */
  explain: string;
  danger: boolean;
  /** Whether a job in `status` can take it (the others selected are left out, and the count says so). */
  applies: (status: JobStatus) => boolean;
  /** The per-job mutation, `$id` its only variable. */
  perJob: string;
  /** The filter-wide mutation, `$filter: JobFilter!` its only variable; answers how many it changed. */
  byFilter: string;
  /** The states its filter-wide mutation takes (what the confirmation counts). */
  takes: JobStatus[];
}

export const BULK_ACTIONS: BulkAction[] = [
  {
    name: 'cancel',
    label: 'Cancel',
    past: 'Cancelled',
    explain: 'Queued and running jobs stop; finished ones are left as they are.',
    danger: false,
    applies: (status) => !isFinal(status),
    perJob: 'mutation($id: ID!) { cancelJob(id: $id) { id } }',
    byFilter: 'cancelJobs',
    takes: ['QUEUED', 'RUNNING'],
  },
  {
    name: 'retry',
    label: 'Retry',
    past: 'Queued again',
    explain: 'Failed and cancelled jobs are queued again.',
    danger: false,
    applies: (status) => status === 'FAILED' || status === 'CANCELLED',
    perJob: 'mutation($id: ID!) { retryJob(id: $id) { id } }',
    byFilter: 'retryJobs',
    takes: ['FAILED', 'CANCELLED'],
  },
  {
    name: 'delete',
    label: 'Delete',
    past: 'Deleted',
    explain: 'They are gone for good, with their results and history.',
    danger: true,
    applies: (status) => status !== 'RUNNING',
    perJob: 'mutation($id: ID!) { deleteJob(id: $id) }',
    byFilter: 'deleteJobs',
    takes: ['SUCCEEDED', 'FAILED', 'CANCELLED'],
  },
];

/** The API's JobFilter: the list's filters (its search text has no JobFilter field: see filterTarget in views/jobs.ts). */
export interface JobFilter {
  queue?: string;
  status?: JobStatus;
  kind?: string;
  ownerId?: string;
}

/**
 * The ids ticked, or every job a filter matches. `statuses` narrows the filter to a set of states (the dead letters:
 * FAILED and CANCELLED), which JobFilter names one at a time: one aliased field per state, in one request.
 */
export type BulkTarget = { ids: string[] } | { filter: JobFilter; statuses?: JobStatus[] };

/** The states of `statuses` (all when left out) that `action` takes: one filter-wide call each, none when empty. */
export function statesTaken(action: BulkAction, filter: JobFilter, statuses?: JobStatus[]): (JobStatus | null)[] {
  if (filter.status) return action.takes.includes(filter.status) ? [filter.status] : [];
  if (!statuses) return [null];
  const taken = statuses.filter((status) => action.takes.includes(status));
  // Every state the action takes is asked for: one call without a status does it.
  return taken.length === action.takes.length ? [null] : taken;
}

export interface BulkOutcome {
  action: BulkAction;
  asked: number;
  done: number;
  /** Why some were refused (the API's messages, one per refused job). */
  failures: string[];
}

/** How many per-job requests are in flight at once: enough to be quick, few enough not to trip the rate limit. */
const PARALLEL = 8;

export async function runBulk(action: BulkAction, target: BulkTarget): Promise<BulkOutcome> {
  if ('filter' in target) return runByFilter(action, target.filter, target.statuses);
  const queue = [...target.ids];
  const failures: string[] = [];
  let done = 0;
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        await gql(action.perJob, { id });
        done += 1;
      } catch (error) {
        failures.push(`#${id}: ${(error as ApiError).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, target.ids.length) }, worker));
  return { action, asked: target.ids.length, done, failures };
}

/** One request: the action's filter-wide mutation once per state it takes (aliased), the counts summed. */
async function runByFilter(action: BulkAction, filter: JobFilter, statuses?: JobStatus[]): Promise<BulkOutcome> {
  const states = statesTaken(action, filter, statuses);
  if (states.length === 0) return { action, asked: 0, done: 0, failures: [] };
  const fields = states.map((_, i) => `n${i}: ${action.byFilter}(filter: $f${i})`).join(' ');
  const query = `mutation(${states.map((_, i) => `$f${i}: JobFilter!`).join(', ')}) { ${fields} }`;
  const variables = Object.fromEntries(states.map((status, i) => [`f${i}`, status ? { ...filter, status } : filter]));
  try {
    const counts = await gql<Record<string, number>>(query, variables);
    const done = Object.values(counts).reduce((sum, n) => sum + n, 0);
    return { action, asked: done, done, failures: [] };
  } catch (error) {
    return { action, asked: 0, done: 0, failures: [(error as ApiError).message] };
  }
}
