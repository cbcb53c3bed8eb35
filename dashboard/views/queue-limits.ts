// A queue's rate limit and retention: how the Queues view shows them and the Edit form's fields for them
// (updateQueue's `rateLimit` and `retention`; an empty field group sends null, which removes the setting).
import { html } from '../ui';

export interface QueueLimits {
  rateLimit: { jobs: number; perSeconds: number } | null;
  retention: { succeededSeconds: number | null; failedSeconds: number | null; cancelledSeconds: number | null } | null;
}

export const QUEUE_LIMIT_FIELDS = 'rateLimit { jobs perSeconds } retention { succeededSeconds failedSeconds cancelledSeconds }';

const RETENTION_STATES = [
  ['succeededSeconds', 'succeeded'],
  ['failedSeconds', 'failed'],
  ['cancelledSeconds', 'cancelled'],
] as const;

/** 90 → "90 s", 86400 → "1 d", 5400 → "1.5 h". */
export function formatSeconds(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['min', 60]] as const) if (seconds >= size) return `${+(seconds / size).toFixed(1)} ${unit}`;
  return `${seconds} s`;
}

/** The table cell: "10 / 60 s · keeps succeeded 1 d, failed 7 d". */
export const QueueLimitsCell = ({ queue }: { queue: QueueLimits }) => {
  const rate = queue.rateLimit ? `${queue.rateLimit.jobs} per ${formatSeconds(queue.rateLimit.perSeconds)}` : 'no rate limit';
  const kept = RETENTION_STATES.filter(([field]) => queue.retention?.[field] != null).map(([field, label]) => `${label} ${formatSeconds(queue.retention![field]!)}`);
  return html`<span data-rate-limit=${queue.rateLimit ? `${queue.rateLimit.jobs}/${queue.rateLimit.perSeconds}` : ''}>${rate}</span><br /><span class="hint" data-retention=${kept.join(', ')}>${kept.length ? `keeps ${kept.join(', ')}` : 'keeps finished jobs (default)'}</span>`;
};

/** The Edit form's inputs, filled with the queue's settings. */
export const QueueLimitsFields = ({ queue }: { queue: QueueLimits }) => html`
  <label>Rate: jobs <input name="rateJobs" type="number" min="1" max="1000000" defaultValue=${queue.rateLimit?.jobs ?? ''} placeholder="no limit" /></label>
  <label>per (s) <input name="ratePerSeconds" type="number" min="1" max="86400" defaultValue=${queue.rateLimit?.perSeconds ?? ''} /></label>
  ${RETENTION_STATES.map(
    ([field, label]) => html`<label>Keep ${label} (s) <input name=${field} type="number" min="1" max="315360000" defaultValue=${queue.retention?.[field] ?? ''} placeholder="default" /></label>`,
  )}`;

/** updateQueue's rateLimit and retention from the form: null where its fields are empty. */
export function limitsInput(data: FormData): { rateLimit: { jobs: number; perSeconds: number } | null; retention: Record<string, number | null> | null } {
  const number = (name: string) => (data.get(name) ? Number(data.get(name)) : null);
  const jobs = number('rateJobs');
  const perSeconds = number('ratePerSeconds');
  const retention = Object.fromEntries(RETENTION_STATES.map(([field]) => [field, number(field)]));
  return {
    // One of the two alone reaches the API as it is, which names the missing field.
    rateLimit: jobs === null && perSeconds === null ? null : ({ jobs, perSeconds } as { jobs: number; perSeconds: number }),
    retention: Object.values(retention).every((value) => value === null) ? null : retention,
  };
}
