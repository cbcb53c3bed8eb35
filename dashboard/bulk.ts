// Actions on many jobs. A target is the ids ticked on screen; the filter-wide target ({ filter }: every job a
// JobFilter matches, through cancelJobs/retryJobs/deleteJobs) plugs in here as a second branch of runBulk, one
// request instead of one per job, once the API has them.
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
  },
  {
    name: 'retry',
    label: 'Retry',
    past: 'Queued again',
    explain: 'Failed and cancelled jobs are queued again.',
    danger: false,
    applies: (status) => status === 'FAILED' || status === 'CANCELLED',
    perJob: 'mutation($id: ID!) { retryJob(id: $id) { id } }',
  },
  {
    name: 'delete',
    label: 'Delete',
    past: 'Deleted',
    explain: 'They are gone for good, with their results and history.',
    danger: true,
    applies: (status) => status !== 'RUNNING',
    perJob: 'mutation($id: ID!) { deleteJob(id: $id) }',
  },
];

export type BulkTarget = { ids: string[] };

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
