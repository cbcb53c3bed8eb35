// Jobs: filters, pages with totals, each row live (status, progress, duration), the actions the role allows, and
// one job's input, result and history.
import { useMemo, useState } from 'preact/hooks';
import { type ApiError, gql, type Me } from '../api';
import { ErrorLine, formatTime, html, isFinal, JOB_FIELDS, JOB_KINDS, JOB_STATUSES, type JobRow, jobDuration, ProgressBar, progressOf, StatusBadge, usePolled, useLiveJob, useTicker } from '../ui';

const PAGE_SIZE = 20;
/** Counts the list's reads (see the rows' keys). */
let reads = 0;

interface Page {
  jobs: { totalCount: number; edges: { node: JobRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const JOBS_QUERY = `query Jobs($first: Int, $after: String, $status: JobStatus, $kind: JobKind, $queue: String, $owner: ID) {
  jobs(first: $first, after: $after, status: $status, kind: $kind, queue: $queue, owner: $owner) {
    totalCount edges { node { ${JOB_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;

const RESULT_FIELDS = `result {
  __typename
  ... on PiEstimate { pi simulations concurrency seconds }
  ... on Forecast { seed forecasts { asset value weight } }
  ... on CalcBatchResult { count errors results(offset: 0, limit: 20) { line expression value error } }
  ... on AnalyticsResult { query question state data }
  ... on DiagnosticResult { behavior elapsedMs }
}`;

interface Filters {
  queue: string;
  status: string;
  kind: string;
  owner: string;
}

export function JobsView({ me }: { me: Me }) {
  const [filters, setFilters] = useState<Filters>({ queue: '', status: '', kind: '', owner: '' });
  // The cursors of the pages before this one: Previous pops one.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [selected, setSelected] = useState<string | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const after = cursors.at(-1) ?? null;
  const variables = {
    first: PAGE_SIZE,
    after,
    status: filters.status || null,
    kind: filters.kind || null,
    queue: filters.queue || null,
    owner: filters.owner || null,
  };
  const page = usePolled(() => gql<Page>(JOBS_QUERY, variables), 0, [JSON.stringify(variables)]);
  const queues = usePolled(() => gql<{ queues: { name: string }[] }>('{ queues { name } }'), 0);
  const users = usePolled(
    () => (me.role === 'ADMIN' ? gql<{ users: { edges: { node: { id: string; username: string } }[] } }>('{ users(first: 100) { edges { node { id username } } } }') : Promise.resolve(null)),
    0,
  );
  const setFilter = (name: keyof Filters) => (event: Event) => {
    setFilters({ ...filters, [name]: (event.target as HTMLSelectElement).value });
    setCursors([null]);
  };
  const act = async (query: string, id: string, reload: boolean) => {
    setActionError(null);
    try {
      await gql(query, { id });
      if (reload) page.reload();
    } catch (error) {
      setActionError(error as ApiError);
    }
  };

  const readNumber = useMemo(() => ++reads, [page.data]);
  const total = page.data?.jobs.totalCount ?? 0;
  const pageNumber = cursors.length;
  const select = (name: keyof Filters, label: string, options: string[]) =>
    html`<label>${label} <select name=${name} value=${filters[name]} onChange=${setFilter(name)}><option value="">all</option>${options.map((o) => html`<option value=${o}>${o}</option>`)}</select></label>`;
  return html`<section>
    <h2>Jobs</h2>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      ${select('queue', 'Queue', queues.data?.queues.map((q) => q.name) ?? [])}
      ${select('status', 'Status', JOB_STATUSES)}
      ${select('kind', 'Kind', JOB_KINDS)}
      ${me.role === 'ADMIN'
        ? html`<label>Owner <select name="owner" value=${filters.owner} onChange=${setFilter('owner')}><option value="">all</option>${(users.data?.users.edges ?? []).map(
            ({ node }) => html`<option value=${node.id}>${node.username}</option>`,
          )}</select></label>`
        : me.role === 'MANAGER'
          ? html`<label>Owner id <input name="owner" size="4" value=${filters.owner} onChange=${setFilter('owner')} /></label>`
          : null}
      <button type="button" onClick=${page.reload}>Refresh</button>
    </form>
    <${ErrorLine} error=${page.error ?? actionError} />
    <table class="jobs">
      <thead><tr><th>#</th><th>Kind</th><th>Queue</th><th>Owner</th><th>Status</th><th>Progress</th><th>Duration</th><th>Created</th><th></th></tr></thead>
      <tbody>
        ${(page.data?.jobs.edges ?? []).map(
          // Keyed by the read too: a row read again (after a retry, say) starts following its job afresh.
          ({ node }) => html`<${JobLine} key=${`${node.id}:${readNumber}`} initial=${node} open=${selected === node.id} onToggle=${() => setSelected(selected === node.id ? null : node.id)} act=${act} />`,
        )}
      </tbody>
    </table>
    <p class="pager">
      <button disabled=${pageNumber === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>‹ Previous</button>
      <span data-total=${total}>Page ${pageNumber} of ${Math.max(1, Math.ceil(total / PAGE_SIZE))} · ${total} job${total === 1 ? '' : 's'}</span>
      <button disabled=${!page.data?.jobs.pageInfo.hasNextPage} onClick=${() => setCursors([...cursors, page.data!.jobs.pageInfo.endCursor])}>Next ›</button>
    </p>
  </section>`;
}

type Act = (query: string, id: string, reload: boolean) => Promise<void>;

function JobLine({ initial, open, onToggle, act }: { initial: JobRow; open: boolean; onToggle: () => void; act: Act }) {
  const { job } = useLiveJob(initial);
  const now = useTicker(500, job.status === 'RUNNING');
  return html`<tr data-job=${job.id} class=${open ? 'open' : ''}>
      <td><button class="link" onClick=${onToggle} title="Details">${job.id}</button></td>
      <td>${job.kind}</td>
      <td>${job.queue}</td>
      <td>${job.owner?.username ?? '—'}</td>
      <td><${StatusBadge} status=${job.status} /></td>
      <td><${ProgressBar} value=${progressOf(job)} /></td>
      <td class="num">${jobDuration(job, now)}</td>
      <td>${formatTime(job.createdAt)}</td>
      <td class="actions">
        ${!isFinal(job.status) ? html`<button onClick=${() => act('mutation($id: ID!) { cancelJob(id: $id) { id status } }', job.id, false)}>Cancel</button>` : null}
        ${job.status === 'FAILED' || job.status === 'CANCELLED' ? html`<button onClick=${() => act('mutation($id: ID!) { retryJob(id: $id) { id status } }', job.id, true)}>Retry</button>` : null}
        ${job.status !== 'RUNNING' ? html`<button class="danger" onClick=${() => confirm(`Delete job ${job.id}?`) && act('mutation($id: ID!) { deleteJob(id: $id) }', job.id, true)}>Delete</button>` : null}
      </td>
    </tr>
    ${open ? html`<tr class="detail"><td colspan="9"><${JobDetail} id=${job.id} status=${job.status} /></td></tr>` : null}`;
}

interface Detail {
  job: { input: unknown; error: string | null; attempts: number; maxAttempts: number; events: { type: string; at: string; payload: unknown }[]; result: unknown } | null;
}

function JobDetail({ id, status }: { id: string; status: string }) {
  // Read again when the status changes: a finished job has its result and its last events.
  const detail = usePolled(() => gql<Detail>(`query($id: ID!) { job(id: $id) { input error attempts maxAttempts events { type at payload } ${RESULT_FIELDS} } }`, { id }), 0, [id, status]);
  const job = detail.data?.job;
  if (detail.error) return html`<${ErrorLine} error=${detail.error} />`;
  if (!job) return html`<p>Loading…</p>`;
  return html`<div class="job-detail">
    <div><h4>Input</h4><pre>${JSON.stringify(job.input, null, 2)}</pre></div>
    <div><h4>Result</h4>${job.error ? html`<p class="error">${job.error}</p>` : null}<pre>${job.result ? JSON.stringify(job.result, null, 2) : '—'}</pre></div>
    <div>
      <h4>Events (attempt ${job.attempts} of ${job.maxAttempts})</h4>
      <ol class="events">${job.events.map((e) => html`<li><time>${formatTime(e.at)}</time> ${e.type}${e.payload ? html` <code>${JSON.stringify(e.payload)}</code>` : null}</li>`)}</ol>
    </div>
  </div>`;
}
