// Schedules: every cron schedule with its next and last tick and its latest runs, refreshed every five seconds;
// managers and admins create, pause, resume and delete them (createSchedule, pauseSchedule, resumeSchedule,
// deleteSchedule: the API's own fields). Secretaries read.
import { useState } from 'preact/hooks';
import { type ApiError, gql, type Me } from '../api';
import { Confirm, DateTime, Empty, ErrorLine, html, type JobStatus, StatusBadge, TableBox, usePolled } from '../ui';

interface Schedule {
  name: string;
  cron: string;
  timezone: string;
  queue: string;
  paused: boolean;
  overlap: 'ALLOW' | 'SKIP';
  nextRunAt: string | null;
  lastRunAt: string | null;
  owner: { username: string } | null;
  runs: { totalCount: number; edges: { node: { id: string; status: JobStatus } }[] };
}

const SCHEDULES_QUERY = '{ schedules { name cron timezone queue paused overlap nextRunAt lastRunAt owner { username } runs(first: 5) { totalCount edges { node { id status } } } } }';
/** The kinds a schedule's job may be, as JobSubmission names them (a kind file's name joins them). */
const BUILTIN_FIELDS = ['pi', 'forecast', 'calc', 'analytics'];
const EXAMPLE_INPUTS: Record<string, string> = {
  pi: '{ "simulations": 1000000 }',
  forecast: '{ "assets": [3, 14, 15] }',
  calc: '{ "expressions": ["1 + 2"] }',
  analytics: '{ "query": "GLOBAL_MEAN", "question": "…" }',
};
const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export function SchedulesView({ me }: { me: Me }) {
  const schedules = usePolled(() => gql<{ schedules: Schedule[] }>(SCHEDULES_QUERY), 5000);
  const queues = usePolled(() => gql<{ queues: { name: string }[] }>('{ queues { name } }'), 0);
  const kinds = usePolled(() => gql<{ jobKinds: { name: string }[] }>('{ jobKinds { name } }'), 0);
  const [error, setError] = useState<ApiError | null>(null);
  const [said, setSaid] = useState('');
  const [deleting, setDeleting] = useState<string | null>(null);
  const [field, setField] = useState('pi');
  const canManage = me.role === 'ADMIN' || me.role === 'MANAGER';
  const run = async (query: string, variables: Record<string, unknown>, done: string) => {
    setError(null);
    setSaid('');
    try {
      await gql(query, variables);
      setSaid(done);
      schedules.reload();
      return true;
    } catch (failure) {
      setError(failure as ApiError);
      return false;
    }
  };
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(String(data.get('input') || '{}'));
    } catch (failure) {
      return setError(new Error(`The job's input is not JSON: ${(failure as Error).message}`) as ApiError);
    }
    const queue = String(data.get('queue') || '');
    const job = { [String(data.get('kind'))]: { ...input, ...(queue ? { queue } : {}) } };
    const name = String(data.get('name'));
    const variables = { input: { name, cron: String(data.get('cron')), timezone: String(data.get('timezone') || 'UTC'), overlap: data.get('overlap'), job } };
    if (await run('mutation($input: CreateScheduleInput!) { createSchedule(input: $input) { name nextRunAt } }', variables, `Schedule ${name} created.`)) form.reset();
  };
  const list = schedules.data?.schedules ?? [];
  const fields = [...BUILTIN_FIELDS, ...(kinds.data?.jobKinds ?? []).map((kind) => kind.name).filter((name) => !BUILTIN_FIELDS.includes(name) && name !== 'diagnostic')];
  return html`<section>
    <h2>Schedules</h2>
    <${ErrorLine} error=${schedules.error ?? error} />
    <p role="status" aria-live="polite" data-schedule-outcome=${said}>${said}</p>
    ${schedules.data && list.length === 0
      ? html`<${Empty}>No schedules yet. ${canManage ? 'Create one below: a cron expression, a time zone and the job each tick submits.' : 'Managers and admins create them.'}</${Empty}>`
      : html`<${TableBox} label="Schedules"><table class="schedules">
          <thead><tr><th>Name</th><th>Cron</th><th>Time zone</th><th>Queue</th><th>State</th><th>Overlap</th><th>Next run</th><th>Last run</th><th>Recent runs</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            ${list.map(
              (schedule) => html`<tr data-schedule=${schedule.name}>
                <td>${schedule.name}${schedule.owner ? html`<br /><span class="hint">by ${schedule.owner.username}</span>` : null}</td>
                <td><code>${schedule.cron}</code></td>
                <td>${schedule.timezone}</td>
                <td>${schedule.queue}</td>
                <td><span class=${`badge ${schedule.paused ? 'status-paused' : 'status-active'}`} data-paused=${String(schedule.paused)}>${schedule.paused ? 'paused' : 'active'}</span></td>
                <td>${schedule.overlap === 'SKIP' ? 'skip' : 'allow'}</td>
                <td data-next-run=${schedule.nextRunAt ?? ''}><${DateTime} iso=${schedule.nextRunAt} /></td>
                <td><${DateTime} iso=${schedule.lastRunAt} /></td>
                <td data-runs=${schedule.runs.totalCount}>
                  ${schedule.runs.edges.length
                    ? html`<ul class="runs">${schedule.runs.edges.map(({ node }) => html`<li>#${node.id} <${StatusBadge} status=${node.status} /></li>`)}</ul>${schedule.runs.totalCount > schedule.runs.edges.length ? html`<span class="hint">of ${schedule.runs.totalCount}</span>` : null}`
                    : '—'}
                </td>
                <td class="actions">
                  ${canManage
                    ? html`<button type="button" data-schedule-toggle=${schedule.name} onClick=${() =>
                          run(`mutation($name: String!) { ${schedule.paused ? 'resumeSchedule' : 'pauseSchedule'}(name: $name) { paused } }`, { name: schedule.name }, `Schedule ${schedule.name} ${schedule.paused ? 'resumed' : 'paused'}.`)}>
                          ${schedule.paused ? 'Resume' : 'Pause'}
                        </button>
                        <button type="button" class="danger" data-schedule-delete=${schedule.name} onClick=${() => setDeleting(schedule.name)}>Delete</button>`
                    : null}
                </td>
              </tr>`,
            )}
          </tbody>
        </table></${TableBox}>`}
    ${deleting
      ? html`<${Confirm}
          message=${`Delete schedule ${deleting}? No tick runs again; the jobs it made stay.`}
          action="Delete"
          danger=${true}
          onConfirm=${() => run('mutation($name: String!) { deleteSchedule(name: $name) }', { name: deleting }, `Schedule ${deleting} deleted.`)}
          onClose=${() => setDeleting(null)}
        />`
      : null}
    ${canManage
      ? html`<form class="card grid" onSubmit=${create} aria-label="New schedule" data-schedule-form>
          <h3 class="wide">New schedule</h3>
          <label>Name <input name="name" required maxlength="64" pattern="[A-Za-z0-9._:\\-]+" placeholder="nightly-report" /></label>
          <label>Cron <input name="cron" required placeholder="0 2 * * *" /></label>
          <label>Time zone <input name="timezone" defaultValue=${browserZone} /></label>
          <label>Overlap <select name="overlap"><option value="ALLOW">allow</option><option value="SKIP">skip while the last run is unfinished</option></select></label>
          <label>Kind <select name="kind" value=${field} onChange=${(e: Event) => setField((e.target as HTMLSelectElement).value)}>${fields.map((name) => html`<option value=${name}>${name}</option>`)}</select></label>
          <label>Queue <select name="queue">${(queues.data?.queues ?? [{ name: 'default' }]).map((q) => html`<option>${q.name}</option>`)}</select></label>
          <label class="wide">The job's input (JSON) <textarea name="input" rows="3" key=${field} defaultValue=${EXAMPLE_INPUTS[field] ?? '{}'}></textarea></label>
          <p class="hint wide">5 fields (minute hour day month weekday), or 6 with seconds first. Each tick submits the job as you; delayMs in the input counts from the tick.</p>
          <div class="wide"><button type="submit">Create schedule</button></div>
        </form>`
      : null}
  </section>`;
}
