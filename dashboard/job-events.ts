// The job event log, followed live with its cursor (docs/events.md): after a dropped connection the subscription is
// made again from the last cursor received, so nothing in between is missed and nothing is heard twice.
import { gql, subscribe } from './api';

export interface JobEventRow {
  cursor: string;
  type: string;
  job: { id: string };
}

/**
 * Calls `onEvent` for every job event from now on (of the jobs the signed-in account may see), resuming from the
 * last cursor after an error; returns the stop function.
 */
export function followJobEvents(onEvent: (event: JobEventRow) => void): () => void {
  let last: string | null | undefined;
  let stop = () => {};
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const start = async () => {
    if (stopped) return;
    try {
      // "Now": the newest event of the newest job (a subscription without a cursor would replay the whole log).
      if (last === undefined) {
        const newest = await gql<{ jobs: { edges: { node: { events: { cursor: string }[] } }[] } }>('{ jobs(first: 1) { edges { node { events { cursor } } } } }');
        last = newest.jobs.edges[0]?.node.events.at(-1)?.cursor ?? null;
      }
    } catch {
      retry = setTimeout(start, 2_000);
      return;
    }
    if (stopped) return;
    stop = subscribe<{ jobEvents: JobEventRow }>(
      'subscription($after: String) { jobEvents(after: $after) { cursor type job { id } } }',
      { after: last },
      ({ jobEvents }) => {
        last = jobEvents.cursor;
        onEvent(jobEvents);
      },
      () => {
        stop();
        if (!stopped) retry = setTimeout(start, 2_000);
      },
    );
  };
  void start();
  return () => {
    stopped = true;
    clearTimeout(retry);
    stop();
  };
}
